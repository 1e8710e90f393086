"""What every command group shares: opening the platform and its services, turning a
refused input into one line on stderr, and the output helpers.

Errors print one clear line on stderr and never a traceback: status 2 for a malformed
command line (the argument parser's), 1 for input the platform refuses.

Only light modules are imported at the top here (typer, rich, myna.settings, myna.errors): every
group module imports this one, and ``myna --help`` imports every group module.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Callable, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from myna.errors import MynaError
from myna.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from myna.authority.platform import Platform
    from myna.wiring import Services

T = TypeVar("T")

# soft_wrap: a long line (a path, a token, a JSON document) is printed whole, not folded
# at the terminal's width. The chip group keeps a folding console of its own (chip.py).
out = Console(soft_wrap=True)
err = Console(stderr=True)


def settings() -> Settings:
    """The settings from the environment, with logging configured by them."""
    from myna import logs  # structlog: a third of `myna --help`'s time, so only when a command runs

    s = Settings.from_env()
    logs.configure(s.log_format)
    return s


def open_platform(migrate: bool = True) -> Platform:
    """The platform (store, keys, clock) of this command, migrated to the current schema
    (``migrate=False``: as it is, for the commands that only read and must change nothing)."""
    from myna.authority.platform import Platform

    return Platform.open(settings(), migrate=migrate)


def services(p: Platform | None = None) -> Services:
    """The services of this command, from the composition root (one set per command)."""
    from myna import wiring

    return wiring.build(p if p is not None else open_platform())


def fail(exc: MynaError) -> NoReturn:
    # The message may quote user input: escape it so "[b]" in a name is printed, not styled.
    err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1) from None


def run(fn: Callable[[], T]) -> T:
    """``fn()``, with a refusal by the platform (a :class:`MynaError`) as exit status 1."""
    try:
        return fn()
    except MynaError as exc:
        fail(exc)


def actor() -> str:
    """Who the journal records for this command."""
    return f"cli:{os.environ.get('USER', 'operator')}"


def progress() -> Progress:
    """A progress bar on stderr, so stdout stays the command's result."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err
    )


def print_json(data) -> None:
    """``data`` as highlighted JSON on stdout (dates and the like as their ``str``)."""
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def write_json(data) -> None:
    """``data`` as plain indented JSON on stdout, for scripts (``--json``, ``show``)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


__all__ = ["actor", "err", "fail", "out", "open_platform", "print_json", "progress", "run", "services", "settings", "write_json"]
