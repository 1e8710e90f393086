"""``myna store``: the store as a whole; today its digest, the check that two sites, or a
site and its restored backup (scripts/backup.sh), hold the same records."""

from __future__ import annotations

import typer
from rich.table import Table

from myna.cli.common import err, open_platform, out, run, services, write_json

store_app = typer.Typer(help="The store as a whole: its digest.", no_args_is_help=True)


DIGEST_HELP = (
    "Counts and SHA-256 digests of the records: equal on two stores exactly when they hold the same records.\n\n"
    "Row counts of every table, and digests of the CAs, the issuance and revocation records, the status feed and the audit log, "
    "read in one snapshot; the same on SQLite and PostgreSQL. Reads only: never migrates, and refuses a store at another "
    "schema revision than this myna's (docs/operations.md)."
)


@store_app.command("digest", help=DIGEST_HELP)
def digest(as_json: bool = typer.Option(False, "--json", help="Print the digest as JSON (for scripts and comparisons).")) -> None:
    p = run(lambda: open_platform(migrate=False))
    digests = services(p).digests
    if err.is_terminal:
        from myna.cli.common import progress

        with progress() as bar:
            task = bar.add_task("digesting records", total=None)
            result = run(lambda: digests.compute(progress=lambda n: bar.advance(task, n), total=lambda n: bar.update(task, total=n)))
    else:
        result = run(digests.compute)
    p.close()
    if as_json:
        write_json(result.to_json())
        return
    counts = Table("table", "rows", title=f"schema {result.schema}")
    for name, n in result.counts.items():
        counts.add_row(name, str(n))
    out.print(counts)
    # Plain lines, not a table: a table would cut the digests to the terminal's width.
    width = max(len(name) for name in result.sections)
    for name, d in result.sections.items():
        out.print(f"{name:<{width}}  {d.rows:>10}  {d.sha256}", highlight=False)
    out.print(f"digest ({result.format}): {result.sha256}", highlight=False)
