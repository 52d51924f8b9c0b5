"""photos: the pictures reporters and handlers upload, kept as re-encoded JPEGs

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-06 07:27:21.269284

A photo and its thumbnail are kept in the database, beside the reports that name them: one
thing to back up, nothing shared between intake's processes but the database.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'intake_0007'
down_revision: Union[str, Sequence[str], None] = 'intake_0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('photos',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('uploader_id', sa.String(length=64), nullable=False),
    sa.Column('upload_sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos')),
    sa.UniqueConstraint('uploader_id', 'upload_sha256', name=op.f('uq_photos_uploader_id'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('photos')
