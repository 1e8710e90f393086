"""Assembling a running centre: inside ``myna serve`` (fed straight from the store) or on
its own (``myna validity serve``, fed from the store or over HTTP from another site)."""

from __future__ import annotations

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
    return ValidityApp(centre, fallback=api)


__all__ = ["local_centre", "platform_app", "bundle_dir"]
