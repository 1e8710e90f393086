"""``myna drill``: the monthly failure drills (002 第9表; SPEC R-OPS-3) against the two-site lab."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from myna.cli.common import err, out

drill_app = typer.Typer(help="Failure drills against the two-site lab (`myna sites`): fault, repair, report.", no_args_is_help=True)


@drill_app.command("list")
def drill_list() -> None:
    """The scenarios, one per failure type the sources drill."""
    from myna.drills.scenarios import SCENARIOS

    table = Table("scenario", "failure type", "fault")
    for s in SCENARIOS.values():
        table.add_row(s.name, s.title, s.what)
    table.add_row(
        "batch-failover",
        "Database failover during a big issuance batch",
        "kill the primary half-way through a --batch-request batch, then run it again",
    )
    out.print(table)


@drill_app.command("run")
def drill_run(
    scenario: str = typer.Argument(..., help="A scenario from `myna drill list`."),
    report: Path = typer.Option(
        Path("drill-reports"), "--report", file_okay=False, help="Directory for the report (a folder per scenario)."
    ),
    directory: Optional[Path] = typer.Option(
        None, "--dir", file_okay=False, help="The lab's base directory (default $MYNA_SITES_DIR or /tmp/myna-sites)."
    ),
    base_port: int = typer.Option(27000, "--base-port", min=1024, max=65135, help="First of the lab's ports."),
    warmup: float = typer.Option(15.0, min=1.0, max=3600.0, help="Seconds of load before the fault."),
    hold: float = typer.Option(30.0, min=1.0, max=3600.0, help="Seconds the fault lasts before the repair."),
    cooldown: float = typer.Option(15.0, min=1.0, max=3600.0, help="Seconds of load after the repair."),
    workers: int = typer.Option(3, min=1, max=64, help="Load threads (each plays residents at the counter)."),
    batch: int = typer.Option(10_000, min=10, max=100_000, help="batch-failover: requests in the batch."),
) -> None:
    """Bring the lab up (or use it), run the load, inject the fault, repair it, and write
    report.json, report.md and timeline.svg. Exit status 0 if every promise held, 1 if not."""
    from myna.drills.runner import Timing, run
    from myna.drills.scenarios import SCENARIOS
    from myna.sites.lab import Lab, LabError, default_dir
    from myna.sites.processes import StartFailed
    from myna.sites.topology import Topology

    if scenario not in SCENARIOS and scenario != "batch-failover":
        err.print(f"[bold red]error[/]: no scenario {scenario!r}; `myna drill list` shows them: {', '.join(SCENARIOS)}")
        raise typer.Exit(2)
    lab = Lab(Topology(directory or default_dir(), base_port), progress=lambda m: err.print(f"[dim]{m}[/]"))
    try:
        if scenario == "batch-failover":
            from myna.drills import batch as batch_drill

            body = batch_drill.run(lab, report / scenario, n=batch, progress=lambda m: err.print(m, highlight=False))
        else:
            body = run(
                lab,
                scenario,
                report / scenario,
                Timing(warmup_s=warmup, hold_s=hold, cooldown_s=cooldown, workers=workers),
                progress=lambda m: err.print(m, highlight=False),
            )
    except (LabError, StartFailed) as exc:
        err.print(f"[bold red]error[/]: {exc}", highlight=False)
        raise typer.Exit(1) from None
    table = Table("promise", "figure", "held")
    for p in body["promises"]:
        table.add_row(p["promise"], str(p["figure"]), "yes" if p["held"] else "[red]no[/]")
    out.print(table)
    raise typer.Exit(0 if body["passed"] else 1)
