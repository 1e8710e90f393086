"""Assembling a running centre: inside ``myna serve`` (fed straight from the store, see
:mod:`myna.web.server`) or on its own (``myna validity serve``, fed from the store or over
HTTP from another site)."""

from __future__ import annotations

import logging
from pathlib import Path

from myna.authority.platform import Platform
from myna.validation.centre import Centre, CentreConfig, FeedSource
from myna.validation.http import SyncLoop
from myna.validation.provision import bundle_dir, provision


def local_centre(platform: Platform, config: CentreConfig, feed: FeedSource, directory: Path | None = None) -> tuple[Centre, SyncLoop]:
    """Provision (idempotently) and open a centre that syncs from ``feed`` (inside the
    platform process: the store, ``Services.feed``)."""
    directory = provision(platform, config.name, directory, actor=f"centre:{config.name}")
    centre = Centre.from_bundle(directory, config, clock=platform.clock)
    return centre, SyncLoop(centre, feed)


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


__all__ = ["local_centre", "quiet_ocsp_access_log", "bundle_dir"]
