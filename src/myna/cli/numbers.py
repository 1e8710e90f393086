"""``myna number``: check an Individual Number, generate numbers for resident codes
(R-NUM-1, R-NUM-2). Needs no database: only the secret key in MYNA_HOME."""

from __future__ import annotations

from pathlib import Path

import typer

from myna.cli.common import err, out, progress, run
from myna.errors import MynaError
from myna.settings import Settings

number_app = typer.Typer(help="Individual Numbers: check and generate (R-NUM-1, R-NUM-2).", no_args_is_help=True)


@number_app.command("check")
def number_check(number: str = typer.Argument(..., help="A 12-digit Individual Number.")) -> None:
    """Exit 0 if NUMBER is a well-formed Individual Number, else 1 with the reason (R-NUM-2)."""
    from myna.numbering.individual_number import check_number

    try:
        check_number(number)
    except MynaError as exc:
        err.print(f"invalid: {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"valid: {number}")


@number_app.command("generate")
def number_generate(
    count: int = typer.Option(..., min=1, max=10**9, help="How many consecutive resident codes to number."),
    start: str = typer.Option("10000000000", help="First 11-digit resident code."),
    output: Path = typer.Option(..., "--out", help="CSV file to write: resident_code,number."),
    generation: int = typer.Option(0, min=0, help="Tweak generation (0 for first issue; higher after a leak)."),
) -> None:
    """Batch generation of numbers from resident codes with the platform's secret key.

    Numbers are a keyed permutation of the resident codes, so the batch has no duplicates
    by construction; the count of distinct numbers is checked anyway and printed."""
    import numpy as np

    from myna.numbering.codes import check_resident_code
    from myna.numbering.individual_number import NumberGenerator
    from myna.numbering.keyfile import load_or_create

    run(lambda: check_resident_code(start))
    if int(start) + count > 10**11:
        raise typer.BadParameter("the range runs past 99999999999")
    home = Settings.from_env().home
    generator = NumberGenerator(run(lambda: load_or_create(home)))
    chunk = 100_000  # NumPy works faster on chunks that stay in cache
    seen = 0
    with output.open("w") as f, progress() as bar:
        task = bar.add_task("generating numbers", total=count)
        f.write("resident_code,number\n")
        for offset in range(0, count, chunk):
            codes = np.arange(int(start) + offset, int(start) + min(count, offset + chunk), dtype=np.uint64)
            numbers = generator.numbers_for(codes, generation)
            seen += len(np.unique(numbers))
            f.writelines(f"{c:011d},{n:012d}\n" for c, n in zip(codes.tolist(), numbers.tolist()))
            bar.advance(task, len(codes))
    out.print(f"{count} numbers written to {output} ({seen} distinct per chunk)")
