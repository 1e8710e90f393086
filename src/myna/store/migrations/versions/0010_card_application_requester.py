"""card applications: source_ref unique per requester (R-RA-3), no longer across the country

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The unnamed UNIQUE (source_ref) of 0005: PostgreSQL named it itself; on SQLite the
# batch copy reflects it without a name, so a naming convention names it for the drop.
_PG_OLD = "card_applications_source_ref_key"
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table("card_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester", sa.String(length=32), nullable=False, server_default="jlis"))
    bind = op.get_bind()
    # Who sent each earlier application: a QR application's scope is its form; one taken
    # online or at the counter was sent by the municipality its audit event names
    # (actor "municipality@<code>:<label>"); the rest (paper, operators, the command line) by J-LIS.
    op.execute("UPDATE card_applications SET requester = 'form:' || notice_id WHERE channel = 'qr' AND notice_id IS NOT NULL")
    apps = sa.table("card_applications", sa.column("application_id"), sa.column("channel"), sa.column("source_ref"), sa.column("requester"))
    audit = sa.table("audit_events", sa.column("actor"), sa.column("action"), sa.column("subject"))
    sent = {
        r.subject: r.actor
        for r in bind.execute(
            sa.select(audit.c.subject, audit.c.actor).where(audit.c.action == "application.received", audit.c.actor.like("municipality@%"))
        )
    }
    rows = bind.execute(sa.select(apps.c.application_id).where(apps.c.channel.in_(["online", "counter"]))).scalars().all()
    updates = [{"a": a, "r": "municipality:" + sent[a].split("@", 1)[1].split(":", 1)[0]} for a in rows if a in sent]
    if updates:
        bind.execute(apps.update().where(apps.c.application_id == sa.bindparam("a")).values(requester=sa.bindparam("r")), updates)
    sqlite = bind.dialect.name == "sqlite"
    with op.batch_alter_table("card_applications", schema=None, naming_convention=_CONVENTION) as batch_op:
        batch_op.alter_column("requester", server_default=None)
        batch_op.drop_constraint("uq_card_applications_source_ref" if sqlite else _PG_OLD, type_="unique")
        batch_op.create_unique_constraint("uq_card_applications_requester_source_ref", ["requester", "source_ref"])


def downgrade() -> None:
    # Fails if two requesters used one source_ref: the old schema cannot hold that.
    with op.batch_alter_table("card_applications", schema=None) as batch_op:
        batch_op.drop_constraint("uq_card_applications_requester_source_ref", type_="unique")
        batch_op.create_unique_constraint(_PG_OLD, ["source_ref"])
        batch_op.drop_column("requester")
