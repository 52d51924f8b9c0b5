"""overdue only while a department handles the case: the overdue list's index follows

Revision ID: dispatch_0007
Revises: dispatch_0006
Create Date: 2026-12-06 04:20:00

A case resolved in time and waiting for the grid worker's check counted as overdue once its
deadline passed. The deadline is the department's handling time limit, so a case is overdue
only while dispatched or in progress; the partial index of the console's overdue list takes
the same predicate (PostgreSQL proves a query's ``status IN (…)`` implies it).
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


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_open_deadline_created_at_id')
        batch_op.create_index(
            'ix_cases_handling_deadline_created_at_id', COLUMNS, unique=False,
            postgresql_where=sa.text(HANDLING), sqlite_where=sa.text(HANDLING),
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_handling_deadline_created_at_id')
        batch_op.create_index(
            'ix_cases_open_deadline_created_at_id', COLUMNS, unique=False,
            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        )
