"""urging (督办): how many times the office urged a case's department, and the urged list's index

Revision ID: dispatch_0010
Revises: dispatch_0009
Create Date: 2026-12-06 05:54:09

A column with a constant default: PostgreSQL adds it without rewriting the table. The partial
index holds only urged cases (none yet), though building it reads every case once.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0010'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

URGED = sa.text('urge_count > 0')


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('cases', sa.Column('urge_count', sa.Integer(), server_default='0', nullable=False))
    op.create_index(
        'ix_cases_urged_created_at_id', 'cases', ['created_at', 'id'], unique=False,
        postgresql_where=URGED, sqlite_where=URGED,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_cases_urged_created_at_id', table_name='cases')
    # not in batch mode: SQLite's copy of the table would lose the expression index of 0004
    op.drop_column('cases', 'urge_count')
