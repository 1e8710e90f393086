"""The ``myna`` command. Thin: parses arguments, calls myna.authority, prints results.

Errors print one clear line on stderr and never a traceback: status 2 for a malformed
command line (the argument parser's), 1 for input the platform refuses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from cryptography.hazmat.primitives.serialization import Encoding
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from myna import logs
from myna.cli_card import card_app
from myna.cli_cards import cards_app
from myna.cli_verifiers import report_app, verifier_app
from myna.errors import MynaError
from myna.pki import serials
from myna.pki.keys import KeyAlgorithm
from myna.pki.kinds import AuthorityKind, CertKind
from myna.pki.revocation import RevocationReason
from myna.settings import Settings
from myna.wiring import build

app = typer.Typer(help="myna: the Individual Number Card platform (JPKI CAs, revocation, CRLs).", no_args_is_help=True, pretty_exceptions_enable=False)
cert_app = typer.Typer(help="Holder certificates: list, show, issue.", no_args_is_help=True)
ca_app = typer.Typer(help="The certification authorities.", no_args_is_help=True)
crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)
token_app = typer.Typer(help="API credentials.", no_args_is_help=True)
app.add_typer(cert_app, name="cert")
app.add_typer(ca_app, name="ca")
app.add_typer(crl_app, name="crl")
app.add_typer(token_app, name="token")
validity_app = typer.Typer(help="Validity centres: OCSP responders and CRL distribution.", no_args_is_help=True)
app.add_typer(validity_app, name="validity")
number_app = typer.Typer(help="Individual Numbers: check and generate (R-NUM-1, R-NUM-2).", no_args_is_help=True)
app.add_typer(number_app, name="number")
residents_app = typer.Typer(help="Residents and municipalities (R-RES-1).", no_args_is_help=True)
app.add_typer(residents_app, name="residents")
app.add_typer(card_app, name="card")
app.add_typer(cards_app, name="cards")
app.add_typer(verifier_app, name="verifier")
app.add_typer(report_app, name="report")

out = Console(soft_wrap=True)
err = Console(stderr=True)


def _platform():
    from myna.authority.platform import Platform

    settings = Settings.from_env()
    logs.configure(settings.log_format)
    return Platform.open(settings)


def _fail(exc: MynaError) -> None:
    # The message may quote user input: escape it so "[b]" in a name is printed, not styled.
    err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _run(fn):
    try:
        return fn()
    except MynaError as exc:
        _fail(exc)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err)


def _serial(text: str) -> int:
    try:
        return serials.parse(text)
    except MynaError as exc:
        raise typer.BadParameter(exc.message) from None


ReasonChoice = Enum("ReasonChoice", {r.name: r.value for r in RevocationReason if r is not RevocationReason.KEY_COMPROMISE} | {"KEY_COMPROMISE": "key-compromise"}, type=str)
KindChoice = Enum("KindChoice", {k.name: k.value for k in CertKind}, type=str)
AuthorityChoice = Enum("AuthorityChoice", {k.name: k.value for k in AuthorityKind}, type=str)


@app.command()
def init(
    operator: str = typer.Option(os.environ.get("USER", "operator"), help="Who performs the key ceremony (recorded)."),
    backend: Optional[str] = typer.Option(None, help="Key backend: file or pkcs11 (default MYNA_KEY_BACKEND or file)."),
    algorithm: KeyAlgorithm = typer.Option(KeyAlgorithm.RSA_2048, help="CA key algorithm."),
) -> None:
    """Key ceremony: create the root CA and the four issuing CAs that are missing (idempotent),
    then publish their first CRLs."""
    from myna.authority.ceremony import run_ceremony
    from myna.authority.crls import CrlService

    p = _platform()
    with _progress() as bar:
        task = bar.add_task("key ceremony", total=len(AuthorityKind))
        steps = _run(lambda: run_ceremony(p, operator, backend, algorithm, progress=lambda _k: bar.advance(task)))
        bar.update(task, completed=len(AuthorityKind))
    if not steps:
        out.print("All authorities exist; nothing to do.")
        return
    for ca, delta in CrlService(p).due():
        CrlService(p).publish_for(ca, delta=delta, actor=f"init:{operator}")
    table = Table("CA", "generation", "key", "SHA-256 fingerprint")
    for st in steps:
        table.add_row(st.kind, str(st.generation), f"{st.key_backend}:{st.key_ref}", st.sha256[:32] + "…")
    out.print(table)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    schedule: bool = typer.Option(True, help="Run the CRL schedule beside the server."),
) -> None:
    """Serve the web interface, the API and the distribution points."""
    import uvicorn

    from myna.validation.runtime import quiet_ocsp_access_log
    from myna.web.limits import BoundedHttpToolsProtocol
    from myna.web.server import platform_app

    p = _platform()
    app_ = _run(lambda: platform_app(p, schedule=schedule))
    # uvicorn configures logging here; its handlers mask what a line could leak (myna.logs).
    # The protocol adds a deadline and a size bound on each request's head, which uvicorn
    # lacks; the body limit is the app's (myna.web.limits.BodyLimit).
    config = uvicorn.Config(
        app_, host=host, port=port, log_level="info", log_config=logs.uvicorn_log_config(), http=BoundedHttpToolsProtocol
    )
    quiet_ocsp_access_log()
    uvicorn.Server(config).run()


@app.command()
def demo(residents: int = typer.Option(20, min=1, max=100_000, help="How many synthetic residents.")) -> None:
    """Synthetic residents with a card signature and a card user-auth certificate each (idempotent)."""
    from myna import demo as demo_mod
    from myna.authority.ceremony import run_ceremony

    p = _platform()
    _run(lambda: run_ceremony(p, "demo"))
    with _progress() as bar:
        task = bar.add_task("issuing demo certificates", total=residents * 2)
        result = _run(lambda: demo_mod.run(p, residents, progress=lambda: bar.advance(task)))
    out.print(f"{result['created']} certificates issued, {result['existing']} already there. API tokens: {result['tokens_file']}")


@cert_app.command("list")
def cert_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON array of objects."),
    kind: Optional[KindChoice] = typer.Option(None, help="Only this kind."),
    status: Optional[str] = typer.Option(None, help="valid, revoked or expired."),
    limit: int = typer.Option(0, help="At most this many (0: all)."),
) -> None:
    """List holder certificates."""
    from myna.authority.records import MAX_PAGE, Records

    records = Records(_platform())
    items, cursor = [], None
    while True:
        page_size = MAX_PAGE if not limit else min(MAX_PAGE, limit - len(items))
        page, cursor = _run(lambda: records.list(kind=kind.value if kind else None, status=status, after=cursor, limit=page_size))
        items.extend(page)
        if cursor is None or (limit and len(items) >= limit):
            break
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in items], ensure_ascii=False, indent=1) + "\n")
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
    from myna.authority.records import Records

    rec = _run(lambda: Records(_platform()).get(_serial(serial)))
    if pem:
        sys.stdout.write(rec.certificate.public_bytes(Encoding.PEM).decode())
    else:
        sys.stdout.write(json.dumps(rec.to_json(), ensure_ascii=False, indent=1) + "\n")


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

    from myna.authority.issuance import IssuanceRequest, IssuanceService
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
        return IssuanceService(_platform()).issue(req, actor=f"cli:{os.environ.get('USER', 'operator')}")

    issued = _run(go)
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
    from rich.markup import escape

    from myna.authority.batch import issue_requests, load_requests

    p = _platform()
    try:
        requests = load_requests(file, p.clock.now(), p)
    except MynaError as exc:  # one line per bad input line: no markup, no wrapping
        err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    with _progress() as bar:
        task = bar.add_task("issuing certificates", total=len(requests))
        result = _run(lambda: issue_requests(build(p).issuance, requests, f"cli:{os.environ.get('USER', 'operator')}", chunk=chunk, progress=lambda n: bar.advance(task, n)))
    out.print(f"{result.created} issued, {result.existing} already issued")


@app.command()
def revoke(
    serial: str = typer.Argument(..., help="Serial number in hex."),
    reason: ReasonChoice = typer.Option(..., help="request (R-REV-1), resident-change (R-REV-2/3), record-error (R-REV-4), key-compromise (R-REV-5: revokes the whole issuing CA), linked-card-revoked (R-REV-6)."),
    note: Optional[str] = typer.Option(None, help="Free text kept with the record."),
    yes: bool = typer.Option(False, "--yes", help="With key-compromise: confirm revoking every certificate of the CA."),
) -> None:
    """Record a revocation. It takes effect at once."""
    from myna.authority.records import Records
    from myna.authority.revoking import RevocationService

    p = _platform()
    actor = f"cli:{os.environ.get('USER', 'operator')}"
    number = _serial(serial)
    rr = RevocationReason(reason.value)
    if rr is RevocationReason.KEY_COMPROMISE:
        rec = _run(lambda: Records(p).get(number))
        ca_kind = rec.kind if rec.kind != "ca" else None
        if ca_kind is None:
            err.print("error: for a CA certificate use `myna ca compromise KIND`")
            raise typer.Exit(1)
        if not yes:
            err.print(f"error: key-compromise revokes every certificate of the {ca_kind} CA (R-REV-5); repeat with --yes")
            raise typer.Exit(1)
        done = _run(lambda: RevocationService(p).compromise_authority(ca_kind, actor, note))
        out.print(f"{done.authority} CA retired; {done.revoked} certificates revoked; public notice written. Run `myna init` for the next generation.")
        return
    done = _run(lambda: RevocationService(p).revoke(number, rr, actor, note))
    out.print(f"revoked {serials.to_display(done.serial)} at {done.revoked_at.isoformat()} ({rr.value}, {rr.rule})")


@ca_app.command("list")
def ca_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """The CA hierarchy, all generations."""
    from myna.web.routers.authorities import authorities_out

    rows = _run(lambda: authorities_out(_platform()))
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump() for r in rows], indent=1) + "\n")
        return
    table = Table("CA", "subject", "state", "key", "not after")
    for r in rows:
        table.add_row(r.slug, r.subject, "active" if r.active else ("compromised" if r.compromised_at else "retired"), r.key_backend, r.not_after[:10])
    out.print(table)


@ca_app.command("get")
def ca_get(
    kind: AuthorityChoice = typer.Argument(..., help="root, card-sign, card-auth, mobile-sign or mobile-auth."),
    pem: bool = typer.Option(True, "--pem/--der", help="PEM (default) or raw DER on stdout."),
    chain: bool = typer.Option(False, "--chain", help="The CA certificate followed by its issuers up to the root."),
) -> None:
    """Print the active CA certificate of a kind."""
    p = _platform()
    ca = _run(lambda: p.authority(kind.value))
    certs = [ca.cert]
    if chain and ca.kind is not AuthorityKind.ROOT:
        certs.append(_run(lambda: p.authority(AuthorityKind.ROOT)).cert)
    if pem:
        sys.stdout.write("".join(c.public_bytes(Encoding.PEM).decode() for c in certs))
    else:
        sys.stdout.buffer.write(b"".join(c.public_bytes(Encoding.DER) for c in certs))


@ca_app.command("compromise")
def ca_compromise(
    kind: AuthorityChoice = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Confirm: revokes every certificate the CA signed."),
    note: Optional[str] = typer.Option(None),
) -> None:
    """R-REV-5: the CA key leaked, was lost or damaged. Revokes everything it signed."""
    from myna.authority.revoking import RevocationService

    if not yes:
        err.print("error: this revokes every certificate the CA signed; repeat with --yes")
        raise typer.Exit(1)
    done = _run(lambda: RevocationService(_platform()).compromise_authority(kind.value, f"cli:{os.environ.get('USER', 'operator')}", note))
    out.print(f"{done.authority} CA retired; {done.revoked} certificates revoked; public notice written. Run `myna init` for the next generation.")


@crl_app.command("publish")
def crl_publish(
    kind: Optional[AuthorityChoice] = typer.Option(None, help="One CA (default: every CA)."),
    delta: bool = typer.Option(False, "--delta", help="A delta CRL instead of a full one."),
) -> None:
    """Build, sign and publish CRLs now."""
    from myna.authority.crls import CrlService

    service = CrlService(_platform())
    done = _run(lambda: [service.publish(kind.value, delta=delta, actor="cli")] if kind else service.publish_all(delta=delta, actor="cli"))
    table = Table("CA", "number", "type", "entries", "next update")
    for d in done:
        table.add_row(d.authority, str(d.number), "delta" if d.is_delta else "full", str(d.entries), d.next_update.isoformat())
    out.print(table)


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="operator, municipality, auditor, call-centre or centre (verifier tokens: `myna verifier token CODE`)."),
    label: str = typer.Option(..., help="Whose token this is."),
    municipality: Optional[str] = typer.Option(None, help="For role municipality: its 6-digit code."),
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    from myna.access.roles import Role
    from myna.access.tokens import PLAIN_ROLES, Tokens

    if role not in {x.value for x in PLAIN_ROLES}:
        hint = "; a verifier's token is made with `myna verifier token CODE`" if role.startswith("verifier") else ""
        raise typer.BadParameter(f"role must be one of {', '.join(x.value for x in PLAIN_ROLES)}{hint}")
    sys.stdout.write(_run(lambda: Tokens(_platform()).create(Role(role), label, municipality)) + "\n")


@validity_app.command("provision")
def validity_provision(
    centre: str = typer.Option("primary", help="Centre name (a-z, 0-9, -)."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Bundle directory (default MYNA_HOME/centres/NAME)."),
) -> None:
    """Issue this centre's delegated OCSP responder certificates (idempotent) and write its bundle."""
    from myna.validation.provision import provision

    p = _platform()
    where = _run(lambda: provision(p, centre, directory, actor=f"cli:{os.environ.get('USER', 'operator')}"))
    out.print(f"centre {centre}: bundle in {where}")


@validity_app.command("serve")
def validity_serve(
    centre: str = typer.Option("primary", help="Centre name; its bundle and replica live in MYNA_HOME/centres/NAME."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8001, min=0, max=65535, help="Port to listen on."),
    source: Optional[str] = typer.Option(None, help="Platform base URL to replicate from over HTTP (default: the local store)."),
    token: Optional[str] = typer.Option(None, envvar="MYNA_CENTRE_TOKEN", help="A `centre` token for --source."),
    access: str = typer.Option("open", help="open (test environments) or verifiers (registered verifiers only, R-VER-1)."),
    max_lag: float = typer.Option(5.0, min=0.0, help="Seconds without a completed sync after which 'good' is no longer answered."),
    interval: float = typer.Option(0.2, min=0.01, help="Seconds between feed polls."),
    cache_entries: int = typer.Option(250_000, min=1, help="Serials whose pre-signed responses are kept in memory (about 1.2 KB each)."),
) -> None:
    """Run one validity centre on its own: OCSP at /ocsp/{ca}, CRLs at /crl/{ca}.crl, /healthz.

    Stops cleanly on SIGINT or SIGTERM."""
    import gc

    from myna.validation.centre import Centre, CentreConfig
    from myna.validation.feeds import HttpFeed
    from myna.validation.http import SyncLoop
    from myna.validation.provision import bundle_dir, check_centre_name, provision
    from myna.validation.server import serve as serve_centre

    if access not in ("open", "verifiers"):
        raise typer.BadParameter("--access must be open or verifiers")
    _run(lambda: check_centre_name(centre))
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    config = CentreConfig(name=centre, max_lag_s=max_lag, open_access=access == "open", cache_entries=cache_entries)
    if source:
        if not token:
            raise typer.BadParameter("--source needs --token (or MYNA_CENTRE_TOKEN): create one with `myna token create --role centre`")
        directory = settings.home / "centres" / centre
        if not (directory / "bundle.json").exists():
            err.print(f"error: no bundle in {directory}: run `myna validity provision --centre {centre} --dir {directory}` where the CAs are")
            raise typer.Exit(1)
        feed = HttpFeed(source, token)
    else:
        p = _platform()
        directory = _run(lambda: provision(p, centre, bundle_dir(p, centre), actor=f"centre:{centre}"))
        feed = build(p).feed
    c = Centre.from_bundle(directory, config)
    # Everything built so far lives as long as the process: out of the cyclic GC's way,
    # so full collections while serving scan only what serving creates.
    gc.collect()
    gc.freeze()
    try:
        serve_centre(c, SyncLoop(c, feed, interval=interval), host, port)
    except OSError as exc:  # the address is taken, or not ours to bind
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from None


@number_app.command("check")
def number_check(number: str = typer.Argument(..., help="A 12-digit Individual Number.")) -> None:
    """Exit 0 if NUMBER is a well-formed Individual Number, else 1 with the reason (R-NUM-2)."""
    from myna.numbering.individual_number import check_number

    try:
        check_number(number)
    except MynaError as exc:
        err.print(f"invalid: {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"valid: {number}")


@number_app.command("generate")
def number_generate(
    count: int = typer.Option(..., min=1, max=10**9, help="How many consecutive resident codes to number."),
    start: str = typer.Option("10000000000", help="First 11-digit resident code."),
    output: Path = typer.Option(..., "--out", help="CSV file to write: resident_code,number."),
    generation: int = typer.Option(0, min=0, help="Tweak generation (0 for first issue; higher after a leak)."),
) -> None:
    """Batch generation of numbers from resident codes with the platform's secret key.

    Numbers are a keyed permutation of the resident codes, so the batch has no duplicates
    by construction; the count of distinct numbers is checked anyway and printed."""
    import numpy as np

    from myna.numbering.codes import check_resident_code
    from myna.numbering.individual_number import NumberGenerator
    from myna.numbering.keyfile import load_or_create

    _run(lambda: check_resident_code(start))
    if int(start) + count > 10**11:
        raise typer.BadParameter("the range runs past 99999999999")
    settings = Settings.from_env()
    generator = NumberGenerator(_run(lambda: load_or_create(settings.home)))
    chunk = 100_000  # NumPy works faster on chunks that stay in cache
    seen = 0
    with output.open("w") as f, _progress() as bar:
        task = bar.add_task("generating numbers", total=count)
        f.write("resident_code,number\n")
        for offset in range(0, count, chunk):
            codes = np.arange(int(start) + offset, int(start) + min(count, offset + chunk), dtype=np.uint64)
            numbers = generator.numbers_for(codes, generation)
            seen += len(np.unique(numbers))
            f.writelines(f"{c:011d},{n:012d}\n" for c, n in zip(codes.tolist(), numbers.tolist()))
            bar.advance(task, len(codes))
    out.print(f"{count} numbers written to {output} ({seen} distinct per chunk)")


@residents_app.command("run-due")
def residents_run_due() -> None:
    """Apply the 30-day move-in rule now (R-REV-3); `myna serve` runs it every 30 s."""
    report = _run(lambda: build(_platform()).registry.apply_due(actor="cli"))
    done = report.done
    out.print(f"{len(done)} residents passed the move-in deadline; {sum(len(d['revoked']) for d in done)} certificates revoked")
    if report.failures:
        # Everyone else was processed; the failed ones are named by log reference only (the
        # journal has an entry "resident.move-in-deadline-failed" for each, with the code).
        err.print(f"[bold red]error[/]: the rule failed for {len(report.failures)} residents:", highlight=False)
        for f in report.failures:
            err.print(f"  resident_ref={f['resident_ref']} error={escape(f['error'])}", highlight=False)
        raise typer.Exit(code=1)


@residents_app.command("register-municipality")
def residents_register_municipality(code: str = typer.Argument(...), name: str = typer.Argument(...)) -> None:
    """Register a municipality by its 6-digit local-government code."""
    _run(lambda: build(_platform()).registry.register_municipality(code, name, actor="cli"))
    out.print(f"registered {code} {name}")


@app.command()
def notices() -> None:
    """Public notices (e.g. issuer key compromise, R-REV-5)."""
    from myna.authority.records import Records

    sys.stdout.write(json.dumps(Records(_platform()).notices(), ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    app()
