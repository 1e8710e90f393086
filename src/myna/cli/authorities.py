"""The certification authorities: ``myna init`` (the key ceremony), ``myna ca`` (list, get,
compromise) and ``myna notices`` (the public notices a compromise writes, R-REV-5)."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from typing import Optional

import typer
from rich.table import Table

from myna.cli.common import actor, err, open_platform, out, progress, run, services, write_json
from myna.pki.keys import KeyAlgorithm
from myna.pki.kinds import AuthorityKind

ca_app = typer.Typer(help="The certification authorities.", no_args_is_help=True)

AuthorityChoice = Enum("AuthorityChoice", {k.name: k.value for k in AuthorityKind}, type=str)


def init(
    operator: str = typer.Option(os.environ.get("USER", "operator"), help="Who performs the key ceremony (recorded)."),
    backend: Optional[str] = typer.Option(None, help="Key backend: file or pkcs11 (default MYNA_KEY_BACKEND or file)."),
    algorithm: KeyAlgorithm = typer.Option(KeyAlgorithm.RSA_2048, help="CA key algorithm."),
) -> None:
    """Key ceremony: create the root CA and the four issuing CAs that are missing (idempotent),
    then publish their first CRLs."""
    from myna.authority.ceremony import run_ceremony

    p = open_platform()
    with progress() as bar:
        task = bar.add_task("key ceremony", total=len(AuthorityKind))
        steps = run(lambda: run_ceremony(p, operator, backend, algorithm, progress=lambda _k: bar.advance(task)))
        bar.update(task, completed=len(AuthorityKind))
    if not steps:
        out.print("All authorities exist; nothing to do.")
        return
    crls = services(p).crls
    for ca, delta in crls.due():
        crls.publish_for(ca, delta=delta, actor=f"init:{operator}")
    table = Table("CA", "generation", "key", "SHA-256 fingerprint")
    for st in steps:
        table.add_row(st.kind, str(st.generation), f"{st.key_backend}:{st.key_ref}", st.sha256[:32] + "…")
    out.print(table)


def notices() -> None:
    """Public notices (e.g. issuer key compromise, R-REV-5)."""
    write_json(services().records.notices())


@ca_app.command("list")
def ca_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """The CA hierarchy, all generations."""
    from myna.web.routers.authorities import authorities_out

    rows = run(lambda: authorities_out(open_platform()))
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump() for r in rows], indent=1) + "\n")
        return
    table = Table("CA", "subject", "state", "key", "not after")
    for r in rows:
        table.add_row(
            r.slug, r.subject, "active" if r.active else ("compromised" if r.compromised_at else "retired"), r.key_backend, r.not_after[:10]
        )
    out.print(table)


@ca_app.command("get")
def ca_get(
    kind: AuthorityChoice = typer.Argument(..., help="root, card-sign, card-auth, mobile-sign or mobile-auth."),
    pem: bool = typer.Option(True, "--pem/--der", help="PEM (default) or raw DER on stdout."),
    chain: bool = typer.Option(False, "--chain", help="The CA certificate followed by its issuers up to the root."),
) -> None:
    """Print the active CA certificate of a kind."""
    from cryptography.hazmat.primitives.serialization import Encoding

    p = open_platform()
    ca = run(lambda: p.authority(kind.value))
    certs = [ca.cert]
    if chain and ca.kind is not AuthorityKind.ROOT:
        certs.append(run(lambda: p.authority(AuthorityKind.ROOT)).cert)
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
    if not yes:
        err.print("error: this revokes every certificate the CA signed; repeat with --yes")
        raise typer.Exit(1)
    done = run(lambda: services().revocation.compromise_authority(kind.value, actor(), note))
    out.print(compromised(done))


def compromised(done) -> str:
    """The line that reports a CA retired after a key compromise (``ca compromise``, ``revoke``)."""
    return (
        f"{done.authority} CA retired; {done.revoked} certificates revoked; public notice written. Run `myna init` for the next generation."
    )
