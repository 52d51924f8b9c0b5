"""outboxes: a partial index of the dead messages

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-06 11:40:00

The dead messages of the outbox to dispatch and of the webhooks' outbox, by when they died:
`wangge outbox` and `/metrics` count and list them, and the relay's hourly purge deletes those
past keeping, without reading the week of sent messages each table keeps. It holds a few
entries, but building it reads the table and holds intake's writes to it meanwhile (the
migrations run before the services start); on a large outbox build them by hand first, and
this migration finds them and skips them::

    CREATE INDEX CONCURRENTLY ix_outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;
    CREATE INDEX CONCURRENTLY ix_webhook_outbox_dead ON webhook_outbox (dead_at) WHERE dead_at IS NOT NULL;
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'intake_0010'
down_revision: Union[str, Sequence[str], None] = 'intake_0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('outbox', 'webhook_outbox')
DEAD = "dead_at IS NOT NULL"


def upgrade() -> None:
    """Upgrade schema."""
    for table in TABLES:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_dead ON {table} (dead_at) WHERE {DEAD}")


def downgrade() -> None:
    """Downgrade schema."""
    for table in TABLES:
        op.drop_index(f'ix_{table}_dead', table_name=table)
