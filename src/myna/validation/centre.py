"""One validity centre: its replica of certificate status, its responders, and the
answers it gives (OCSP, RFC 6960 / RFC 5019).

Hot path: a request without a nonce for a known serial is answered from a cache of
pre-signed responses: no signature at all. A nonce, a cold serial or a response past
half its life costs one EC P-256 signature (tens of microseconds), never an RSA one.

Freshness guarantee (the stated bound, ``max_lag``): ``synced_at`` is the time at which
the last *completed* sync started, and every revocation committed before that moment is
in the replica. A centre answers "good" only while ``now - synced_at <= max_lag``; past
that it answers tryLater (clients fail over to the other centre), except that it still
answers "revoked" for what it knows to be revoked. Hence: no certificate is answered
"good" by a centre more than ``max_lag`` after its revocation was recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp as x509_ocsp

from myna import logs
from myna.access.entitlements import ROLE_KINDS
from myna.clock import Clock, SystemClock
from myna.pki import serials
from myna.pki.ocsp import _HASHES as CERTID_HASHES  # what parse_request accepts; see _forget
from myna.pki.ocsp import MAX_REQUEST_BYTES, CertStatus, OcspQuery, OcspRefusal, Responder, parse_request, unsuccessful
from myna.pki.revocation import RevocationReason
from myna.store.feed_events import FeedEventKind
from myna.store.replica import FeedEvent, Replica
from myna.validation.provision import load_bundle
from myna.validation.traffic import TrafficCounter

log = logs.get("myna.validation")

# Which verifier roles may ask about which CAs (R-VER-1): signature verifiers get
# signature-certificate status, user-authentication verifiers user-auth status. Keyed by the
# role's string, as the feed delivers it; derived from the one table, myna.access.entitlements.
ENTITLED: dict[str, set[str]] = {role.value: {kind.value for kind in kinds} for role, kinds in ROLE_KINDS.items()}


class FeedSource(Protocol):
    def fetch(self, after: int, limit: int, also: list[int]) -> tuple[list[FeedEvent], int]: ...

    def credentials(self) -> dict[str, str]: ...

    def crl(self, slug: str, delta: bool) -> bytes | None: ...

    def report_traffic(self, centre: str, minute: dt.datetime, ocsp: int, crl: int, errors: int) -> None: ...


@dataclass
class CentreConfig:
    name: str
    max_lag_s: float = 5.0  # the stated bound
    response_validity_s: int = 4 * 3600  # nextUpdate - thisUpdate of a response
    open_access: bool = True  # False: only registered verifiers (R-VER-1)
    gap_timeout_s: float = 30.0  # a feed seq missing this long was rolled back
    # Pre-signed responses kept in memory (about 1.2 KB each: 250,000 hold about 300 MB;
    # one per serial for the usual SHA-1 CertID). Past the cap the oldest-cached tenth is dropped and re-signed on
    # demand: a size cap in insertion order rather than a true LRU, because moving an entry
    # on every hit would cost the hot path a dict delete and insert per request.
    cache_entries: int = 250_000


# A cache entry is a plain tuple (response DER, the time after which it is re-signed,
# revoked?), not a dataclass instance: tuples of atoms are untracked by CPython's cyclic
# GC, so a cache of hundreds of thousands of entries adds next to nothing to the
# full-collection pause (docs/benchmarks-ocsp.md, "Garbage-collector pauses").
_Entry = tuple[bytes, dt.datetime, bool]
_Key = tuple[int, str, str]  # (serial, responder's CA slug, CertID hash name)


@dataclass
class SyncStats:
    applied: int = 0
    revoked_visible: list[tuple[str, float]] = field(default_factory=list)  # (serial, seconds from record to visible)


REFUSED_MEMO = 1024  # requests of up to 8 KiB: at most 8 MiB held
MAX_SLUG = 64  # a CA slug in /ocsp/{ca} ("mobile-auth-g12"); anything longer names no CA

_UNAUTHORIZED = unsuccessful(x509_ocsp.OCSPResponseStatus.UNAUTHORIZED)
_TRY_LATER = unsuccessful(x509_ocsp.OCSPResponseStatus.TRY_LATER)


@functools.lru_cache(maxsize=256)  # called per request with the URL's slug; bounded, since the slug is client input
def _base_slug(slug: str) -> str:
    """The CA kind of a slug: "card-sign-g2" -> "card-sign"."""
    return re.sub(r"-g\d+$", "", slug)


class Centre:
    def __init__(self, config: CentreConfig, replica: Replica, responders: list[Responder], clock: Clock | None = None):
        self.config = config
        self.replica = replica
        self.responders = responders
        self.clock = clock or SystemClock()
        # (serial, CA slug, CertID hash) -> pre-signed response without nonce. One flat dict
        # of tuples: once the collector has seen them, keys, values and the dict itself
        # are all untracked, so a full collection does not walk the cache at all.
        self._cache: dict[_Key, _Entry] = {}
        # DER of a nonce-less request -> its cache key: a repeated request
        # is answered without parsing it (parsing is half of Centre.answer's time). The
        # entry is only a pointer into _cache, so _forget and eviction need not touch it;
        # it is bounded separately (distinct encodings of the same question).
        self._by_request: dict[bytes, _Key] = {}
        # DER of a request parse_request refused -> the answer: the same bytes sent again
        # (a client retrying, a flood of one request) are refused without parsing them,
        # as a good request's are answered (a refusal depends on the bytes alone).
        self._refused: dict[bytes, bytes] = {}
        self._half_life = dt.timedelta(seconds=config.response_validity_s / 2)
        self._lock = threading.Lock()
        self._credentials: dict[str, str] = {}
        self._gaps: dict[int, float] = {}
        self._crls: dict[tuple[str, bool], bytes] = {}
        self.synced_at: dt.datetime | None = None
        self.last_seq = replica.last_seq()
        # Counted by the HTTP fronts, reported by the sync loop. Minutes by this centre's
        # clock (the platform's, in tests a set one); the system clock read directly when
        # it is the system clock, as that is cheaper on the hot path.
        self.traffic = TrafficCounter(time.time if isinstance(self.clock, SystemClock) else lambda: self.clock.now().timestamp())

    @classmethod
    def from_bundle(cls, directory: Path, config: CentreConfig, replica_path: Path | None = None, clock: Clock | None = None) -> "Centre":
        name, files = load_bundle(directory)
        responders = [
            Responder(
                slug=f.slug,
                issuer=x509.load_pem_x509_certificate(f.issuer.read_bytes()),
                cert=x509.load_pem_x509_certificate(f.cert.read_bytes()),
                key=serialization.load_pem_private_key(f.key.read_bytes(), password=None),
            )
            for f in files
        ]
        return cls(config, Replica(replica_path or directory / "status.db"), responders, clock)

    # -- answering ---------------------------------------------------------------

    def _precise_now(self) -> dt.datetime:
        # The lag bound is in fractions of a second: not the whole-second time signed into responses.
        precise = getattr(self.clock, "precise_now", None)
        return precise() if precise is not None else self.clock.now()

    def lag(self, now: dt.datetime | None = None) -> float | None:
        synced_at = self.synced_at
        if synced_at is None:
            return None
        return ((now or self._precise_now()) - synced_at).total_seconds()

    def fresh(self, now: dt.datetime | None = None) -> bool:
        """Within the lag bound at ``now`` (a precise time; default: read the clock)."""
        lag = self.lag(now)
        return lag is not None and lag <= self.config.max_lag_s

    def authorised(self, token: str | None, slug: str) -> bool:
        if self.config.open_access or _base_slug(slug) == "root":
            return True
        if not token:
            return False
        role = self._credentials.get(hashlib.sha256(token.encode()).hexdigest())
        return role is not None and _base_slug(slug) in ENTITLED.get(role, set())

    def answer(self, der: bytes, token: str | None = None, slug_hint: str | None = None) -> bytes:
        """The DER OCSPResponse for a DER OCSPRequest. Never raises for bad input."""
        # One clock read per request: it decides freshness, the cache entry's age and,
        # in whole seconds, the thisUpdate of anything signed now.
        if slug_hint is not None and len(slug_hint) > MAX_SLUG:
            return _UNAUTHORIZED  # names no CA (and _base_slug's regex is not run on kilobytes)
        now = self._precise_now()
        seen = self._by_request.get(der)
        if seen is not None:
            entry = self._cache.get(seen)
            if entry is not None and now < entry[1]:
                slug = seen[1]
                if slug_hint is not None and _base_slug(slug_hint) != _base_slug(slug):
                    return _UNAUTHORIZED
                if not self.authorised(token, slug):
                    return _UNAUTHORIZED
                if entry[2] or self.fresh(now):
                    return entry[0]
                return _TRY_LATER
            # Evicted, forgotten (revoked since) or due for re-signing: the full path below.
        refused = self._refused.get(der)
        if refused is not None:
            return refused
        try:
            q = parse_request(der)
        except OcspRefusal as refusal:
            answer = unsuccessful(refusal.status)
            if len(der) <= MAX_REQUEST_BYTES:  # larger ones are refused by their size, at no cost
                if len(self._refused) >= REFUSED_MEMO:
                    self._refused.clear()  # rare; costs only re-parsing
                self._refused[der] = answer
            return answer
        responder = self._responder_for(q)
        if responder is None or (slug_hint is not None and _base_slug(slug_hint) != _base_slug(responder.slug)):
            return _UNAUTHORIZED  # not a CA we answer for here
        if not self.authorised(token, responder.slug):
            return _UNAUTHORIZED
        key = (q.serial, responder.slug, q.hash_name)
        if q.nonce is None:
            entry = self._cache.get(key)
            if entry is not None and now < entry[1]:
                self._note_request(der, key)
                if entry[2] or self.fresh(now):
                    return entry[0]
                return _TRY_LATER
        response = self._sign(responder, q, key, now)
        if q.nonce is None and key in self._cache:
            self._note_request(der, key)
        return response

    def _note_request(self, der: bytes, key: _Key) -> None:
        if len(self._by_request) >= 2 * self.config.cache_entries:
            # Bounded like the cache; clearing is rare and costs only re-parsing.
            self._by_request.clear()
        self._by_request[der] = key

    def _responder_for(self, q: OcspQuery) -> Responder | None:
        for r in self.responders:
            if r.answers_for(q):
                return r
        return None

    def _sign(self, responder: Responder, q: OcspQuery, key: _Key, now: dt.datetime) -> bytes:
        """Sign the answer at ``now`` (a precise time; responses carry whole seconds)."""
        with self._lock:  # a revocation applied meanwhile must not be overwritten by a stale "good"
            row = self.replica.lookup(serials.to_store(q.serial)) if 0 < q.serial < 2**160 else None
            if row is not None and row.authority != responder.slug:
                row = None
            if row is not None and row.revoked_at is not None:
                status = CertStatus.REVOKED
            elif not self.fresh(now):
                return _TRY_LATER
            else:
                status = CertStatus.GOOD if row is not None else CertStatus.UNKNOWN
            reason = RevocationReason(row.reason).x509_reason if status is CertStatus.REVOKED and row.reason else None
            this_update = now.replace(microsecond=0)  # certificates, CRLs and responses carry whole seconds
            next_update = this_update + dt.timedelta(seconds=self.config.response_validity_s)
            der = responder.respond(q, status, this_update, next_update, row.revoked_at if row else None, reason)
            if q.nonce is None and status is not CertStatus.UNKNOWN:
                self._remember(key, (der, this_update + self._half_life, status is CertStatus.REVOKED))
            return der

    def _remember(self, key: _Key, entry: _Entry) -> None:
        if key not in self._cache and len(self._cache) >= self.config.cache_entries:
            # Evict the oldest tenth (dicts keep insertion order); they are re-signed on demand.
            for old in list(itertools.islice(self._cache, max(1, self.config.cache_entries // 10))):
                del self._cache[old]
        self._cache[key] = entry

    def presign(self, serial_hex: str, slug: str) -> None:
        """Sign the usual (SHA-1 CertID, no nonce) response for a serial ahead of demand."""
        responder = next((r for r in self.responders if r.slug == slug), None)
        if responder is None:
            return
        name_hash, key_hash = responder.hashes("sha1")
        q = OcspQuery("sha1", name_hash, key_hash, int(serial_hex, 16), None)
        self._sign(responder, q, (q.serial, responder.slug, "sha1"), self._precise_now())

    # -- syncing -----------------------------------------------------------------

    def sync_once(self, source: FeedSource, limit: int = 5000) -> SyncStats:
        """Pull the feed to its head and apply it. Raises on any failure (synced_at stays)."""
        started = self._precise_now()
        stats = SyncStats()
        while True:
            also = sorted(self._gaps)
            events, head = source.fetch(self.last_seq, limit, also)
            new_last, gaps = self._track_gaps(events)
            with self._lock:
                self.replica.apply(events, new_last)
                # Only once the replica holds the events does the centre move on: a failed
                # apply leaves the position and the awaited gaps as they were.
                self.last_seq, self._gaps = new_last, gaps
                for e in events:
                    if e.event == FeedEventKind.REVOKED:
                        self._forget(e.serial)
                        stats.revoked_visible.append((e.serial, (self._precise_now() - e.at).total_seconds()))
            # The revoked answer is ready before anyone asks: no signature when they do.
            for e in events:
                if e.event == FeedEventKind.REVOKED:
                    self.presign(e.serial, e.authority)
            stats.applied += len(events)
            if len(events) < limit or new_last >= head:
                break
        self._credentials = source.credentials()
        self.synced_at = started
        return stats

    def _forget(self, serial_hex: str) -> None:
        """Drop every cached answer about a serial (any CA, any CertID hash: the hash names
        come from myna.pki.ocsp, so one added there cannot keep a stale "good" here)."""
        serial = int(serial_hex, 16)
        for r in self.responders:
            for hash_name in CERTID_HASHES:
                self._cache.pop((serial, r.slug, hash_name), None)

    def _track_gaps(self, events: list[FeedEvent]) -> tuple[int, dict[int, float]]:
        """The new feed position and the seqs still awaited, without changing either."""
        now = time.monotonic()
        last = self.last_seq
        gaps = dict(self._gaps)
        for e in sorted(events, key=lambda e: e.seq):
            gaps.pop(e.seq, None)
            if e.seq > last:
                for missing in range(last + 1, e.seq):
                    gaps.setdefault(missing, now)
                last = e.seq
        # A seq missing longer than the timeout was rolled back: it will never commit.
        return last, {seq: first for seq, first in gaps.items() if now - first <= self.config.gap_timeout_s}

    def refresh_crls(self, source: FeedSource) -> None:
        for r in self.responders:
            for delta in (False, True):
                data = source.crl(r.slug, delta)
                if data is not None:
                    self._crls[(r.slug, delta)] = data

    def crl(self, slug: str, delta: bool) -> bytes | None:
        return self._crls.get((slug, delta))
