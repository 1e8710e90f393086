"""``myna cards``: card management (SPEC §6) for J-LIS operators — print number
notices, import scanned paper applications, run production and shipping, look up an
application by receipt number, follow lead times, send expiry notices, suspend a card.
The virtual chip itself is ``myna chip`` (chip.py). See docs/card-management.md."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from myna.cli.common import actor, out, print_json, run, services

cards_app = typer.Typer(
    help="Card management: notices, applications, production, shipping, lead times, expiry (SPEC §6).", no_args_is_help=True
)


class By(str, Enum):
    day = "day"
    month = "month"


@cards_app.command("mail-notices")
def mail_notices(
    out_file: Path = typer.Option(..., "--out", help="Where to write the PDF of the letters."),
    municipality: Optional[str] = typer.Option(None, help="Only this municipality's residents."),
    limit: int = typer.Option(1000, min=1, max=10_000),
) -> None:
    """Print the number notices not yet mailed, each with its QR application form (R-CARD-1)."""

    def go():
        mailed, pdf = services().applications.mail_notices(actor(), municipality, limit)
        if pdf is None:
            out.print("no notices to mail")
            return
        out_file.write_bytes(pdf)
        out.print(f"{len(mailed)} notices mailed: {out_file}")

    run(go)


@cards_app.command("notice-returned")
def notice_returned(notice_id: str = typer.Argument(...), reason: str = typer.Option(..., help="Why the post office returned it.")) -> None:
    """Record a notice returned by the post office; it is not sent again."""
    run(lambda: print_json(services().applications.mark_returned(notice_id, reason, actor())))


@cards_app.command("import-paper")
def import_paper(path: Path = typer.Argument(..., help="JSON Lines of scanned forms (see docs/card-management.md).")) -> None:
    """Import scanned paper applications; a file with a bad line is refused whole (exit 1)."""

    def go():
        result = services().applications.import_paper(path, actor())
        out.print(f"{result['forms']} forms: {result['new']} new, {result['accepted']} accepted, {result['defective']} defective")

    run(go)


@cards_app.command("status")
def status(receipt: str = typer.Argument(..., help="The receipt number (application id).")) -> None:
    """The status of an application, as anyone with its receipt number sees it."""
    run(lambda: print_json(services().applications.status(receipt)))


@cards_app.command("produce")
def produce(
    size: int = typer.Option(1000, min=1, max=10_000, help="Cards per production batch."),
    batches: int = typer.Option(1, min=0, max=1000, help="New batches to run after finishing any left open."),
    chunk: int = typer.Option(100, min=1, max=10_000, help="Cards personalised together (one certificate issuance each)."),
) -> None:
    """Finish production batches a crash left open, then produce new ones (R-CARD-3)."""

    def go():
        results = services().production.produce(actor(), size, batches, chunk=chunk)
        for r in results:
            out.print(f"batch {r.batch_id}: {r.produced} produced, {r.already} already produced, {r.cancelled} cancelled of {r.size}")
        if not results:
            out.print("nothing to produce")

    run(go)


@cards_app.command("ship")
def ship() -> None:
    """Ship every produced card to its municipality, one shipment and manifest each."""

    def go():
        shipped = services().production.ship(actor())
        for x in shipped:
            out.print(
                f"shipment {x['shipment_id']} to {x['municipality_code']}: {x['cards']} cards, manifest sha256 {x['manifest_sha256']}"
            )
        if not shipped:
            out.print("nothing to ship")

    run(go)


@cards_app.command("alerts")
def alerts(within: int = typer.Option(2, min=0, max=30, help="Counted days left.")) -> None:
    """Applications about to miss their lead-time deadline, or past it (R-CARD-4)."""
    run(lambda: print_json(services().applications.alerts(within)))


@cards_app.command("lead-time")
def lead_time(by: By = typer.Option(By.day)) -> None:
    """Lead time from receipt to shipment: max and mean per day or month (R-CARD-4)."""
    run(lambda: print_json(services().applications.lead_time_report(by.value)))


@cards_app.command("expiry-notices")
def expiry_notices(out_file: Optional[Path] = typer.Option(None, "--out", help="Write the letters as PDF here.")) -> None:
    """Send the expiry notices due (about three months ahead, R-CARD-8)."""

    def go():
        notices, pdf = services().card_management.expiry_notices(actor(), pdf=out_file is not None)
        if out_file is not None and pdf is not None:
            out_file.write_bytes(pdf)
        print_json(notices)

    run(go)


@cards_app.command("suspend")
def suspend(card_id: str = typer.Argument(...), note: Optional[str] = typer.Option(None)) -> None:
    """Suspend a card (一時利用停止, R-CARD-7): its certificates are revoked at once."""
    run(lambda: print_json(services().card_management.suspend(card_id, actor(), note)))
