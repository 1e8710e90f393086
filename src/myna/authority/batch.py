"""Batch issuance from a JSON Lines file (``myna cert issue-batch``).

One issuance request per line::

    {"request_id": "r-0001", "kind": "card-sign", "public_key_pem": "-----BEGIN PUBLIC KEY-----\\n...",
     "resident_code": "12345678901", "date_of_birth": "1990-06-15", "municipality_code": "131016",
     "basic4": {"name": "山田 花子", "date_of_birth": "1990-06-15", "sex": "2",
                "address": "東京都千代田区千代田1-1", "name_alt": null, "address_alt": null}}

``basic4`` must be absent for user-auth kinds (R-CERT-1); for the signature kinds it, like
``date_of_birth``, ``municipality_code``, ``name_alt`` and ``address_alt``, is optional:
the certificate carries the resident register's values, and a line that states a value
differing from the register is refused (R-RA-1). Blank lines are ignored; any other field
is an error (a misspelt optional field would otherwise be silently dropped).

The batch is J-LIS's own (an operator runs it): its request ids are J-LIS's, and each
line's resident must be on the register (R-CERT-4).

Two phases:

1. Every line is parsed and checked (the same checks as a single issuance, plus: no
   request_id or public key twice in the file, no request_id already used for a
   different request, no key already certified, the resident on the register with the
   basic 4 information the line states). All bad lines are reported together,
   with their line numbers, in one :class:`~myna.errors.InvalidInput`, and nothing is
   issued.
2. The requests are issued in chunks through :meth:`IssuanceService.issue_chunks`, each
   chunk one reservation transaction and one recording transaction, exactly as one
   ``issue_many`` call; the chunks overlap (one is signed in worker processes while the
   one before is recorded and the one after is prepared).

Requests are idempotent by ``request_id``, so after a crash (or ^C) running the same
file again issues only the missing certificates and returns the existing ones; the (at
most two) chunks cut short leave only serial reservations behind, never a certificate
without its issuance record (R-CERT-3).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from myna.authority.issuance import JLIS, IssuanceRequest, IssuanceService, check_against_register, check_request
from myna.authority.platform import Platform
from myna.errors import InvalidInput, MynaError
from myna.pki.basic4 import Basic4, Sex
from myna.pki.kinds import CertKind
from myna.store import models as m

DEFAULT_CHUNK = 100
MAX_CHUNK = 10_000
MAX_REPORTED = 20  # bad lines shown in the error message; all are in its ``details``
_QUERY_CHUNK = 500  # ids per IN (...) list in the pre-issuance store checks

_FIELDS = {"request_id", "kind", "public_key_pem", "resident_code", "date_of_birth", "municipality_code", "basic4"}
_REQUIRED = ("request_id", "kind", "public_key_pem", "resident_code")
_BASIC4_FIELDS = {"name", "date_of_birth", "sex", "address", "name_alt", "address_alt"}
_BASIC4_REQUIRED = ("name", "date_of_birth", "sex", "address")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BatchResult:
    created: int  # certificates issued by this run
    existing: int  # requests already issued earlier (same request_id, same content)

    @property
    def total(self) -> int:
        return self.created + self.existing


@dataclass(frozen=True)
class _BadLine:
    line: int  # 1-based line number in the file
    message: str


class _Bad(Exception):
    """A problem with one line; collected, never escapes this module."""


# -- phase 1: parse and check --------------------------------------------------------


def load_requests(path: str | Path, now: dt.datetime, platform: Platform | None = None) -> list[IssuanceRequest]:
    """Parse and check every line of the JSON Lines file ``path``.

    ``now`` is the issuance time the checks use (age for R-CERT-2, dates of birth in
    the future). With ``platform``, requests are also checked against the store:
    a ``request_id`` already used for a different request, or a public key already
    certified under another ``request_id``. Raises one :class:`InvalidInput` listing
    every bad line (at most :data:`MAX_REPORTED` in the message; all of them in
    ``details["lines"]`` as ``{"line": n, "message": text}``).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            return parse_lines(f, now, platform, source=str(path))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_lines(
    lines: Iterable[bytes | str], now: dt.datetime, platform: Platform | None = None, source: str = "input"
) -> list[IssuanceRequest]:
    """:func:`load_requests` for lines already at hand (bytes or str, with or without newlines)."""
    requests: list[IssuanceRequest] = []
    line_of: list[int] = []  # line number of requests[i]
    checked = []
    bad: list[_BadLine] = []
    seen_ids: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    total = 0  # non-blank lines
    for number, raw in enumerate(lines, start=1):
        try:
            text = _decode(raw, first=number == 1)
        except _Bad as exc:
            total += 1
            bad.append(_BadLine(number, str(exc)))
            continue
        if not text.strip():
            continue
        total += 1
        try:
            req = _request_from_json(text.rstrip())
            c = check_request(req, now)
        except _Bad as exc:
            bad.append(_BadLine(number, str(exc)))
            continue
        except MynaError as exc:
            bad.append(_BadLine(number, exc.message))
            continue
        if req.request_id in seen_ids:
            bad.append(_BadLine(number, f"request_id {req.request_id!r} repeats line {seen_ids[req.request_id]}"))
            continue
        seen_ids[req.request_id] = number
        if c.fingerprint in seen_keys:
            bad.append(_BadLine(number, f"public key already on line {seen_keys[c.fingerprint]}: each certificate needs its own key pair"))
            continue
        seen_keys[c.fingerprint] = number
        requests.append(req)
        line_of.append(number)
        checked.append(c)

    if platform is not None and checked:
        bad.extend(_check_against_store(platform, checked, line_of, now))
    if bad:
        bad.sort(key=lambda b: b.line)
        # details stay JSON-serialisable: the HTTP layer returns them as they are.
        raise InvalidInput(_report(source, bad, total=total), lines=[{"line": b.line, "message": b.message} for b in bad])
    if not requests:
        raise InvalidInput(f"{source}: no issuance requests (the file is empty)")
    return requests


def _decode(raw: bytes | str, first: bool) -> str:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig" if first else "utf-8")
        except UnicodeDecodeError as exc:
            raise _Bad(f"not UTF-8 (byte {exc.start + 1})") from None
    elif first:
        raw = raw.removeprefix("\ufeff")
    return raw


def _request_from_json(text: str) -> IssuanceRequest:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _Bad(f"expected a JSON object, got {_json_type(obj)}")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _Bad(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
    missing = [f for f in _REQUIRED if obj.get(f) is None]
    if missing:
        raise _Bad(f"missing {', '.join(missing)}")
    for name in _REQUIRED:
        _want_str(obj, name)
    for name in ("municipality_code", "date_of_birth"):
        if obj.get(name) is not None:
            _want_str(obj, name)
    try:
        kind = CertKind(obj["kind"])
    except ValueError:
        raise _Bad(f"kind {obj['kind']!r} is not one of {', '.join(k.value for k in CertKind)}") from None
    dob = _date(obj["date_of_birth"], "date_of_birth") if obj.get("date_of_birth") is not None else None
    basic4 = None
    if obj.get("basic4") is not None:
        basic4 = _basic4(obj["basic4"])
    return IssuanceRequest(
        request_id=obj["request_id"],
        kind=kind,
        public_key=obj["public_key_pem"],
        resident_code=obj["resident_code"],
        date_of_birth=dob,
        basic4=basic4,
        municipality_code=obj.get("municipality_code"),
    )


def _basic4(obj: object) -> Basic4:
    if not isinstance(obj, dict):
        raise _Bad(f"basic4 must be a JSON object, got {_json_type(obj)}")
    unknown = sorted(set(obj) - _BASIC4_FIELDS)
    if unknown:
        raise _Bad(f"unknown basic4 field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
    missing = [f for f in _BASIC4_REQUIRED if obj.get(f) is None]
    if missing:
        raise _Bad(f"basic4 is missing {', '.join(missing)}")
    for name in _BASIC4_FIELDS:
        if obj.get(name) is not None:
            _want_str(obj, name, prefix="basic4.")
    try:
        sex = Sex(obj["sex"])
    except ValueError:
        raise _Bad(f'basic4.sex {obj["sex"]!r} must be "1" (male), "2" (female) or "3" (not known)') from None
    try:
        return Basic4(
            name=obj["name"],
            date_of_birth=_date(obj["date_of_birth"], "basic4.date_of_birth"),
            sex=sex,
            address=obj["address"],
            name_alt=obj.get("name_alt"),
            address_alt=obj.get("address_alt"),
        )
    except MynaError as exc:
        raise _Bad(f"basic4: {exc.message}") from None


def _want_str(obj: dict, name: str, prefix: str = "") -> None:
    if not isinstance(obj[name], str):
        raise _Bad(f"{prefix}{name} must be a string, got {_json_type(obj[name])}")


def _date(value: str, name: str) -> dt.date:
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{name} {value!r} is not a date YYYY-MM-DD") from None


def _json_type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _check_against_store(platform: Platform, checked: Sequence, line_of: Sequence[int], now: dt.datetime) -> list[_BadLine]:
    """Problems only the store can tell, found before anything is issued. Issuance
    checks them again under its own transaction; this just makes the batch all-or-nothing
    for every problem known in advance."""
    bad: list[_BadLine] = []
    with platform.db.session() as s:
        for start in range(0, len(checked), _QUERY_CHUNK):
            part = checked[start : start + _QUERY_CHUNK]
            lines = line_of[start : start + _QUERY_CHUNK]
            by_id = {c.request.request_id: (c, n) for c, n in zip(part, lines)}
            done = set()
            for request_id, digest in s.execute(
                select(m.Certificate.request_id, m.Certificate.request_digest).where(
                    m.Certificate.requester == JLIS, m.Certificate.request_id.in_(list(by_id))
                )
            ):
                c, n = by_id[request_id]
                done.add(request_id)
                if digest != c.digest:
                    bad.append(_BadLine(n, f"request_id {request_id!r} was already used for a different request"))
            # R-CERT-4, R-RA-1 for the lines not issued yet (an issued one is answered as it was).
            codes = {c.request.resident_code for c in part}
            records = {r.resident_code: r for r in s.scalars(select(m.ResidentRecord).where(m.ResidentRecord.resident_code.in_(codes)))}
            for c, n in zip(part, lines):
                if c.request.request_id in done:
                    continue
                try:
                    check_against_register(c, records.get(c.request.resident_code), None, now)
                except MynaError as exc:
                    bad.append(_BadLine(n, exc.message))
            by_key = {c.fingerprint: (c, n) for c, n in zip(part, lines)}
            for fingerprint, request_id, requester in s.execute(
                select(m.Certificate.key_fingerprint, m.Certificate.request_id, m.Certificate.requester).where(
                    m.Certificate.key_fingerprint.in_(list(by_key))
                )
            ):
                c, n = by_key[fingerprint]
                if request_id != c.request.request_id or requester != JLIS:
                    bad.append(
                        _BadLine(n, f"public key is already certified (request_id {request_id!r}); a new certificate needs a new key pair")
                    )
    return bad


def _report(source: str, bad: Sequence[_BadLine], total: int) -> str:
    shown = [f"  line {b.line}: {b.message}" for b in bad[:MAX_REPORTED]]
    if len(bad) > MAX_REPORTED:
        shown.append(f"  ... and {len(bad) - MAX_REPORTED} more bad lines")
    head = f"{source}: {len(bad)} bad line{'s' if len(bad) != 1 else ''} of {total} requests; nothing was issued"
    return "\n".join([head, *shown])


# -- phase 2: issue --------------------------------------------------------------------


def issue_requests(
    service: IssuanceService,
    requests: Sequence[IssuanceRequest],
    actor: str,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> BatchResult:
    """Issue ``requests`` in chunks of ``chunk``; ``progress(n)`` after each chunk with
    the number of requests it settled (issued or found already issued)."""
    if not 1 <= chunk <= MAX_CHUNK:
        raise InvalidInput(f"chunk must be between 1 and {MAX_CHUNK}, got {chunk}")
    created = existing = 0
    parts = (requests[start : start + chunk] for start in range(0, len(requests), chunk))
    # issue_chunks overlaps the chunks (signing one in worker processes while recording
    # the one before and preparing the next); each chunk is still one issue_many.
    for issued in service.issue_chunks(parts, actor):
        new = sum(1 for i in issued if i.created)
        created += new
        existing += len(issued) - new
        if progress:
            progress(len(issued))
    return BatchResult(created, existing)


def issue_batch(
    service: IssuanceService,
    path: str | Path,
    actor: str,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> BatchResult:
    """Check the whole file, then issue it (see the module docstring)."""
    if not 1 <= chunk <= MAX_CHUNK:
        raise InvalidInput(f"chunk must be between 1 and {MAX_CHUNK}, got {chunk}")
    requests = load_requests(path, service.platform.clock.now(), service.platform)
    return issue_requests(service, requests, actor, chunk=chunk, progress=progress)
