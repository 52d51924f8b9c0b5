"""photos: which of them nothing names yet, the oldest first, for their deletion

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-07 09:00:00

A photo gets its row when it is uploaded; the report that names it deletes the row, and so
does intake when dispatch answers that a case's step names it. What still has a row after
WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS is deleted. The photos uploaded before this migration get
no row: what names them is not known here, and they are kept as they were.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'intake_0009'
down_revision: Union[str, Sequence[str], None] = 'intake_0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('unattached_photos',
    sa.Column('photo_id', sa.Uuid(), nullable=False),
    sa.Column('uploaded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_unattached_photos_photo_id_photos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('photo_id', name=op.f('pk_unattached_photos'))
    )
    op.create_index('ix_unattached_photos_uploaded_at', 'unattached_photos', ['uploaded_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_unattached_photos_uploaded_at', table_name='unattached_photos')
    op.drop_table('unattached_photos')
