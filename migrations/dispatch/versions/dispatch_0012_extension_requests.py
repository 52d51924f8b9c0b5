"""a request for more time waits for the office's answer on its case

Revision ID: dispatch_0012
Revises: dispatch_0011
Create Date: 2026-12-06 06:40:00

The hours a department asked for, while the office has not granted or refused them: a
nullable column, added without rewriting the table.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0012'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('cases', sa.Column('extension_requested_hours', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # not in batch mode: SQLite's copy of the table would lose the expression index of 0004
    op.drop_column('cases', 'extension_requested_hours')
