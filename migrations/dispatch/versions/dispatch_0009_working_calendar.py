"""a working calendar: the office's holidays and make-up working days

Revision ID: dispatch_0009
Revises: dispatch_0008
Create Date: 2026-12-06 05:36:55.891131

Deadlines of normal categories count working time: the settings' hours on the week's working
weekdays, less the holidays and plus the make-up working days an admin sets per year here.
Cases already dispatched keep the deadlines they have.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import shared.db


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0009'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['year'], ['calendar_years.year'], name=op.f('fk_calendar_days_year_calendar_years'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_days_year'), ['year'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_days_year'))

    op.drop_table('calendar_days')
    op.drop_table('calendar_years')
