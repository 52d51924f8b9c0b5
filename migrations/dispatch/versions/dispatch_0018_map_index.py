"""the console's map: the open cases by their point

Revision ID: dispatch_0018
Revises: dispatch_0017
Create Date: 2026-12-06 19:28:57

A partial index of the cases not closed nor rejected, by latitude then longitude: `GET
/v1/cases/map` reads the open cases of the map's view through it, not every open case. It
holds only the open cases, but building it reads every case; on a large database build it by
hand first, and this migration finds it and skips it::

    CREATE INDEX CONCURRENTLY ix_cases_open_lat_lon ON cases (lat, lon)
        WHERE status IN ('triage', 'dispatched', 'in_progress', 'resolved');
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0018'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NAME = 'ix_cases_open_lat_lon'
OPEN = "status IN ('triage', 'dispatched', 'in_progress', 'resolved')"


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON cases (lat, lon) WHERE {OPEN}")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(NAME, table_name='cases')
