"""``myna validity``: the validity centres (OCSP responders and CRL distribution), each
provisioned from the platform and then run on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from myna.cli.common import actor, err, open_platform, out, run, services, settings

validity_app = typer.Typer(help="Validity centres: OCSP responders and CRL distribution.", no_args_is_help=True)


@validity_app.command("provision")
def validity_provision(
    centre: str = typer.Option("primary", help="Centre name (a-z, 0-9, -)."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Bundle directory (default MYNA_HOME/centres/NAME)."),
) -> None:
    """Issue this centre's delegated OCSP responder certificates (idempotent) and write its bundle."""
    from myna.validation.provision import provision

    p = open_platform()
    where = run(lambda: provision(p, centre, directory, actor=actor()))
    out.print(f"centre {centre}: bundle in {where}")


@validity_app.command("serve")
def validity_serve(
    centre: str = typer.Option("primary", help="Centre name; its bundle and replica live in MYNA_HOME/centres/NAME."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8001, min=0, max=65535, help="Port to listen on."),
    source: Optional[str] = typer.Option(None, help="Platform base URL to replicate from over HTTP (default: the local store)."),
    token: Optional[str] = typer.Option(None, envvar="MYNA_CENTRE_TOKEN", help="A `centre` token for --source."),
    access: str = typer.Option("open", help="open (test environments) or verifiers (registered verifiers only, R-VER-1)."),
    max_lag: float = typer.Option(5.0, min=0.0, help="Seconds without a completed sync after which 'good' is no longer answered."),
    interval: float = typer.Option(0.2, min=0.01, help="Seconds between feed polls."),
    cache_entries: int = typer.Option(250_000, min=1, help="Serials whose pre-signed responses are kept in memory (about 1.2 KB each)."),
) -> None:
    """Run one validity centre on its own: OCSP at /ocsp/{ca}, CRLs at /crl/{ca}.crl, /healthz.

    Stops cleanly on SIGINT or SIGTERM."""
    import gc

    from myna.validation.centre import Centre, CentreConfig
    from myna.validation.feeds import HttpFeed
    from myna.validation.http import SyncLoop
    from myna.validation.provision import bundle_dir, check_centre_name, provision
    from myna.validation.server import serve as serve_centre

    if access not in ("open", "verifiers"):
        raise typer.BadParameter("--access must be open or verifiers")
    run(lambda: check_centre_name(centre))
    conf = settings()
    config = CentreConfig(name=centre, max_lag_s=max_lag, open_access=access == "open", cache_entries=cache_entries)
    if source:
        if not token:
            raise typer.BadParameter("--source needs --token (or MYNA_CENTRE_TOKEN): create one with `myna token create --role centre`")
        directory = conf.home / "centres" / centre
        if not (directory / "bundle.json").exists():
            err.print(
                f"error: no bundle in {directory}: run `myna validity provision --centre {centre} --dir {directory}` where the CAs are"
            )
            raise typer.Exit(1)
        feed = HttpFeed(source, token)
    else:
        p = open_platform()
        directory = run(lambda: provision(p, centre, bundle_dir(p, centre), actor=f"centre:{centre}"))
        feed = services(p).feed
    c = Centre.from_bundle(directory, config)
    # Everything built so far lives as long as the process: out of the cyclic GC's way,
    # so full collections while serving scan only what serving creates.
    gc.collect()
    gc.freeze()
    try:
        serve_centre(c, SyncLoop(c, feed, interval=interval), host, port)
    except OSError as exc:  # the address is taken, or not ours to bind
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from None
