"""overdue only while a department handles the case: the overdue list's index follows

Revision ID: dispatch_0007
Revises: dispatch_0006
Create Date: 2026-12-06 04:20:00

A case resolved in time and waiting for the grid worker's check counted as overdue once its
deadline passed. The deadline is the department's handling time limit, so a case is overdue
only while dispatched or in progress; the partial index of the console's overdue list takes
the same predicate (PostgreSQL proves a query's ``status IN (…)`` implies it).

Building the new index reads every case; on a large database build it by hand first, and
this migration finds it and skips it::

    CREATE INDEX CONCURRENTLY ix_cases_handling_deadline_created_at_id
        ON cases (created_at, id, deadline_at)
        WHERE deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress');
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0007'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ['created_at', 'id', 'deadline_at']
OPEN = "deadline_at IS NOT NULL AND status NOT IN ('closed', 'rejected')"
HANDLING = "deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress')"
NEW = 'ix_cases_handling_deadline_created_at_id'


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(f"CREATE INDEX IF NOT EXISTS {NEW} ON cases ({', '.join(COLUMNS)}) WHERE {HANDLING}")
    if op.get_bind().dialect.name == "postgresql":
        # a CONCURRENTLY build that failed leaves an invalid index of that name, which the line
        # above skips: stop here rather than drop the old index and keep none that works
        valid = op.get_bind().exec_driver_sql(
            f"SELECT indisvalid FROM pg_index WHERE indexrelid = '{NEW}'::regclass"
        ).scalar()
        if not valid:
            raise RuntimeError(
                f"{NEW} exists but is invalid (a failed CREATE INDEX CONCURRENTLY): "
                "drop it and build it again, then migrate"
            )
    op.drop_index('ix_cases_open_deadline_created_at_id', table_name='cases', if_exists=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(NEW)
        batch_op.create_index(
            'ix_cases_open_deadline_created_at_id', COLUMNS, unique=False,
            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        )
