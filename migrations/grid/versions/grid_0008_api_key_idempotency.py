"""api keys: the Idempotency-Key each was created with, one key per admin and Idempotency-Key

Revision ID: grid_0008
Revises: grid_0007
Create Date: 2026-12-06 17:41:06

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'grid_0008'
down_revision: Union[str, Sequence[str], None] = 'grid_0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('api_keys', sa.Column('idempotency_key', sa.String(length=128), nullable=True))
    op.create_index(
        'uq_api_keys_created_by_idempotency_key', 'api_keys', ['created_by', 'idempotency_key'], unique=True
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('uq_api_keys_created_by_idempotency_key', table_name='api_keys')
    op.drop_column('api_keys', 'idempotency_key')
