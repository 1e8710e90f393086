"""``myna serve``: the platform's web interface, API and distribution points in one process."""

from __future__ import annotations

import typer

from myna.cli.common import open_platform, run


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    schedule: bool = typer.Option(True, help="Run the CRL schedule beside the server."),
) -> None:
    """Serve the web interface, the API and the distribution points."""
    import uvicorn

    from myna import logs
    from myna.validation.runtime import quiet_ocsp_access_log
    from myna.web.limits import BoundedHttpToolsProtocol
    from myna.web.server import platform_app

    p = open_platform()
    app_ = run(lambda: platform_app(p, schedule=schedule))
    # uvicorn configures logging here; its handlers mask what a line could leak (myna.logs).
    # The protocol adds a deadline and a size bound on each request's head, which uvicorn
    # lacks; the body limit is the app's (myna.web.limits.BodyLimit).
    config = uvicorn.Config(
        app_, host=host, port=port, log_level="info", log_config=logs.uvicorn_log_config(), http=BoundedHttpToolsProtocol
    )
    quiet_ocsp_access_log()
    uvicorn.Server(config).run()
