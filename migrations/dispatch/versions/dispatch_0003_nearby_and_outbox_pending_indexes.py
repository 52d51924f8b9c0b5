"""merge candidates by one (category, lat, lon, seen_at) index; outbox: a partial index of the messages still to send

Revision ID: dispatch_0003
Revises: dispatch_0002
Create Date: 2026-11-27 18:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0003'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PENDING = "sent_at IS NULL AND dead_at IS NULL"


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_case_reports_category_seen_at')
        batch_op.drop_index('ix_case_reports_category_lat_lon')
        batch_op.create_index('ix_case_reports_nearby', ['category', 'lat', 'lon', 'seen_at'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index(
            'ix_outbox_pending', ['id'], unique=False,
            postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING),
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending', postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
        batch_op.create_index('ix_outbox_pending', ['sent_at', 'dead_at', 'available_at'], unique=False)

    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_case_reports_nearby')
        batch_op.create_index('ix_case_reports_category_lat_lon', ['category', 'lat', 'lon'], unique=False)
        batch_op.create_index('ix_case_reports_category_seen_at', ['category', 'seen_at'], unique=False)
