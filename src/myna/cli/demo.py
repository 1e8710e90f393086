"""``myna demo``: a platform with synthetic residents to try things on."""

from __future__ import annotations

import typer

from myna.cli.common import open_platform, out, progress, run


def demo(residents: int = typer.Option(20, min=1, max=100_000, help="How many synthetic residents.")) -> None:
    """Synthetic residents with a card signature and a card user-auth certificate each (idempotent)."""
    from myna import demo as demo_mod
    from myna.authority.ceremony import run_ceremony

    p = open_platform()
    run(lambda: run_ceremony(p, "demo"))
    with progress() as bar:
        task = bar.add_task("issuing demo certificates", total=residents * 2)
        result = run(lambda: demo_mod.run(p, residents, progress=lambda: bar.advance(task)))
    out.print(f"{result['created']} certificates issued, {result['existing']} already there. API tokens: {result['tokens_file']}")
