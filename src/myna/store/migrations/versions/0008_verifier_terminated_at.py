"""verifiers: the time of termination (the annual report counts verifiers registered at the year end)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verifiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True))
    # A terminated verifier's row never changes after termination (set_status and
    # record_agreement refuse it), so its updated_at is the moment of termination.
    op.execute("UPDATE verifiers SET terminated_at = updated_at WHERE status = 'terminated'")


def downgrade() -> None:
    with op.batch_alter_table("verifiers", schema=None) as batch_op:
        batch_op.drop_column("terminated_at")
