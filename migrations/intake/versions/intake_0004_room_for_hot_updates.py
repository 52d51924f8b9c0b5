"""room on the page for HOT updates: outbox fillfactor 50, reports 70 (PostgreSQL)

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-05 23:20:00

A claim rewrites an outbox message, and every status from dispatch rewrites a report's view;
with room left on the page the new version stays there and no index gains an entry. Pages
already written keep their fill until they are rewritten. SQLite has no fillfactor.
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'intake_0004'
down_revision: Union[str, Sequence[str], None] = 'intake_0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FILLFACTOR = {"outbox": 50, "reports": 70}


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, fillfactor in FILLFACTOR.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FILLFACTOR:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
