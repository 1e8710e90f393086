"""After a drill: is every acknowledged write still there, and was nothing done twice?

Read through the platform's own API with the drill operator's token (what any client
would find), and for "issued twice" straight from the store: no API lists certificates by
request id, and the question is about the records themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy import create_engine, text

from myna.drills.load import Seen


@dataclass
class Findings:
    checked: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)  # "issue <request id>: <why>", ...
    twice: list[str] = field(default_factory=list)

    @property
    def lost_count(self) -> int:
        return len(self.lost)


def check(seen: Seen, doors: list[str], operator_token: str, database_url: str, run_id: str) -> Findings:
    f = Findings()
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {operator_token}"}) as http:

        def get(path: str) -> httpx.Response | None:
            for url in doors:
                try:
                    r = http.get(url + path)
                except httpx.HTTPError:
                    continue
                if r.status_code < 500:
                    return r
            return None

        for request_id, serial in seen.issued.items():
            r = get(f"/api/v1/certificates/{serial}")
            if r is None or r.status_code != 200:
                f.lost.append(f"issue {request_id}: certificate {serial} {'unreachable' if r is None else r.status_code}")
            elif serial in seen.revoked and r.json().get("status") != "revoked":
                f.lost.append(f"revoke {serial}: acknowledged, but the record says {r.json().get('status')}")
        for event_id, code in seen.events.items():
            r = get(f"/api/v1/residents/{code}")
            if r is None or r.status_code != 200:
                f.lost.append(f"event {event_id}: resident {code} {'unreachable' if r is None else r.status_code}")
        for ref, application_id in seen.applications.items():
            r = get(f"/api/v1/card-applications/{application_id}")
            if r is None or r.status_code != 200:
                f.lost.append(f"application {ref}: {application_id} {'unreachable' if r is None else r.status_code}")
    f.checked = {
        "issuances": len(seen.issued),
        "revocations": len(seen.revoked),
        "events": len(seen.events),
        "applications": len(seen.applications),
    }
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            # One request id, one certificate (the table's unique key says so; this checks it);
            # and one certificate per drill resident, since each got exactly one request.
            dup_ids = c.execute(
                text("SELECT request_id FROM certificates WHERE request_id LIKE :p GROUP BY request_id HAVING count(*) > 1"),
                {"p": f"iss-{run_id}-%"},
            ).fetchall()
            dup_residents = c.execute(
                text(
                    "SELECT resident_code FROM certificates WHERE request_id LIKE :p AND kind = 'card-auth'"
                    " GROUP BY resident_code HAVING count(*) > 1"
                ),
                {"p": f"iss-{run_id}-%"},
            ).fetchall()
    finally:
        engine.dispose()
    # Request ids name no one; the residents are counted, not named (a report is read widely).
    f.twice = [f"request {r[0]}" for r in dup_ids] + (
        [f"{len(dup_residents)} drill residents hold two certificates"] if dup_residents else []
    )
    return f
