"""``myna verifier``: the verifier registry, credentials and the mutual-TLS endpoint;
``myna report provision``: the annual provision report (R-VER-6). See docs/verifiers.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from myna import logs
from myna.access.entitlements import VerifierType
from myna.errors import MynaError
from myna.settings import Settings
from myna.wiring import build

verifier_app = typer.Typer(
    help="Verifiers (SPEC §5): registry, agreements, client certificates, the mutual-TLS endpoint.", no_args_is_help=True
)
report_app = typer.Typer(help="Published reports.", no_args_is_help=True)

out = Console(soft_wrap=True)
err = Console(stderr=True)


def _platform():
    from myna.authority.platform import Platform

    settings = Settings.from_env()
    logs.configure(settings.log_format)
    return Platform.open(settings)


def _run(fn):
    try:
        return fn()
    except MynaError as exc:
        err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'operator')}"


def _show(v) -> None:
    out.print_json(json.dumps(v.to_json(), ensure_ascii=False))


@verifier_app.command("register")
def register(
    code: str = typer.Argument(..., help="The verifier's code (letters, digits, ._-)."),
    name: str = typer.Option(..., help="Organisation name."),
    type: VerifierType = typer.Option(..., "--type", help="Kind of verifier."),
    operator: Optional[str] = typer.Option(None, help="For an entrusting business: its platform operator's code."),
) -> None:
    """Register a verifier (or a business entrusting a platform operator)."""
    from myna.verifiers.registry import VerifierRegistry

    p = _platform()
    _show(_run(lambda: VerifierRegistry(p).register(code, name, type, _actor(), operator)))


@verifier_app.command("list")
def list_(type: Optional[VerifierType] = typer.Option(None, "--type", help="Only this kind.")) -> None:
    """Registered verifiers."""
    from myna.verifiers.registry import VerifierRegistry

    p = _platform()
    table = Table("code", "name", "type", "status", "operator", "agreement")
    for v in _run(lambda: VerifierRegistry(p).list(type)):
        table.add_row(escape(v.code), escape(v.name), v.type.value, v.status.value, v.operator_code or "", escape(v.agreement_ref or ""))
    out.print(table)


@verifier_app.command("show")
def show(code: str) -> None:
    from myna.verifiers.registry import VerifierRegistry

    _show(_run(lambda: VerifierRegistry(_platform()).get(code)))


def _status(code: str, status: str, note: Optional[str]) -> None:
    from myna.verifiers.registry import VerifierRegistry

    _show(_run(lambda: VerifierRegistry(_platform()).set_status(code, status, _actor(), note)))


@verifier_app.command("suspend")
def suspend(code: str, note: Optional[str] = typer.Option(None, help="Why (recorded).")) -> None:
    """Suspend: every request is refused, and the validity centres drop its tokens, until reinstated."""
    _status(code, "suspended", note)


@verifier_app.command("reinstate")
def reinstate(code: str, note: Optional[str] = typer.Option(None, help="Why (recorded).")) -> None:
    _status(code, "active", note)


@verifier_app.command("terminate")
def terminate(code: str, note: Optional[str] = typer.Option(None, help="Why (recorded).")) -> None:
    """Terminate (final): client certificates are revoked and bearer tokens disabled with it."""
    _status(code, "terminated", note)


@verifier_app.command("agreement")
def agreement(code: str, reference: str = typer.Option(..., help="The agreement's reference (R-VER-5).")) -> None:
    """Record the agreement of a specific user-auth verifier with J-LIS (R-VER-5)."""
    from myna.verifiers.registry import VerifierRegistry

    _show(_run(lambda: VerifierRegistry(_platform()).record_agreement(code, reference, _actor())))


@verifier_app.command("client-cert")
def client_cert(
    code: str,
    public_key: Path = typer.Option(
        ..., exists=True, dir_okay=False, readable=True, help="The verifier's public key (PEM SubjectPublicKeyInfo)."
    ),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Write the certificate here (PEM); default stdout."),
) -> None:
    """Issue a TLS client certificate for a verifier from the verifier CA."""
    issued = _run(lambda: build(_platform()).verifier_ca.issue_client_certificate(code, public_key.read_bytes(), _actor()))
    if out_file:
        out_file.write_text(issued.pem)
        err.print(f"client certificate {issued.serial} for {escape(code)} written to {escape(str(out_file))}")
    else:
        out.print(issued.pem, end="", highlight=False)


@verifier_app.command("token")
def token(code: str) -> None:
    """A bearer token bound to a verifier (for tools and the demo; mutual TLS is the production path)."""
    out.print(_run(lambda: build(_platform()).credentials.create_token(code, _actor())), highlight=False)


@verifier_app.command("ca")
def ca(out_file: Optional[Path] = typer.Option(None, "--out", help="Write the CA certificate here (PEM).")) -> None:
    """The verifier CA's certificate (created on first use)."""
    pem = _run(lambda: build(_platform()).verifier_ca.certificate_pem())
    if out_file:
        out_file.write_bytes(pem)
    else:
        out.print(pem.decode(), end="", highlight=False)


@verifier_app.command("consent-document")
def consent_document_cmd(
    verifier: str = typer.Argument(..., help="The verifier the consent is for."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Withdraw instead of grant."),
    out_file: Path = typer.Option(..., "--out", help="Where to write the document (sign it with `myna card sign`)."),
) -> None:
    """Write a consent document for the resident to sign with the card (R-VER-2)."""
    from myna.verifiers.consent import consent_document

    out_file.write_bytes(consent_document("withdraw" if withdraw else "grant", verifier))
    err.print(f"sign it within 10 minutes: myna card sign {escape(str(out_file))} --out {escape(str(out_file))}.p7s")


@verifier_app.command("consent")
def consent(
    document: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The consent document."),
    signature: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Its detached CMS signature by the card (DER)."),
) -> None:
    """Submit a card-signed consent document (grant or withdraw, R-VER-2)."""
    from myna.verifiers.consent import Consents

    state = _run(lambda: Consents(_platform()).submit(document.read_bytes(), signature.read_bytes()))
    out.print_json(json.dumps(state.to_json(), ensure_ascii=False))


@verifier_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (also the server certificate's name)."),
    port: int = typer.Option(8443, help="Port to listen on."),
) -> None:
    """Serve the API over mutual TLS: verifiers present client certificates from the verifier CA."""
    import uvicorn

    from myna.verifiers.mtls import server_config, write_server_files
    from myna.web.server import platform_app

    p = _platform()
    cert, key, ca_file = _run(lambda: write_server_files(build(p).verifier_ca, host))
    app_ = _run(lambda: platform_app(p, schedule=False))
    err.print(f"verifier endpoint on https://{host}:{port} (client certificates from {escape(str(ca_file))})")
    uvicorn.Server(server_config(app_, host, port, cert, key, ca_file, log_level="info", log_config=logs.uvicorn_log_config())).run()


@report_app.command("provision")
def provision(
    year: int = typer.Option(..., help="Calendar year (JST)."),
    out_dir: Path = typer.Option(Path("."), "--out", file_okay=False, help="Directory for the CSV and the PDF."),
) -> None:
    """The annual report on provision to verifiers (R-VER-6): CSV and PDF, counts per category."""
    from myna.verifiers.report import provision_report

    report = _run(lambda: provision_report(_platform(), year))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, pdf_path = out_dir / f"provision-{year}.csv", out_dir / f"provision-{year}.pdf"
    pdf = _run(report.pdf)
    csv_path.write_text(report.csv(), encoding="utf-8")
    pdf_path.write_bytes(pdf)
    table = Table("category", "provided", "refused")
    for r in report.rows:
        table.add_row(r.category.value, str(r.provided), str(r.refused))
    table.add_row("total", str(report.total_provided), str(report.total_refused))
    out.print(table)
    err.print(f"written {escape(str(csv_path))} and {escape(str(pdf_path))}")
