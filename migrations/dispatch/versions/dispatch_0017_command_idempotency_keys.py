"""Idempotency-Key on the case commands that only append (a note, an urging, a request for
more time): the key and the request's hash on the event the command wrote

Revision ID: dispatch_0017
Revises: dispatch_0016
Create Date: 2026-12-06 19:23:46

Two nullable columns, added without rewriting the table, and a unique index over the events
that have a key: none before this revision, so the index is built empty of entries (it still
reads the table once).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0017'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEYED = sa.text('idempotency_key IS NOT NULL')


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('case_events', sa.Column('idempotency_key', sa.String(length=128), nullable=True))
    op.add_column('case_events', sa.Column('request_hash', sa.String(length=64), nullable=True))
    op.create_index(
        'ux_case_events_idempotency_key',
        'case_events',
        ['case_id', 'actor_id', 'idempotency_key'],
        unique=True,
        postgresql_where=KEYED,
        sqlite_where=KEYED,
    )


def downgrade() -> None:
    """Downgrade schema."""
    # not in batch mode: SQLite's copy of the table would lose what batch mode does not carry
    op.drop_index('ux_case_events_idempotency_key', table_name='case_events')
    op.drop_column('case_events', 'request_hash')
    op.drop_column('case_events', 'idempotency_key')
