"""``myna crl``: certificate revocation lists."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from myna.cli.authorities import AuthorityChoice
from myna.cli.common import out, run, services

crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)


@crl_app.command("publish")
def crl_publish(
    kind: Optional[AuthorityChoice] = typer.Option(None, help="One CA (default: every CA)."),
    delta: bool = typer.Option(False, "--delta", help="A delta CRL instead of a full one."),
) -> None:
    """Build, sign and publish CRLs now."""
    crls = services().crls
    done = run(lambda: [crls.publish(kind.value, delta=delta, actor="cli")] if kind else crls.publish_all(delta=delta, actor="cli"))
    table = Table("CA", "number", "type", "entries", "next update")
    for d in done:
        table.add_row(d.authority, str(d.number), "delta" if d.is_delta else "full", str(d.entries), d.next_update.isoformat())
    out.print(table)
