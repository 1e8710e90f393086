"""Fixtures for the validity-centre tests: an in-process centre over the ``platform``
fixture's store, driven by the ``clock`` fixture. Syncs happen only when a test calls
``centre.sync_once(build(platform).feed)``: nothing runs in the background."""

from __future__ import annotations

from pathlib import Path

import pytest

from myna.authority.platform import Platform
from myna.clock import FixedClock
from myna.validation.centre import Centre, CentreConfig
from myna.validation.feeds import DbFeed
from myna.validation.provision import provision
from myna.wiring import build


@pytest.fixture
def make_centre(platform: Platform, clock: FixedClock, tmp_path: Path):
    """``make_centre(**config)`` -> a Centre named "test" (unless ``name=``) with its own
    bundle and replica, on the test clock, never synced yet.

    Built from the bundle directly rather than with ``runtime.local_centre``, which does
    not hand the platform's clock to the centre (see the report: the lag bound could not
    be driven by a FixedClock through it)."""
    made: list[Centre] = []

    def make(**config) -> Centre:
        config.setdefault("name", "test")
        directory = provision(platform, config["name"], tmp_path / f"bundle-{config['name']}-{len(made)}", actor="test")
        c = Centre.from_bundle(directory, CentreConfig(**config), clock=clock)
        made.append(c)
        return c

    yield make
    for c in made:
        c.replica.close()


@pytest.fixture
def feed(platform: Platform) -> DbFeed:
    return build(platform).feed


@pytest.fixture
def centre(make_centre, feed) -> Centre:
    """An open-access centre, max_lag 5 s, synced once."""
    c = make_centre(max_lag_s=5.0)
    c.sync_once(feed)
    return c
