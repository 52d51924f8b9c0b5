"""urging (督办): how many times the office urged a case's department, and the urged list's index

Revision ID: dispatch_0010
Revises: dispatch_0009
Create Date: 2026-12-06 05:54:09

A column with a constant default: PostgreSQL adds it without rewriting the table. The partial
index holds only urged cases (none yet), though building it reads every case once; on a large
database add the column and build the index by hand first, and this migration finds both::

    ALTER TABLE cases ADD COLUMN urge_count INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX CONCURRENTLY ix_cases_urged_created_at_id ON cases (created_at, id)
        WHERE urge_count > 0;
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0010'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

URGED = 'urge_count > 0'


def upgrade() -> None:
    """Upgrade schema."""
    if 'urge_count' not in {c['name'] for c in sa.inspect(op.get_bind()).get_columns('cases')}:
        op.add_column('cases', sa.Column('urge_count', sa.Integer(), server_default='0', nullable=False))
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_cases_urged_created_at_id ON cases (created_at, id) WHERE {URGED}")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_cases_urged_created_at_id', table_name='cases')
    # not in batch mode: SQLite's copy of the table would lose the expression index of 0004
    op.drop_column('cases', 'urge_count')
