"""certificates: request ids unique per requester (R-RA-3)

A municipality's request id must never find, collide with or reveal another
municipality's: the idempotency key becomes (requester, request_id).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# 0001 left the old unique constraint unnamed: PostgreSQL named it itself, SQLite not at
# all; batch mode on SQLite finds it through this convention.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    return "certificates_request_id_key" if op.get_bind().dialect.name == "postgresql" else "uq_certificates_request_id"


def upgrade() -> None:
    with op.batch_alter_table("certificates", schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.add_column(sa.Column("requester", sa.String(length=16), nullable=False, server_default="jlis"))
        batch_op.drop_constraint(_old_unique(), type_="unique")
        batch_op.create_unique_constraint("uq_certificates_requester_request_id", ["requester", "request_id"])
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("requester", server_default=None)
    # Certificates a municipality's token asked for belong to that municipality's ids (a
    # retry after the upgrade still finds them); the rest were J-LIS's own. A municipality
    # token always issued under its own code, and the audit event names the token.
    op.execute(
        "UPDATE certificates SET requester = municipality_code WHERE municipality_code IS NOT NULL AND serial IN "
        "(SELECT subject FROM audit_events WHERE action = 'certificate.issued' AND actor LIKE 'municipality@%')"
    )


def downgrade() -> None:
    # Refused if two requesters used the same id since the upgrade (the old schema cannot hold that).
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_certificates_requester_request_id", type_="unique")
        batch_op.create_unique_constraint("uq_certificates_request_id", ["request_id"])
        batch_op.drop_column("requester")
