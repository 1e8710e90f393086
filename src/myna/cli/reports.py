"""``myna report``: the reports the platform publishes; today the annual report on
provision to verifiers (R-VER-6)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from myna.cli.common import err, open_platform, out, run

report_app = typer.Typer(help="Published reports.", no_args_is_help=True)


@report_app.command("provision")
def provision(
    year: int = typer.Option(..., help="Calendar year (JST)."),
    out_dir: Path = typer.Option(Path("."), "--out", file_okay=False, help="Directory for the CSV and the PDF."),
) -> None:
    """The annual report on provision to verifiers (R-VER-6): CSV and PDF, counts per category."""
    from myna.verifiers.report import provision_report

    report = run(lambda: provision_report(open_platform(), year))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, pdf_path = out_dir / f"provision-{year}.csv", out_dir / f"provision-{year}.pdf"
    pdf = run(report.pdf)
    csv_path.write_text(report.csv(), encoding="utf-8")
    pdf_path.write_bytes(pdf)
    table = Table("category", "provided", "refused")
    for r in report.rows:
        table.add_row(r.category.value, str(r.provided), str(r.refused))
    table.add_row("total", str(report.total_provided), str(report.total_refused))
    out.print(table)
    err.print(f"written {escape(str(csv_path))} and {escape(str(pdf_path))}")
