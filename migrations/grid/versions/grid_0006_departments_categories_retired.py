"""departments and categories: retired_at, retired_by (an admin retired them)

Revision ID: grid_0006
Revises: grid_0005
Create Date: 2026-12-06 14:40:12.531907

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'grid_0006'
down_revision: Union[str, Sequence[str], None] = 'grid_0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('categories', sa.Column('retired_at', shared.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('categories', sa.Column('retired_by', sa.String(length=64), nullable=True))
    op.add_column('departments', sa.Column('retired_at', shared.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('departments', sa.Column('retired_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('departments', 'retired_by')
    op.drop_column('departments', 'retired_at')
    op.drop_column('categories', 'retired_by')
    op.drop_column('categories', 'retired_at')
