"""超期自动督办: the deadline the system last urged each case's department for

Revision ID: dispatch_0016
Revises: dispatch_0015
Create Date: 2026-12-06 19:10:54

A nullable column, added without rewriting the table. No case has been urged automatically
yet: the first pass after the upgrade urges, once, every case already overdue.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0016'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        'cases', sa.Column('auto_urged_deadline_at', shared.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    """Downgrade schema."""
    # not in batch mode: SQLite's copy of the table would lose the expression index of 0004
    op.drop_column('cases', 'auto_urged_deadline_at')
