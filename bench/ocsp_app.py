"""What-if for bench/ocsp.py, not a product entry point: an ASGI factory that builds one
validity centre per process behind uvicorn and ``ValidityApp``, i.e. the server
``myna validity serve`` ran before it got its own (myna.validation.server): the
benchmark runs ``uvicorn --factory ocsp_app:make`` to measure the difference in one run.
(``--workers N`` runs N such centre processes behind one listening socket.)

Each worker opens the centre bundle ``MYNA_HOME/centres/$OCSPBENCH_CENTRE`` and its
replica (shared by the workers: SQLite in WAL mode, applying the feed is idempotent),
and runs its own SyncLoop over HTTP from ``$OCSPBENCH_SOURCE`` with ``$OCSPBENCH_TOKEN``,
exactly as ``myna validity serve --source`` does in its one process. Each worker keeps
its own pre-signed cache.
"""

from __future__ import annotations

import os

from myna.settings import Settings
from myna.validation.centre import Centre, CentreConfig
from myna.validation.feeds import HttpFeed
from myna.validation.http import SyncLoop, ValidityApp


def make():
    settings = Settings.from_env()
    name = os.environ["OCSPBENCH_CENTRE"]
    centre = Centre.from_bundle(settings.home / "centres" / name, CentreConfig(name=name))
    loop = SyncLoop(centre, HttpFeed(os.environ["OCSPBENCH_SOURCE"], os.environ["OCSPBENCH_TOKEN"]), interval=0.2)
    return ValidityApp(centre, lifespan_hooks=[loop.hook])
