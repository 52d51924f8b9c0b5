"""the intake photos the timeline names, which intake keeps

Revision ID: dispatch_0014
Revises: dispatch_0013
Create Date: 2026-12-07 09:00:00

intake deletes the photos nothing named within its retention period, and asks dispatch first
which of them a case's timeline names. The photos the events already name are noted here: the
migration reads every event that carries photos, a thousand at a time (the photos column
only), once.
"""
import re
import uuid
from typing import Sequence, Union
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0014'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# shared.photos.photo_id, as it was
PHOTO_PATH = re.compile(
    r'/v1/photos/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:/thumbnail)?/?$'
)
CHUNK = 1000


def photo_id(url: str) -> uuid.UUID | None:
    try:
        found = PHOTO_PATH.search(urlsplit(url).path)
    except ValueError:
        return None
    return uuid.UUID(found.group(1)) if found else None


def upgrade() -> None:
    """Upgrade schema."""
    named_photos = op.create_table('named_photos',
    sa.Column('photo_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('photo_id', name=op.f('pk_named_photos'))
    )
    events = sa.table('case_events', sa.column('id', sa.BigInteger()), sa.column('photos', shared.db.JSONType))
    bind = op.get_bind()
    insert = shared.db.insert_of(bind.dialect.name)
    after = 0
    while True:
        rows = bind.execute(
            sa.select(events.c.id, events.c.photos)
            .where(events.c.id > after, sa.cast(events.c.photos, sa.Text) != '[]')
            .order_by(events.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1].id
        ids = {found for row in rows for url in row.photos or [] if (found := photo_id(url)) is not None}
        if ids:
            bind.execute(
                insert(named_photos).values([{'photo_id': i} for i in sorted(ids)]).on_conflict_do_nothing()
            )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('named_photos')
