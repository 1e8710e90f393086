"""status columns: each holds one of its enum's values (CHECK constraints)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00

The values are written out here, not taken from the models: a migration stays what it
was when it ran, whatever the enums become later. On SQLite each table is rebuilt
(batch mode); store.db runs migrations with foreign keys off for that, and checks them
before it commits.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_CARD = ("manufacturing", "produced", "shipped", "active", "suspended", "lost", "returned", "abolished")
_REASON = ("request", "resident-change", "record-error", "key-compromise", "linked-card-revoked")
# table: [(constraint, column, allowed values)]
CHECKS = {
    "residents": [("ck_residents_status", "status", ("active", "moving-out", "moved-out", "deleted"))],
    "revocations": [("ck_revocations_reason", "reason", _REASON)],
    "status_feed": [("ck_status_feed_event", "event", ("issued", "revoked")), ("ck_status_feed_reason", "reason", _REASON)],
    "cards": [("ck_cards_status", "status", _CARD)],
    "card_applications": [
        (
            "ck_card_applications_status",
            "status",
            ("defective", "accepted", "in-production", "produced", "shipped", "handed-over", "cancelled"),
        ),
    ],
    "production_batches": [("ck_production_batches_status", "status", ("open", "complete"))],
    "card_status_changes": [
        ("ck_card_status_changes_from_status", "from_status", _CARD),
        ("ck_card_status_changes_to_status", "to_status", _CARD),
    ],
    "verifiers": [("ck_verifiers_status", "status", ("active", "suspended", "terminated"))],
    "mobile_applications": [("ck_mobile_applications_status", "status", ("accepted", "issued"))],
}


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, values in checks:
                batch_op.create_check_constraint(name, _condition(column, values))


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _column, _values in checks:
                batch_op.drop_constraint(name, type_="check")
