"""patrol_logs: the grid workers' daily logs (民情日志), one per author, cell and office day

Revision ID: grid_0007
Revises: grid_0006
Create Date: 2026-12-06 16:35:35.956989

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'grid_0007'
down_revision: Union[str, Sequence[str], None] = 'grid_0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('patrol_logs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('grid_cell', sa.String(length=15), nullable=False),
    sa.Column('patrol', sa.String(length=2000), nullable=False),
    sa.Column('concerns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('households_visited', sa.Integer(), nullable=False),
    sa.Column('report_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_cell'], ['regions.code'], name=op.f('fk_patrol_logs_grid_cell_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_logs')),
    sa.UniqueConstraint('author', 'day', 'grid_cell', name='uq_patrol_logs_author_day_cell')
    )
    op.create_index('ix_patrol_logs_day_id', 'patrol_logs', ['day', 'id'], unique=False)
    op.create_index(op.f('ix_patrol_logs_grid_cell'), 'patrol_logs', ['grid_cell'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_patrol_logs_grid_cell'), table_name='patrol_logs')
    op.drop_index('ix_patrol_logs_day_id', table_name='patrol_logs')
    op.drop_table('patrol_logs')
