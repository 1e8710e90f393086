"""Where a centre gets its status data: straight from the platform store (a centre run
inside ``myna serve``), or over HTTP from the platform's feed API (a centre at another
site, ``myna validity serve --source URL``)."""

from __future__ import annotations

import datetime as dt

import httpx

from myna.authority.crls import CrlService
from myna.authority.feed import read_feed
from myna.authority.platform import Platform
from myna.errors import NotFound
from myna.operations.service import Operations
from myna.store.replica import FeedEvent
from myna.verifiers.credentials import verifier_credentials


class TrafficRefused(Exception):
    """The platform refused a traffic report (4xx): sending it again would not help."""


class DbFeed:
    def __init__(self, platform: Platform, *, crls: CrlService, operations: Operations):
        self.platform = platform
        self.crls = crls
        self.operations = operations  # where a centre's traffic reports go

    def fetch(self, after: int, limit: int, also: list[int]) -> tuple[list[FeedEvent], int]:
        return read_feed(self.platform, after, limit, also)

    def credentials(self) -> dict[str, str]:
        return verifier_credentials(self.platform)

    def crl(self, slug: str, delta: bool) -> bytes | None:
        try:
            return self.crls.latest(slug, delta=delta).der
        except NotFound:
            return None

    def report_traffic(self, centre: str, minute: dt.datetime, ocsp: int, crl: int, errors: int) -> None:
        self.operations.report_traffic(centre, minute, ocsp, crl, errors)


class HttpFeed:
    """Pulls /api/v1/feed/* with a ``centre`` token. Raises httpx errors on failure: the
    caller keeps its old ``synced_at``, so its lag grows and the bound takes over."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0):
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def fetch(self, after: int, limit: int, also: list[int]) -> tuple[list[FeedEvent], int]:
        params = {"after": after, "limit": limit}
        if also:
            params["also"] = ",".join(str(a) for a in also[:1000])
        r = self.client.get("/api/v1/feed/status", params=params)
        r.raise_for_status()
        body = r.json()
        events = [
            FeedEvent(
                e["seq"],
                e["serial"],
                e["authority"],
                e["event"],
                dt.datetime.fromisoformat(e["at"]),
                dt.datetime.fromisoformat(e["not_after"]),
                e["reason"],
            )
            for e in body["events"]
        ]
        return events, body["head"]

    def credentials(self) -> dict[str, str]:
        r = self.client.get("/api/v1/feed/verifiers")
        r.raise_for_status()
        return r.json()

    def crl(self, slug: str, delta: bool) -> bytes | None:
        r = self.client.get(f"/crl/{slug}{'-delta' if delta else ''}.crl")
        return r.content if r.status_code == 200 else None

    def report_traffic(self, centre: str, minute: dt.datetime, ocsp: int, crl: int, errors: int) -> None:
        body = {"centre": centre, "minute": minute.isoformat(), "ocsp": ocsp, "crl": crl, "errors": errors}
        r = self.client.post("/api/v1/operations/traffic", json=body)
        if 400 <= r.status_code < 500:
            raise TrafficRefused(f"{r.status_code} {r.text[:200]}")
        r.raise_for_status()

    def close(self) -> None:
        self.client.close()
