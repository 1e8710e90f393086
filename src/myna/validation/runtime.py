"""Assembling a running centre: inside ``myna serve`` (fed straight from the store) or on
its own (``myna validity serve``, fed from the store or over HTTP from another site)."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from myna.authority.platform import Platform
from myna.validation.centre import Centre, CentreConfig
from myna.validation.feeds import DbFeed
from myna.validation.http import SyncLoop, ValidityApp
from myna.validation.provision import bundle_dir, provision


def local_centre(platform: Platform, config: CentreConfig, directory: Path | None = None) -> tuple[Centre, SyncLoop]:
    """Provision (idempotently) and open a centre that syncs from this platform's store."""
    directory = provision(platform, config.name, directory, actor=f"centre:{config.name}")
    centre = Centre.from_bundle(directory, config, clock=platform.clock)
    return centre, SyncLoop(centre, DbFeed(platform))


def platform_app(platform: Platform, schedule: bool = True, centre_name: str = "platform"):
    """``myna serve``: the FastAPI app with the in-process centre answering /ocsp."""
    from myna.web.app import create_app

    centre, loop = local_centre(platform, CentreConfig(name=centre_name))
    api = create_app(platform, schedule=schedule, background=[loop.hook])
    app = ValidityApp(centre, fallback=api)
    # What is built so far lives as long as the process: out of the cyclic GC's way, so
    # full collections while serving scan only what serving creates.
    gc.collect()
    gc.freeze()
    return app


class _NoOcspAccessLines(logging.Filter):
    """Drops uvicorn's access-log line for /ocsp requests (a relying party's status check
    is not an event worth a log line, and at OCSP rates the line was a fifth of the
    process's CPU); the API's requests are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and args[2].startswith("/ocsp"))


def quiet_ocsp_access_log() -> None:
    """Install the filter on uvicorn's access logger (after uvicorn configured logging)."""
    logging.getLogger("uvicorn.access").addFilter(_NoOcspAccessLines())


__all__ = ["local_centre", "platform_app", "quiet_ocsp_access_log", "bundle_dir"]
