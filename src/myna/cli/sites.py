"""``myna sites``: the two-site lab on one machine (main centre and backup centre), with
PostgreSQL under Patroni and etcd, HAProxy in front, a platform and a validity centre at
each site. ``bash scripts/sites.sh`` installs the engines and runs these."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from myna.cli.common import err, out

sites_app = typer.Typer(help="The two-site lab: main and backup centre on one machine (Patroni, etcd, HAProxy).", no_args_is_help=True)

_DIR = typer.Option(None, "--dir", file_okay=False, help="The lab's base directory (default $MYNA_SITES_DIR or /tmp/myna-sites).")
_PORT = typer.Option(27000, "--base-port", min=1024, max=65135, help="First of the ~300 ports the lab uses.")
_COMPONENT = typer.Argument(..., help="etcd, db, platform, centre or lb.")
_SITE = typer.Argument(..., help="a or b (etcd also w, the witness).")


def _lab(directory: Path | None, base_port: int):
    from myna.sites.lab import Lab, default_dir
    from myna.sites.topology import Topology

    return Lab(Topology(directory or default_dir(), base_port), progress=lambda m: err.print(f"[dim]{m}[/]"))


def _run(fn):
    from myna.sites.lab import LabError
    from myna.sites.processes import StartFailed

    try:
        return fn()
    except (LabError, StartFailed) as exc:
        err.print(f"[bold red]error[/]: {exc}", highlight=False)
        raise typer.Exit(1) from None


@sites_app.command("up")
def up(directory: Optional[Path] = _DIR, base_port: int = _PORT) -> None:
    """Start both sites (idempotent); the first time also creates the cluster, the CAs and the credentials."""
    lab = _lab(directory, base_port)
    _run(lab.up)
    _print_status(lab)


@sites_app.command("down")
def down(
    directory: Optional[Path] = _DIR,
    base_port: int = _PORT,
    remove: bool = typer.Option(False, "--remove", help="Also delete the lab's data."),
) -> None:
    """Stop every process of the lab (and with --remove, delete its data)."""
    _run(lambda: _lab(directory, base_port).down(remove=remove))
    err.print("the lab is down")


@sites_app.command("status")
def status(directory: Optional[Path] = _DIR, base_port: int = _PORT, as_json: bool = typer.Option(False, "--json")) -> None:
    """What runs at each site, and which database node is primary."""
    lab = _lab(directory, base_port)
    if as_json:
        out.print_json(json.dumps(lab.status()))
        return
    _print_status(lab)


@sites_app.command("kill")
def kill(
    component: str = _COMPONENT,
    site: str = _SITE,
    directory: Optional[Path] = _DIR,
    base_port: int = _PORT,
    gentle: bool = typer.Option(False, help="An orderly stop (SIGTERM) instead of a crash (SIGKILL)."),
) -> None:
    """Stop one part of one site, as a failure would."""
    _run(lambda: _lab(directory, base_port).kill(component, site, hard=not gentle))


@sites_app.command("start")
def start(component: str = _COMPONENT, site: str = _SITE, directory: Optional[Path] = _DIR, base_port: int = _PORT) -> None:
    """Start one part of one site again."""
    _run(lambda: _lab(directory, base_port).start(component, site))


@sites_app.command("env")
def env(directory: Optional[Path] = _DIR, base_port: int = _PORT) -> None:
    """Shell lines for a client of the lab: both sites' URLs and the drill operator's token."""
    lab = _lab(directory, base_port)
    tokens = _run(lab.tokens)
    a, b = lab.t.sites
    for k, v in {
        "MYNA_SITE_A_URL": a.platform_url,
        "MYNA_SITE_B_URL": b.platform_url,
        "MYNA_SITE_A_OCSP": a.ocsp_url,
        "MYNA_SITE_B_OCSP": b.ocsp_url,
        "MYNA_OPERATOR_TOKEN": tokens.operator,
    }.items():
        typer.echo(f"export {k}={v}")


def _print_status(lab) -> None:
    table = Table("site", "etcd", "database", "platform", "centre", "balancer", "front door")
    for name, s in lab.status().items():
        if name == "witness":
            table.add_row("witness", "up" if s["etcd"] else "down", "", "", "", "", "")
            continue
        yes = lambda v: "up" if v else "[red]down[/]"  # noqa: E731
        db = str(s["db"]) + (f" (lag {s['db_lag']})" if s.get("db_lag") not in (None, 0) else "")
        table.add_row(name, yes(s["etcd"]), db, yes(s["platform"]), yes(s["centre"]), yes(s["lb"]), str(s["platform_url"]))
    out.print(table)
