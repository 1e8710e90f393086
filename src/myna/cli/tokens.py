"""``myna token``: API credentials for people and centres (a verifier's token is
``myna verifier token``)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from myna.cli.common import run, services

token_app = typer.Typer(help="API credentials.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: str = typer.Option(
        ..., help="operator, municipality, auditor, call-centre or centre (verifier tokens: `myna verifier token CODE`)."
    ),
    label: str = typer.Option(..., help="Whose token this is."),
    municipality: Optional[str] = typer.Option(None, help="For role municipality: its 6-digit code."),
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    from myna.access.roles import Role
    from myna.access.tokens import PLAIN_ROLES

    if role not in {x.value for x in PLAIN_ROLES}:
        hint = "; a verifier's token is made with `myna verifier token CODE`" if role.startswith("verifier") else ""
        raise typer.BadParameter(f"role must be one of {', '.join(x.value for x in PLAIN_ROLES)}{hint}")
    sys.stdout.write(run(lambda: services().tokens.create(Role(role), label, municipality)) + "\n")
