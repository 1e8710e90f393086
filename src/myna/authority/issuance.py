"""Issuance of holder certificates (R-CERT-1..4).

The pipeline per request: check the request (key, dates, eligibility), reserve a serial
in its own committed transaction, sign, then record the certificate (the issuance
record) and an audit event in one transaction. Because the serial is reserved before
signing, a process killed at any point never reuses a serial, and a certificate never
exists in the store without its issuance record. Retrying a request with the same
``request_id`` returns the certificate already issued (idempotent).

Registration-side rules (SPEC §4a), enforced here so that every path that issues (the
API, ``myna cert issue``, ``issue-batch``, card production, renewal, smartphone
certificates) gets them:

* R-CERT-4: only for a resident on J-LIS's register (``ResidentRecord``). A resident code
  the register does not know is refused as not found.
* R-RA-1: what a certificate says about its holder is the register's, never the
  request's. The policy: a request may omit the basic 4 information (and the date of
  birth), and the record's values are used; a request that states a value is compared
  field by field with the record and refused (:class:`DiffersFromRegister`, naming the
  fields but never their values) when one differs. The certificate is always written from
  the record, and the validity period (R-CERT-2) follows the record's date of birth.
* R-RA-2: a municipality (``acting_for``) issues only for its own residents. A resident
  registered elsewhere gets the same answer, word for word, as an unknown resident code,
  so nothing is learnt about other municipalities' residents. J-LIS (``acting_for=None``:
  operators, the CLI, card production, smartphone certificates) issues for any resident
  on the register, still from the record.
* R-RA-3: request ids are scoped per requester (``certificates.requester``: the
  municipality code, or ``jlis``), so one municipality's id never finds, collides with or
  reveals another's. A repeated id returns the original certificate only if the request's
  digest is the same, also when the two arrive together (the recording transaction's
  unique-key conflict compares digests too); otherwise :class:`IdempotencyMismatch`.

The record is read when the request is checked and its version read again in the
transaction that records the certificate: if the record changed in between (a name
change, a move-out), the batch is refused and nothing is recorded, so a certificate is
never recorded with data the register no longer holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from myna.access.roles import Principal, Role, in_own_name
from myna.authority.platform import LoadedAuthority, Platform
from myna.errors import Conflict, Forbidden, IdempotencyMismatch, InvalidInput, NotEligible, NotFound
from myna.numbering.codes import check_municipality_code, check_resident_code
from myna.pki import holder_tbs, profiles, serials, validity
from myna.pki.basic4 import Basic4, Sex
from myna.pki.holder_keys import key_fingerprint, parse_public_key, spki_der
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.signer import PARALLEL_FROM, SigningJob, resolve_processes, submit_tbs
from myna.store import models as m
from myna.store.feed_events import FeedEventKind
from myna.store.journal import audit_many, status_events

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+-]{1,200}$")
# The request digest's encoders, made once (json.dumps with options makes one per call).
# Their output must never change: stored digests tell a retry from a different request.
_BASIC4_JSON = json.JSONEncoder(default=str, sort_keys=True, ensure_ascii=False)
_DIGEST_JSON = json.JSONEncoder(sort_keys=True)

JLIS = "jlis"  # the requester scope of J-LIS itself (operators, the CLI, card production, mobile)
ON_REGISTER = frozenset({"active", "moving-out"})  # residents.events.Status values still on the register


class DiffersFromRegister(Conflict):
    """R-RA-1: the request states basic 4 information (or a date of birth) that is not the
    register's. The message names the fields, never their values (no personal data in
    answers that may be logged)."""

    code = "differs-from-register"


class RegisterChanged(Conflict):
    """The resident's record changed while the certificate was being issued; a retry
    issues from the new record."""

    code = "register-changed"


def not_on_register(resident_code: str, acting_for: str | None) -> NotFound:
    """The one answer for a resident the requester may not issue for: unknown, or (for a
    municipality) registered elsewhere. Identical in both cases (R-RA-2)."""
    if acting_for is None:
        return NotFound(f"no resident {resident_code} on the resident register (R-CERT-4)")
    return NotFound(f"no resident {resident_code} in municipality {acting_for}")


@dataclass(frozen=True)
class IssuanceRequest:
    """What a municipality (card kinds) or J-LIS itself (mobile kinds) asks to certify."""

    request_id: str  # client-chosen idempotency key
    kind: CertKind
    public_key: bytes | str  # SubjectPublicKeyInfo, PEM or DER
    resident_code: str
    date_of_birth: dt.date | None = None  # optional: the register's is used (R-RA-1); if given, it must match
    basic4: Basic4 | None = None  # signature kinds: optional, the register's is used, if given it must match; forbidden for user-auth
    municipality_code: str | None = None  # the resident's municipality; if given, it must be the register's
    allow_minor_signature: bool = False  # R-CERT-2: "by default" none under 15

    def digest(self) -> str:
        """Fingerprint of the request's content, to tell a retry from a different request."""
        key = self.public_key.encode() if isinstance(self.public_key, str) else self.public_key
        body = {
            "kind": self.kind.value,
            "key": hashlib.sha256(key.strip()).hexdigest(),
            "resident_code": self.resident_code,
            "dob": None if self.date_of_birth is None else self.date_of_birth.isoformat(),
            "basic4": None if self.basic4 is None else _BASIC4_JSON.encode(self.basic4.__dict__),
            "municipality": self.municipality_code,
            "minor": self.allow_minor_signature,
        }
        return hashlib.sha256(_DIGEST_JSON.encode(body).encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    serial: int
    kind: CertKind
    certificate: x509.Certificate
    created: bool  # False when an earlier identical request is returned

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class _Checked:
    request: IssuanceRequest
    digest: str
    key: object
    spki: bytes  # the key's SubjectPublicKeyInfo DER, as certified
    fingerprint: str


def check_request(req: IssuanceRequest, now: dt.datetime) -> _Checked:
    """All checks that need no database. Raises a specific MynaError on bad input."""
    if not isinstance(req.request_id, str) or not _REQUEST_ID.match(req.request_id):
        raise InvalidInput("request_id must be 1-200 characters of letters, digits and ._:@/+-")
    if req.request_id.startswith("ceremony:"):
        raise InvalidInput("request_id prefix 'ceremony:' is reserved")
    if not isinstance(req.kind, CertKind):
        raise InvalidInput(f"unknown certificate kind {req.kind!r}")
    check_resident_code(req.resident_code)
    if req.municipality_code is not None:
        check_municipality_code(req.municipality_code)
    if req.kind.is_signature:
        if req.basic4 is not None and req.date_of_birth is not None and req.basic4.date_of_birth != req.date_of_birth:
            raise InvalidInput("date_of_birth differs from the basic 4 information")
    elif req.basic4 is not None:
        raise InvalidInput(f"a {req.kind.value} certificate carries no personal data: omit basic4 (R-CERT-1)")
    if req.date_of_birth is not None:
        _check_age(req, req.date_of_birth, now)
    key = parse_public_key(req.public_key)
    spki = spki_der(key)
    return _Checked(req, req.digest(), key, spki, key_fingerprint(key, spki))


def _check_age(req: IssuanceRequest, dob: dt.date, now: dt.datetime) -> None:
    validity.check_birth(dob, now)
    if req.kind.is_signature and not req.allow_minor_signature and not validity.may_hold_signature_certificate(dob, now):
        raise NotEligible(f"no signature certificate for a holder under {validity.SIGNATURE_MIN_AGE} (R-CERT-2)")


def record_basic4(rec: m.ResidentRecord) -> Basic4:
    """The basic 4 information of J-LIS's record (機構保存本人確認情報)."""
    return Basic4(rec.name, rec.date_of_birth, Sex(rec.sex), rec.address, rec.name_alt, rec.address_alt)


def _differing(req: IssuanceRequest, b4: Basic4) -> list[str]:
    """The fields the request states differently from the record (names only)."""
    wrong = []
    if req.date_of_birth is not None and req.date_of_birth != b4.date_of_birth:
        wrong.append("date_of_birth")
    got = req.basic4
    if got is not None:
        pairs = [
            ("name", got.name, b4.name),
            ("date_of_birth", got.date_of_birth, b4.date_of_birth),
            ("sex", got.sex, b4.sex),
            ("address", got.address, b4.address),
            # The substitute-character forms default to the plain ones, in the request as in the record.
            ("name_alt", got.name_alt, b4.name_alt or b4.name),
            ("address_alt", got.address_alt, b4.address_alt or b4.address),
        ]
        for field, stated, recorded in pairs:
            if stated is None:  # an optional field left out: the record's is used
                continue
            if stated != recorded and f"basic4.{field}" not in wrong:
                wrong.append(f"basic4.{field}")
    return wrong


ISSUERS = (Role.OPERATOR, Role.MUNICIPALITY)  # who may ask for a holder certificate


NOT_BY_A_MUNICIPALITY = "mobile certificates are issued by J-LIS directly to the applicant (R-CERT-5), not by a municipality"


def for_municipality(req: IssuanceRequest, municipality_code: str) -> IssuanceRequest:
    """A municipality's request as it is issued: no smartphone certificate (R-CERT-5), and
    in the municipality's own name. Checked before the request itself, so a municipality
    asking for what it may never have is told so first."""
    if req.kind.is_mobile:
        raise Forbidden(NOT_BY_A_MUNICIPALITY)
    return dataclasses.replace(req, municipality_code=in_own_name(municipality_code, req.municipality_code))


def check_against_register(c: _Checked, rec: m.ResidentRecord | None, acting_for: str | None, now: dt.datetime) -> _Checked:
    """R-CERT-4, R-RA-1, R-RA-2 for one checked request and the resident's record (read by
    the caller, in its transaction). Returns the request as it will be certified: basic 4
    information, date of birth and municipality from the record. Raises the error to answer."""
    req = c.request
    if acting_for is not None and req.kind.is_mobile:
        raise Forbidden(NOT_BY_A_MUNICIPALITY)
    if rec is None or (acting_for is not None and rec.municipality_code != acting_for):
        raise not_on_register(req.resident_code, acting_for)
    if req.municipality_code is not None and req.municipality_code != rec.municipality_code:
        # The stated municipality is not the resident's: for a municipality this is the
        # answer for a resident registered elsewhere (R-RA-2); for J-LIS the same words.
        raise not_on_register(req.resident_code, acting_for if acting_for is not None else req.municipality_code)
    if rec.status not in ON_REGISTER:
        raise NotEligible(f"resident {req.resident_code} is not on the resident register (R-CERT-4)")
    b4 = record_basic4(rec)
    wrong = _differing(req, b4)
    if wrong:
        raise DiffersFromRegister(
            f"the request differs from the resident register in {', '.join(wrong)}: a certificate carries J-LIS's record (R-RA-1)",
            fields=wrong,
        )
    _check_age(req, b4.date_of_birth, now)
    certified = dataclasses.replace(
        req,
        date_of_birth=b4.date_of_birth,
        basic4=b4 if req.kind.is_signature else None,
        # A card certificate belongs to the resident's home municipality, which sees and
        # revokes it; a smartphone certificate is J-LIS's own (R-CERT-5) unless named.
        municipality_code=rec.municipality_code if not req.kind.is_mobile else req.municipality_code,
    )
    return dataclasses.replace(c, request=certified)


@dataclass
class _InFlight:
    """A batch whose serials are reserved and whose certificates are being signed."""

    now: dt.datetime
    actor: str
    ids: list[str]
    results: dict[str, "Issued"]  # requests found already issued
    rows: list[dict]  # issuance records, ``der`` filled in once signed
    jobs: list[tuple[list[int], SigningJob]]  # (indexes into rows, their signing) per CA
    fingerprints: set[str]
    scope: str  # the requester: a municipality code or JLIS
    digests: dict[str, str]  # request_id -> digest of the request as sent
    versions: dict[str, int]  # resident_code -> the record's version the certificates were made from

    def shares(self, checked: Sequence[_Checked]) -> bool:
        ids, keys = set(self.ids), self.fingerprints
        return any(c.request.request_id in ids or c.fingerprint in keys for c in checked)

    def cancel(self) -> None:
        for _, job in self.jobs:
            job.cancel()


class IssuanceService:
    def __init__(self, platform: Platform):
        self.platform = platform

    def issue_as(self, who: Principal, req: IssuanceRequest) -> Issued:
        """Issue for a caller of the platform (an API token, the CLI's operator): J-LIS's
        operators for any resident on the register; a municipality no smartphone
        certificate (R-CERT-5: J-LIS issues those to the applicant), in its own name (a
        municipality code stated in the request must be its own, an omitted one is its
        own) and for its own residents (R-RA-2, checked against the register)."""
        if who.role not in ISSUERS:
            raise Forbidden(f"role {who.role.value} may not do this; needs one of: {', '.join(r.value for r in ISSUERS)}")
        if who.role is not Role.MUNICIPALITY:
            return self.issue(req, who.actor)
        return self.issue(for_municipality(req, who.municipality_code), who.actor, acting_for=who.municipality_code)

    def issue(self, req: IssuanceRequest, actor: str, acting_for: str | None = None) -> Issued:
        return self.issue_many([req], actor, acting_for=acting_for)[0]

    def issue_many(self, reqs: Sequence[IssuanceRequest], actor: str, acting_for: str | None = None) -> list[Issued]:
        """Issue a batch. All requests are checked before anything is reserved or signed;
        one bad request fails the whole call with its error and changes nothing.

        ``acting_for``: the municipality whose clerk asks (its own residents only, its own
        request ids: R-RA-2, R-RA-3); None when J-LIS itself issues."""
        now = self.platform.clock.now()
        checked = self._check(reqs, now)
        started = self._start(checked, actor, now, stream=False, acting_for=acting_for)
        return started if isinstance(started, list) else self._record(started)

    def issue_chunks(
        self, chunks: Iterable[Sequence[IssuanceRequest]], actor: str, acting_for: str | None = None
    ) -> Iterator[list[Issued]]:
        """Issue several batches, yielding each one's results in order. Each batch is
        exactly one :meth:`issue_many` (checked as a whole, its serials reserved and
        committed before it is signed, its certificates and audit events recorded in one
        transaction), but they overlap: while batch k is signed in worker processes, this
        process records batch k-1 and checks, reserves and builds batch k+1, so both the
        workers and this process stay busy. At most two batches are in flight; a batch
        that shares a request id or a public key with the one in flight waits for it to
        be recorded, so the answers are those of one issue_many after another.

        If a batch fails its checks, the batch before it is still recorded before the
        error is raised (as with successive issue_many calls). A process killed mid-way
        leaves at most two batches of reserved, unused serials and no half-recorded batch.
        """
        pending: _InFlight | None = None
        try:
            for number, reqs in enumerate(chunks):
                now = self.platform.clock.now()
                try:
                    checked = self._check(reqs, now)
                    if pending is not None and pending.shares(checked):
                        done, pending = pending, None
                        yield self._record(done)
                    started = self._start(checked, actor, now, stream=number > 0, acting_for=acting_for)
                except Exception:
                    if pending is not None:
                        # The batch before the bad one was fine: record it and hand its
                        # results out, then raise (as successive issue_many calls would).
                        done, pending = pending, None
                        yield self._record(done)
                    raise
                if isinstance(started, list):  # nothing to sign: already issued
                    if pending is not None:
                        done, pending = pending, None
                        yield self._record(done)
                    yield started
                    continue
                if pending is not None:
                    done, pending = pending, started
                    try:
                        issued = self._record(done)
                    except BaseException:
                        pending = None
                        started.cancel()
                        raise
                    yield issued
                else:
                    pending = started
            if pending is not None:
                done, pending = pending, None
                yield self._record(done)
        finally:
            # Stopped early (an error, or the caller closed the generator): the batch in
            # flight keeps its reserved serials unused, as after a crash; nothing of it is recorded.
            if pending is not None:
                pending.cancel()

    @staticmethod
    def _check(reqs: Sequence[IssuanceRequest], now: dt.datetime) -> list[_Checked]:
        checked = [check_request(r, now) for r in reqs]
        ids = [c.request.request_id for c in checked]
        if len(set(ids)) != len(ids):
            raise InvalidInput("the batch repeats a request_id")
        return checked

    def _start(
        self, checked: list[_Checked], actor: str, now: dt.datetime, stream: bool, acting_for: str | None = None
    ) -> list[Issued] | _InFlight:
        """The store checks, the serial reservation (committed) and the start of signing.
        Returns the results directly when every request was issued before. ``stream``: a
        later chunk of a multi-chunk batch, i.e. a big batch whatever this chunk's size."""
        ids = [c.request.request_id for c in checked]
        results: dict[str, Issued] = {}
        scope = acting_for if acting_for is not None else JLIS
        digests = {c.request.request_id: c.digest for c in checked}

        with self.platform.db.session() as s:
            existing = self._existing(s, scope, ids)
            for c in checked:
                row = existing.get(c.request.request_id)
                if row is not None:
                    results[c.request.request_id] = _retry_of(row, c.request.request_id, c.digest)
            todo = [c for c in checked if c.request.request_id not in results]
            # R-CERT-4, R-RA-1, R-RA-2: from the register's record, in this transaction; first,
            # so another municipality's resident is refused before anything else is told.
            records = {
                r.resident_code: r
                for r in s.scalars(
                    select(m.ResidentRecord).where(m.ResidentRecord.resident_code.in_({c.request.resident_code for c in todo}))
                )
            }
            todo = [check_against_register(c, records.get(c.request.resident_code), acting_for, now) for c in todo]
            fingerprints = [c.fingerprint for c in todo]
            if len(set(fingerprints)) != len(fingerprints):
                raise Conflict("the batch certifies the same public key twice")
            taken = set(s.scalars(select(m.Certificate.key_fingerprint).where(m.Certificate.key_fingerprint.in_(fingerprints))))
            if taken:
                # A concurrent identical request may have recorded its certificate since
                # ``existing`` was read: that is a retry, answered with the original (R-RA-3).
                again = self._existing(s, scope, [c.request.request_id for c in todo if c.fingerprint in taken])
                for c in todo:
                    row = again.get(c.request.request_id)
                    if row is not None and row.key_fingerprint == c.fingerprint:
                        results[c.request.request_id] = _retry_of(row, c.request.request_id, c.digest)
                todo = [c for c in todo if c.request.request_id not in results]
                if taken & {c.fingerprint for c in todo}:
                    raise Conflict("public key is already certified; a new certificate needs a new key pair")
            versions = {c.request.resident_code: records[c.request.resident_code].version for c in todo}
        if not todo:
            return [results[i] for i in ids]

        authorities = {kind: self.platform.authority(AuthorityKind(kind.value)) for kind in {c.request.kind for c in todo}}
        for ca in authorities.values():
            if not ca.active:
                raise Forbidden(f"the {ca.slug} CA is not active")
        plan = [(c, serials.new_serial()) for c in todo]
        # 1. Reserve serials, committed before any signature exists.
        with self.platform.db.session() as s:
            s.execute(
                insert(m.SerialReservation.__table__),
                [
                    {
                        "serial": serials.to_store(n),
                        "authority_id": authorities[c.request.kind].id,
                        "request_id": c.request.request_id,
                        "reserved_at": now,
                    }
                    for c, n in plan
                ],
            )
        # 2. Start signing, one job per CA. Worker processes only for big batches (from the
        # second chunk of a stream on, or PARALLEL_FROM requests): starting the pool costs
        # about half a second, once per process; a few certificates are not worth it.
        processes = 0
        if stream or len(todo) >= PARALLEL_FROM:
            processes = resolve_processes(self.platform.settings.signing_processes)
        retain_until = now + dt.timedelta(days=self.platform.settings.retention_days)
        prepared = [self._prepare(c, n, authorities[c.request.kind], now, retain_until, scope) for c, n in plan]
        jobs = []
        for kind, ca in authorities.items():
            idx = [i for i, (c, _) in enumerate(plan) if c.request.kind is kind]
            jobs.append((idx, submit_tbs([prepared[i][1] for i in idx], ca.key, processes)))
        return _InFlight(now, actor, ids, results, [row for row, _ in prepared], jobs, set(fingerprints), scope, digests, versions)

    def _record(self, f: _InFlight) -> list[Issued]:
        """Wait for the signatures, then record certificates, audit events and status-feed
        entries together in one transaction."""
        certs: list[x509.Certificate] = [None] * len(f.rows)  # type: ignore[list-item]
        for idx, job in f.jobs:
            for i, (cert, der) in zip(idx, job.result()):
                f.rows[i]["der"] = der
                certs[i] = cert
        rows, now, results, ids = f.rows, f.now, f.results, f.ids
        try:
            with self.platform.db.session() as s:
                s.execute(insert(m.Certificate.__table__), rows)
                # After the insert: on SQLite the write lock is held from here, on PostgreSQL
                # FOR SHARE makes a concurrent change event wait for this commit (and then
                # see, and revoke, these certificates).
                self._check_versions(s, f.versions)
                audit_many(
                    s, [(now, f.actor, "certificate.issued", r["serial"], {"kind": r["kind"], "request_id": r["request_id"]}) for r in rows]
                )
                status_events(s, [(r["serial"], r["authority_id"], FeedEventKind.ISSUED.value, now, r["not_after"], None) for r in rows])
        except IntegrityError:
            # A concurrent request with the same (requester, request_id) won the race. Its
            # certificate is the answer only if it is the same request (R-RA-3): the loser
            # of a race between two different bodies gets a conflict, never the other's.
            with self.platform.db.session() as s:
                existing = self._existing(s, f.scope, ids)
        else:
            for row, cert in zip(rows, certs):
                results[row["request_id"]] = Issued(int(row["serial"], 16), CertKind(row["kind"]), cert, True)
            return [results[i] for i in ids]
        if any(i not in existing and i not in results for i in ids):
            raise Conflict("a concurrent request certified the same key or request id; retry")
        return [results.get(i) or _retry_of(existing[i], i, f.digests[i]) for i in ids]

    @staticmethod
    def _existing(s, scope: str, ids: Iterable[str]) -> dict[str, m.Certificate]:
        q = select(m.Certificate).where(m.Certificate.requester == scope, m.Certificate.request_id.in_(list(ids)))
        return {row.request_id: row for row in s.scalars(q)}

    @staticmethod
    def _check_versions(s, versions: dict[str, int]) -> None:
        if not versions:
            return
        q = select(m.ResidentRecord.resident_code, m.ResidentRecord.version).where(m.ResidentRecord.resident_code.in_(list(versions)))
        now = dict(s.execute(q.with_for_update(read=True)).all())
        if any(now.get(code) != version for code, version in versions.items()):
            raise RegisterChanged("a resident's record changed while the certificates were issued; retry to issue from the new record")

    def _not_after(self, req: IssuanceRequest, ca: LoadedAuthority, now: dt.datetime) -> dt.datetime:
        """R-CERT-2: to the fifth birthday after issuance, never past the CA's own certificate."""
        return min(validity.certificate_not_after(req.date_of_birth, now), ca.cert.not_valid_after_utc)

    def _prepare(
        self, c: _Checked, serial: int, ca: LoadedAuthority, now: dt.datetime, retain_until: dt.datetime, scope: str
    ) -> tuple[dict, bytes]:
        """The certificate to sign (its TBS bytes, the profile of ``profiles.holder_builder``
        written from the CA's template) and its issuance record (``der`` filled in once signed)."""
        req = c.request
        not_after = self._not_after(req, ca, now)
        subject_id = profiles.new_subject_id()
        template = holder_tbs.template(req.kind, ca.cert, self.platform.urls.base, ca.slug, ca.key.algorithm.is_rsa)
        tbs = template.tbs(serial, now, not_after, subject_id, c.spki, req.basic4)
        row = {
            "serial": serials.to_store(serial),
            "authority_id": ca.id,
            "kind": req.kind.value,
            "subject_id": subject_id,
            "request_id": req.request_id,
            "requester": scope,
            "request_digest": c.digest,
            "resident_code": req.resident_code,
            "municipality_code": req.municipality_code,
            "key_fingerprint": c.fingerprint,
            "not_before": now,
            "not_after": not_after,
            "issued_at": now,
            "retain_until": retain_until,
        }
        return row, tbs


def _retry_of(row: m.Certificate, request_id: str, digest: str) -> Issued:
    """The original answer to a repeated request, only if its content is the same (R-RA-3)."""
    if row.request_digest != digest:
        raise IdempotencyMismatch(f"request_id {request_id!r} was already used for a different request")
    return _issued(row, created=False)


def _issued(row: m.Certificate, created: bool) -> Issued:
    return Issued(int(row.serial, 16), CertKind(row.kind), x509.load_der_x509_certificate(row.der), created)


def record_service_certificate(
    s, cert: x509.Certificate, authority_id: int, kind: str, subject_id: str, request_id: str, now: dt.datetime
) -> str:
    """The issuance record of a certificate the platform issues to itself (a CA certificate
    from the root, an OCSP responder certificate): serial reservation, record and
    status-feed entry, in the caller's transaction. Returns the stored serial."""
    serial = serials.to_store(cert.serial_number)
    fingerprint = key_fingerprint(cert.public_key())
    s.execute(
        insert(m.SerialReservation.__table__),
        [{"serial": serial, "authority_id": authority_id, "request_id": request_id, "reserved_at": now}],
    )
    s.execute(
        insert(m.Certificate.__table__),
        [
            {
                "serial": serial,
                "authority_id": authority_id,
                "kind": kind,
                "subject_id": subject_id[:64],
                "request_id": request_id,
                "requester": JLIS,
                "request_digest": fingerprint,
                "key_fingerprint": fingerprint,
                "not_before": cert.not_valid_before_utc,
                "not_after": cert.not_valid_after_utc,
                "issued_at": now,
                "retain_until": cert.not_valid_after_utc,
                "der": cert.public_bytes(serialization.Encoding.DER),
            }
        ],
    )
    status_events(s, [(serial, authority_id, FeedEventKind.ISSUED.value, now, cert.not_valid_after_utc, None)])
    return serial
