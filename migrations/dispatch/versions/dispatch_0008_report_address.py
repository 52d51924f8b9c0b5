"""each report on a case keeps its address

Revision ID: dispatch_0008
Revises: dispatch_0007
Create Date: 2026-12-06 03:30:00

A case kept the address of the report that opened it only; the reports that joined it lost
theirs, which the console shows with each report. The report that opened each case gets the
case's address back (one UPDATE over the table); the others stored before stay without one.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'dispatch_0008'
down_revision: Union[str, Sequence[str], None] = 'dispatch_0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=500), nullable=True))
    op.execute(
        "UPDATE case_reports SET address = (SELECT cases.address FROM cases WHERE cases.id = case_reports.case_id)"
        " WHERE id IN (SELECT MIN(id) FROM case_reports GROUP BY case_id)"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('case_reports', schema=None) as batch_op:
        batch_op.drop_column('address')
