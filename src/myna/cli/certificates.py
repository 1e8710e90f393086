"""Holder certificates: ``myna cert`` (list, get, issue, issue-batch) and ``myna revoke``."""

from __future__ import annotations

import datetime as dt
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from myna.cli.authorities import compromised
from myna.cli.common import actor, err, fail, open_platform, out, progress, run, services, write_json
from myna.errors import MynaError
from myna.pki.kinds import CertKind
from myna.pki.revocation import RevocationReason

cert_app = typer.Typer(help="Holder certificates: list, show, issue.", no_args_is_help=True)

ReasonChoice = Enum(
    "ReasonChoice",
    {r.name: r.value for r in RevocationReason if r is not RevocationReason.KEY_COMPROMISE} | {"KEY_COMPROMISE": "key-compromise"},
    type=str,
)
KindChoice = Enum("KindChoice", {k.name: k.value for k in CertKind}, type=str)


def _serial(text: str) -> int:
    from myna.pki import serials

    try:
        return serials.parse(text)
    except MynaError as exc:
        raise typer.BadParameter(exc.message) from None


@cert_app.command("list")
def cert_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON array of objects."),
    kind: Optional[KindChoice] = typer.Option(None, help="Only this kind."),
    status: Optional[str] = typer.Option(None, help="valid, revoked or expired."),
    limit: int = typer.Option(0, help="At most this many (0: all)."),
) -> None:
    """List holder certificates."""
    from myna.authority.records import MAX_PAGE
    from myna.pki import serials

    records = services().records
    items, cursor = [], None
    while True:
        page_size = MAX_PAGE if not limit else min(MAX_PAGE, limit - len(items))
        page, cursor = run(lambda: records.list(kind=kind.value if kind else None, status=status, after=cursor, limit=page_size))
        items.extend(page)
        if cursor is None or (limit and len(items) >= limit):
            break
    if as_json:
        write_json([r.to_json() for r in items])
        return
    table = Table("serial", "kind", "status", "not after", "municipality")
    for r in items:
        table.add_row(serials.to_display(r.serial), r.kind, r.status, r.not_after.date().isoformat(), r.municipality_code or "")
    out.print(table)


@cert_app.command("get")
def cert_get(
    serial: str = typer.Argument(..., help="Serial number in hex."),
    pem: bool = typer.Option(False, "--pem", help="Print the certificate as PEM."),
) -> None:
    """Show one certificate (JSON by default, PEM with --pem)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    rec = run(lambda: services().records.get(_serial(serial)))
    if pem:
        sys.stdout.write(rec.certificate.public_bytes(Encoding.PEM).decode())
    else:
        write_json(rec.to_json())


@cert_app.command("issue")
def cert_issue(
    kind: KindChoice = typer.Option(..., help="Certificate kind."),
    public_key: Path = typer.Option(..., exists=True, dir_okay=False, readable=True, help="SubjectPublicKeyInfo, PEM or DER."),
    resident_code: str = typer.Option(..., help="11-digit resident-record code."),
    date_of_birth: Optional[dt.datetime] = typer.Option(
        None, formats=["%Y-%m-%d"], help="YYYY-MM-DD; optional, the register's is used (if given, it must match)."
    ),
    name: Optional[str] = typer.Option(None, help="Signature kinds: the holder's name (optional; must match the register)."),
    sex: Optional[str] = typer.Option(None, help="Signature kinds: 1 male, 2 female, 3 not known (with --name, --address)."),
    address: Optional[str] = typer.Option(None, help="Signature kinds: the holder's address (with --name, --sex)."),
    municipality: Optional[str] = typer.Option(None, help="6-digit local-government code."),
    request_id: Optional[str] = typer.Option(None, help="Idempotency key (default: derived from the key)."),
    pem: bool = typer.Option(False, "--pem", help="Print the issued certificate as PEM."),
) -> None:
    """Issue one holder certificate (the CLI equivalent of POST /api/v1/certificates), as
    J-LIS: for a resident on the register, with the register's basic 4 information."""
    import hashlib

    from myna.authority.issuance import IssuanceRequest
    from myna.pki import serials
    from myna.pki.basic4 import Basic4, Sex

    data = public_key.read_bytes()
    ck = CertKind(kind.value)
    dob = date_of_birth.date() if date_of_birth is not None else None

    def go():
        basic4 = None
        stated = [v for v in (name, sex, address) if v]
        if ck.is_signature and stated:
            if len(stated) != 3 or dob is None:
                raise typer.BadParameter("give all of --name, --sex, --address and --date-of-birth, or none (the register's are used)")
            if sex not in {s.value for s in Sex}:
                raise typer.BadParameter("--sex must be 1, 2 or 3")
            basic4 = Basic4(name, dob, Sex(sex), address)
        elif stated:
            raise typer.BadParameter(f"a {ck.value} certificate carries no personal data: omit --name, --sex and --address")
        req = IssuanceRequest(
            request_id=request_id or f"cli:{ck.value}:{hashlib.sha256(data).hexdigest()[:32]}",
            kind=ck,
            public_key=data,
            resident_code=resident_code,
            date_of_birth=dob,
            basic4=basic4,
            municipality_code=municipality,
        )
        return services().issuance.issue(req, actor=actor())

    issued = run(go)
    if pem:
        sys.stdout.write(issued.pem)
    else:
        out.print(f"{'issued' if issued.created else 'already issued'}: {serials.to_display(issued.serial)} ({ck.value})")


@cert_app.command("issue-batch")
def cert_issue_batch(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JSON Lines: one issuance request per line."),
    chunk: int = typer.Option(100, "--chunk", min=1, max=10_000, help="Requests per transaction."),
) -> None:
    """Issue holder certificates from a JSON Lines file. Every line is checked first (all bad
    lines are reported, nothing is issued); re-running a file finishes it (idempotent)."""
    from myna.authority.batch import issue_requests, load_requests

    p = open_platform()
    try:
        requests = load_requests(file, p.clock.now(), p)
    except MynaError as exc:  # the message has one line per bad input line
        fail(exc)
    with progress() as bar:
        task = bar.add_task("issuing certificates", total=len(requests))
        result = run(lambda: issue_requests(services(p).issuance, requests, actor(), chunk=chunk, progress=lambda n: bar.advance(task, n)))
    out.print(f"{result.created} issued, {result.existing} already issued")


def revoke(
    serial: str = typer.Argument(..., help="Serial number in hex."),
    reason: ReasonChoice = typer.Option(
        ...,
        help=(
            "request (R-REV-1), resident-change (R-REV-2/3), record-error (R-REV-4), "
            "key-compromise (R-REV-5: revokes the whole issuing CA), linked-card-revoked (R-REV-6)."
        ),
    ),
    note: Optional[str] = typer.Option(None, help="Free text kept with the record."),
    yes: bool = typer.Option(False, "--yes", help="With key-compromise: confirm revoking every certificate of the CA."),
) -> None:
    """Record a revocation. It takes effect at once."""
    from myna.pki import serials

    svc = services()
    who = actor()
    number = _serial(serial)
    rr = RevocationReason(reason.value)
    if rr is RevocationReason.KEY_COMPROMISE:
        rec = run(lambda: svc.records.get(number))
        ca_kind = rec.kind if rec.kind != "ca" else None
        if ca_kind is None:
            err.print("error: for a CA certificate use `myna ca compromise KIND`")
            raise typer.Exit(1)
        if not yes:
            err.print(f"error: key-compromise revokes every certificate of the {ca_kind} CA (R-REV-5); repeat with --yes")
            raise typer.Exit(1)
        done = run(lambda: svc.revocation.compromise_authority(ca_kind, who, note))
        out.print(compromised(done))
        return
    done = run(lambda: svc.revocation.revoke(number, rr, who, note))
    out.print(f"revoked {serials.to_display(done.serial)} at {done.revoked_at.isoformat()} ({rr.value}, {rr.rule})")
