"""photos: an index of each uploader's photos by time, for the daily limit

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-06 08:58:33.561559

An upload counts the uploader's photos of the last 24 hours (WANGGE_INTAKE_PHOTO_DAILY_LIMIT);
the index keeps that count to the uploader's own recent entries.

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'intake_0008'
down_revision: Union[str, Sequence[str], None] = 'intake_0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_photos_uploader_id_created_at', 'photos', ['uploader_id', 'created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_photos_uploader_id_created_at', table_name='photos')
