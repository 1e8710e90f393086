"""``myna serve``: the platform's web app with a validity centre in the same process
answering /ocsp, fed straight from the store. Assembled here, above both: the centre
(:mod:`myna.validation`) knows nothing of the web app."""

from __future__ import annotations

import gc

from myna.authority.platform import Platform
from myna.validation.centre import CentreConfig
from myna.validation.http import ValidityApp
from myna.validation.runtime import local_centre
from myna.wiring import Services, build


def platform_app(platform: Platform, schedule: bool = True, centre_name: str = "platform", services: Services | None = None):
    """The FastAPI app with the in-process centre answering /ocsp."""
    from myna.web.app import create_app

    services = services or build(platform)
    centre, loop = local_centre(platform, CentreConfig(name=centre_name), services.feed)
    api = create_app(platform, schedule=schedule, background=[loop.hook], services=services)  # one root for the app and its centre
    app = ValidityApp(centre, fallback=api)
    # What is built so far lives as long as the process: out of the cyclic GC's way, so
    # full collections while serving scan only what serving creates.
    gc.collect()
    gc.freeze()
    return app


__all__ = ["platform_app"]
