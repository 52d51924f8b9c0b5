"""the merge look-up's index on PostgreSQL: category, then the UTC day seen, then the box

Revision ID: dispatch_0005
Revises: dispatch_0004
Create Date: 2026-11-28 05:10:00

On a latitude band alone the look-up read every report of the category ever seen in that
band, so it grew with the years. Building the new index reads every case report; on a large
database build it by hand first, and this migration finds it and skips it::

    CREATE INDEX CONCURRENTLY ix_case_reports_nearby_day
        ON case_reports (category, (CAST(timezone('UTC', seen_at) AS DATE)), lat, lon, seen_at);

SQLite keeps its index.
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0005'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SEEN_DAY = "(CAST(timezone('UTC', seen_at) AS DATE))"
"""``services.dispatch.models.seen_day``, as the index holds it."""


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_case_reports_nearby_day "
        f"ON case_reports (category, {SEEN_DAY}, lat, lon, seen_at)"
    )
    # a CONCURRENTLY build that failed leaves an invalid index of that name, which the line
    # above skips: stop here rather than drop the old index and keep none that works
    valid = op.get_bind().exec_driver_sql(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_case_reports_nearby_day'::regclass"
    ).scalar()
    if not valid:
        raise RuntimeError(
            "ix_case_reports_nearby_day exists but is invalid (a failed CREATE INDEX CONCURRENTLY): "
            "drop it and build it again, then migrate"
        )
    op.drop_index('ix_case_reports_nearby', table_name='case_reports', if_exists=True)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index('ix_case_reports_nearby', 'case_reports', ['category', 'lat', 'lon', 'seen_at'], unique=False)
    op.drop_index('ix_case_reports_nearby_day', table_name='case_reports')
