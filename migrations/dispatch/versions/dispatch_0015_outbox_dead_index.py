"""outbox: a partial index of the dead messages

Revision ID: dispatch_0015
Revises: dispatch_0014
Create Date: 2026-12-06 11:40:00

The dead messages of the outbox to intake, by when they died: `wangge outbox` and `/metrics`
count and list them, and the relay's hourly purge deletes those past keeping, without reading
the week of sent messages the table keeps. It holds a few entries, but building it reads the
table and holds dispatch's writes to it meanwhile (the migrations run before the services
start); on a large outbox build it by hand first, and this migration finds it and skips it::

    CREATE INDEX CONCURRENTLY ix_outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0015'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DEAD = "dead_at IS NOT NULL"


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_outbox_dead ON outbox (dead_at) WHERE {DEAD}")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_outbox_dead', table_name='outbox')
