"""The authority tests issue for :data:`myna_testing.DEFAULT_RESIDENT` (``issue_request``'s
resident): it is on the register, as :func:`myna_testing.adult_basic4` says, at
:data:`myna_testing.DEFAULT_MUNICIPALITY`, because issuance is only for a resident on
the register and from the register's record (R-CERT-4, R-RA-1)."""

from __future__ import annotations

import pytest
from myna_testing import register_resident

from myna.authority.platform import Platform


@pytest.fixture
def platform(platform: Platform) -> Platform:
    register_resident(platform)
    return platform
