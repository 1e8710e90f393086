"""The ``myna`` command. Thin: parses arguments, asks the services (myna.wiring) and
prints their results. One module per command group; common.py holds what they share
(opening the platform, the one-line errors, the consoles).

``myna --help`` imports this package and every group module, so those import only typer,
rich and a few enums at the top; each command imports what it runs when it runs.
"""

from __future__ import annotations

import typer

from myna.cli import authorities, certificates, demo, serve
from myna.cli.authorities import ca_app
from myna.cli.cards import cards_app
from myna.cli.certificates import cert_app
from myna.cli.chip import card_alias, chip_app
from myna.cli.crl import crl_app
from myna.cli.drills import drill_app
from myna.cli.numbers import number_app
from myna.cli.reports import report_app
from myna.cli.residents import residents_app
from myna.cli.sites import sites_app
from myna.cli.store import store_app
from myna.cli.tokens import token_app
from myna.cli.validity import validity_app
from myna.cli.verifiers import verifier_app

app = typer.Typer(
    help="myna: the Individual Number Card platform (JPKI CAs, revocation, CRLs).", no_args_is_help=True, pretty_exceptions_enable=False
)

# The order here is the order `myna --help` lists them in (commands first, then groups).
app.command()(authorities.init)
app.command()(serve.serve)
app.command()(demo.demo)
app.command()(certificates.revoke)
app.command()(authorities.notices)

app.add_typer(cert_app, name="cert")
app.add_typer(ca_app, name="ca")
app.add_typer(crl_app, name="crl")
app.add_typer(token_app, name="token")
app.add_typer(validity_app, name="validity")
app.add_typer(number_app, name="number")
app.add_typer(residents_app, name="residents")
app.add_typer(chip_app, name="chip")
# The chip's old name, one letter from `myna cards`: hidden, and says so on stderr.
app.add_typer(chip_app, name="card", hidden=True, callback=card_alias, help="The old name of `myna chip`.")
app.add_typer(cards_app, name="cards")
app.add_typer(verifier_app, name="verifier")
app.add_typer(report_app, name="report")
app.add_typer(sites_app, name="sites")
app.add_typer(drill_app, name="drill")
app.add_typer(store_app, name="store")


def main() -> None:
    """The ``myna`` console script."""
    app()


__all__ = ["app", "main"]
