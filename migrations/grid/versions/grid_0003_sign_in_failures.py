"""sign_in_failures: failed password sign-ins per username, for the lock after too many

Revision ID: grid_0003
Revises: grid_0002
Create Date: 2026-12-06 09:23:29.701542

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'grid_0003'
down_revision: Union[str, Sequence[str], None] = 'grid_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_sign_in_failures'))
    )
    op.create_index(op.f('ix_sign_in_failures_last_failed_at'), 'sign_in_failures', ['last_failed_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_sign_in_failures_last_failed_at'), table_name='sign_in_failures')

    op.drop_table('sign_in_failures')
