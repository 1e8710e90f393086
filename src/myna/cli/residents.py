"""``myna residents``: the resident register's scheduled rule and its municipalities (R-RES-1)."""

from __future__ import annotations

import typer
from rich.markup import escape

from myna.cli.common import err, out, run, services

residents_app = typer.Typer(help="Residents and municipalities (R-RES-1).", no_args_is_help=True)


@residents_app.command("run-due")
def residents_run_due() -> None:
    """Apply the 30-day move-in rule now (R-REV-3); `myna serve` runs it every 30 s."""
    report = run(lambda: services().registry.apply_due(actor="cli"))
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
    run(lambda: services().registry.register_municipality(code, name, actor="cli"))
    out.print(f"registered {code} {name}")
