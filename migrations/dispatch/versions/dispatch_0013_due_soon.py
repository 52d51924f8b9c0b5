"""预警: when each case falls due soon, 80 % of its time limit gone

Revision ID: dispatch_0013
Revises: dispatch_0012
Create Date: 2026-12-06 07:50:00

A nullable column, added without rewriting the table. The cases being handled at the upgrade
get theirs at 80 % of the time from their dispatch to their deadline on the clock (those
dispatched from now on count it on the working calendar, as their deadline): a few hundred
rows in an office, read and written through the partial index of the cases being handled.
"""
from datetime import UTC
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0013'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SHARE = 0.8  # services.dispatch.cases.lifecycle.DUE_SOON_SHARE, as it was


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('cases', sa.Column('warn_at', shared.db.UTCDateTime(timezone=True), nullable=True))
    cases = sa.table(
        'cases',
        sa.column('id', sa.BigInteger()),
        sa.column('status', sa.String()),
        sa.column('dispatched_at', shared.db.UTCDateTime(timezone=True)),
        sa.column('deadline_at', shared.db.UTCDateTime(timezone=True)),
        sa.column('warn_at', shared.db.UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    handled = bind.execute(
        sa.select(cases.c.id, cases.c.dispatched_at, cases.c.deadline_at).where(
            cases.c.deadline_at.is_not(None),
            cases.c.status.in_(['dispatched', 'in_progress']),
            cases.c.dispatched_at.is_not(None),
        )
    ).all()
    rows = [
        {'case_id': row.id, 'warn_at': (row.dispatched_at + (row.deadline_at - row.dispatched_at) * SHARE).astimezone(UTC)}
        for row in handled
        if row.deadline_at > row.dispatched_at
    ]
    if rows:
        bind.execute(
            cases.update().where(cases.c.id == sa.bindparam('case_id')).values(warn_at=sa.bindparam('warn_at')),
            rows,
        )


def downgrade() -> None:
    """Downgrade schema."""
    # not in batch mode: SQLite's copy of the table would lose the expression index of 0004
    op.drop_column('cases', 'warn_at')
