"""``myna verifier``: the verifier registry, agreements, credentials and the mutual-TLS
endpoint (SPEC §5). See docs/verifiers.md."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from myna.access.entitlements import VerifierType
from myna.cli.common import actor, err, open_platform, out, print_json, run, services

verifier_app = typer.Typer(
    help="Verifiers (SPEC §5): registry, agreements, client certificates, the mutual-TLS endpoint.", no_args_is_help=True
)


def _show(v) -> None:
    print_json(v.to_json())


@verifier_app.command("register")
def register(
    code: str = typer.Argument(..., help="The verifier's code (letters, digits, ._-)."),
    name: str = typer.Option(..., help="Organisation name."),
    type: VerifierType = typer.Option(..., "--type", help="Kind of verifier."),
    operator: Optional[str] = typer.Option(None, help="For an entrusting business: its platform operator's code."),
) -> None:
    """Register a verifier (or a business entrusting a platform operator)."""
    p = open_platform()
    _show(run(lambda: services(p).verifiers.register(code, name, type, actor(), operator)))


@verifier_app.command("list")
def list_(type: Optional[VerifierType] = typer.Option(None, "--type", help="Only this kind.")) -> None:
    """Registered verifiers."""
    p = open_platform()
    table = Table("code", "name", "type", "status", "operator", "agreement")
    for v in run(lambda: services(p).verifiers.list(type)):
        table.add_row(escape(v.code), escape(v.name), v.type.value, v.status.value, v.operator_code or "", escape(v.agreement_ref or ""))
    out.print(table)


@verifier_app.command("show")
def show(code: str) -> None:
    _show(run(lambda: services().verifiers.get(code)))


def _status(code: str, status: str, note: Optional[str]) -> None:
    _show(run(lambda: services().verifiers.set_status(code, status, actor(), note)))


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
    _show(run(lambda: services().verifiers.record_agreement(code, reference, actor())))


@verifier_app.command("client-cert")
def client_cert(
    code: str,
    public_key: Path = typer.Option(
        ..., exists=True, dir_okay=False, readable=True, help="The verifier's public key (PEM SubjectPublicKeyInfo)."
    ),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Write the certificate here (PEM); default stdout."),
) -> None:
    """Issue a TLS client certificate for a verifier from the verifier CA."""
    issued = run(lambda: services().verifier_ca.issue_client_certificate(code, public_key.read_bytes(), actor()))
    if out_file:
        out_file.write_text(issued.pem)
        err.print(f"client certificate {issued.serial} for {escape(code)} written to {escape(str(out_file))}")
    else:
        out.print(issued.pem, end="", highlight=False)


@verifier_app.command("token")
def token(code: str) -> None:
    """A bearer token bound to a verifier (for tools and the demo; mutual TLS is the production path)."""
    out.print(run(lambda: services().credentials.create_token(code, actor())), highlight=False)


@verifier_app.command("ca")
def ca(out_file: Optional[Path] = typer.Option(None, "--out", help="Write the CA certificate here (PEM).")) -> None:
    """The verifier CA's certificate (created on first use)."""
    pem = run(lambda: services().verifier_ca.certificate_pem())
    if out_file:
        out_file.write_bytes(pem)
    else:
        out.print(pem.decode(), end="", highlight=False)


@verifier_app.command("consent-document")
def consent_document_cmd(
    verifier: str = typer.Argument(..., help="The verifier the consent is for."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Withdraw instead of grant."),
    out_file: Path = typer.Option(..., "--out", help="Where to write the document (sign it with `myna chip sign`)."),
) -> None:
    """Write a consent document for the resident to sign with the card (R-VER-2)."""
    from myna.verifiers.consent import consent_document

    out_file.write_bytes(consent_document("withdraw" if withdraw else "grant", verifier))
    err.print(f"sign it within 10 minutes: myna chip sign {escape(str(out_file))} --out {escape(str(out_file))}.p7s")


@verifier_app.command("consent")
def consent(
    document: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The consent document."),
    signature: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Its detached CMS signature by the card (DER)."),
) -> None:
    """Submit a card-signed consent document (grant or withdraw, R-VER-2)."""
    state = run(lambda: services().consents.submit(document.read_bytes(), signature.read_bytes()))
    print_json(state.to_json())


@verifier_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (also the server certificate's name)."),
    port: int = typer.Option(8443, help="Port to listen on."),
) -> None:
    """Serve the API over mutual TLS: verifiers present client certificates from the verifier CA."""
    import uvicorn

    from myna import logs
    from myna.verifiers.mtls import server_config, write_server_files
    from myna.web.server import platform_app

    p = open_platform()
    sv = services(p)
    cert, key, ca_file = run(lambda: write_server_files(sv.verifier_ca, host))
    app_ = run(lambda: platform_app(p, schedule=False, services=sv))
    err.print(f"verifier endpoint on https://{host}:{port} (client certificates from {escape(str(ca_file))})")
    uvicorn.Server(server_config(app_, host, port, cert, key, ca_file, log_level="info", log_config=logs.uvicorn_log_config())).run()
