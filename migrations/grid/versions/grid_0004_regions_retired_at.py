"""regions.retired_at: regions a re-division retired

Revision ID: grid_0004
Revises: grid_0003
Create Date: 2026-12-06 11:21:38.166716

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'grid_0004'
down_revision: Union[str, Sequence[str], None] = 'grid_0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('regions', sa.Column('retired_at', shared.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('regions', 'retired_at')
