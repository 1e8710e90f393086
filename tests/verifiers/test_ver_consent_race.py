"""R-RA-3 for consent documents, under concurrency, against a live server: a consent
document's digest is its key, and the same document is applied once. Sent many times at
the same moment, it is applied by exactly one request; every other caller gets 409 (as a
later replay does), never a 500 and never a second change of consent. Several trials,
on SQLite and (with MYNA_TEST_DATABASE_URL) on PostgreSQL."""

from __future__ import annotations

from race_support import live_server, together
from sqlalchemy import func, select
from ver_support import b64, make_holder

from myna.store import models as m
from myna.verifiers.consent import consent_document

TRIALS = 3
THREADS = 8


def test_r_ra_3_one_consent_document_sent_at_once_is_applied_once(platform, cards, enrol):
    holder = make_holder(platform, cards)
    enrol("SIG1", "signature")
    with live_server(platform) as url:
        for trial in range(TRIALS):
            action = "grant" if trial % 2 == 0 else "withdraw"
            doc = consent_document(action, "SIG1")
            body = {"document": b64(doc), "signature": b64(holder.sign(doc))}
            with platform.db.session() as s:
                before = s.scalar(select(func.count()).select_from(m.AuditEvent))
            got = together(url, [lambda c: c.post("/api/v1/consents", json=body) for _ in range(THREADS)])
            assert sorted(r.status_code for r in got) == [200] + [409] * (THREADS - 1), [r.text for r in got]
            [ok] = [r for r in got if r.status_code == 200]
            assert ok.json()["action"] == ("granted" if action == "grant" else "withdrawn")
            with platform.db.session() as s:
                assert s.scalar(select(func.count()).select_from(m.AuditEvent)) - before == 1
