"""a rotated webhook secret still signs for a day: the secret before the last rotation

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-06 06:01:51.670351

After a rotation each delivery carries a second signature with the secret it replaced, for 24
hours, so a bot still checking with the old one takes them while it moves to the new.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'intake_0006'
down_revision: Union[str, Sequence[str], None] = 'intake_0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', shared.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_until')
        batch_op.drop_column('previous_secret')

