"""the console's due list: the cases being handled, the soonest deadline first

Revision ID: dispatch_0011
Revises: dispatch_0010
Create Date: 2026-12-06 06:10:00

A partial index of the cases in a department's hands, in deadline order: `GET /v1/cases?sort=due`
walks it from the soonest deadline. It holds only the open work, but building it reads every
case; on a large database build it by hand first, and this migration finds it and skips it::

    CREATE INDEX CONCURRENTLY ix_cases_handling_deadline_at_id ON cases (deadline_at, id)
        WHERE deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress');
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0011'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NAME = 'ix_cases_handling_deadline_at_id'
HANDLING = "deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress')"


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON cases (deadline_at, id) WHERE {HANDLING}")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(NAME, table_name='cases')
