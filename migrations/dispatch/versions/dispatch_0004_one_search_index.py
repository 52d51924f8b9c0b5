"""the console's text search: one trigram index over the address and the description together

Revision ID: dispatch_0004
Revises: dispatch_0003
Create Date: 2026-11-27 22:10:00

Building the new index reads every case; on a large database build it by hand with
``CREATE INDEX CONCURRENTLY`` first (this migration then finds it and skips it).
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0004'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SEARCH_TEXT = "(coalesce(address, '') || ' ' || description)"
"""``services.dispatch.models.search_text``, as the index holds it."""


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_cases_search_trgm ON cases USING gin ({SEARCH_TEXT} gin_trgm_ops)")
    else:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_cases_search_trgm ON cases ({SEARCH_TEXT})")
    op.drop_index('ix_cases_description_trgm', table_name='cases')
    op.drop_index('ix_cases_address_trgm', table_name='cases')


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index(
        'ix_cases_address_trgm', 'cases', ['address'], unique=False,
        postgresql_using='gin', postgresql_ops={'address': 'gin_trgm_ops'},
    )
    op.create_index(
        'ix_cases_description_trgm', 'cases', ['description'], unique=False,
        postgresql_using='gin', postgresql_ops={'description': 'gin_trgm_ops'},
    )
    op.drop_index('ix_cases_search_trgm', table_name='cases')
