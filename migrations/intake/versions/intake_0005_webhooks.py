"""integrations' webhooks, and their own outbox

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-06 03:40:00

A chat bot (an integration) may name a URL where intake tells it of its reports' updates,
signed as Standard Webhooks sign them. The deliveries wait in an outbox of their own, so an
endpoint that is slow or down delays nothing but its own deliveries.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

# revision identifiers, used by Alembic.
revision: str = 'intake_0005'
down_revision: Union[str, Sequence[str], None] = 'intake_0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PENDING = "sent_at IS NULL AND dead_at IS NULL"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('webhooks',
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_webhooks'))
    )
    op.create_table('webhook_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('available_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dead_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox')),
    postgresql_with={'fillfactor': 50},
    )
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.create_index(
            'ix_webhook_outbox_pending', ['id'], unique=False,
            postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING),
        )
        batch_op.create_index(batch_op.f('ix_webhook_outbox_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_owner_id'))
        batch_op.drop_index('ix_webhook_outbox_pending')
    op.drop_table('webhook_outbox')
    op.drop_table('webhooks')
