"""Fixtures of the mobile layer beyond the harness plugins (fixtures/appium.py gives the device)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.sut import LiveTarget


@pytest.fixture
def rate_limited(target_up: LiveTarget) -> Callable[[float], None]:
    """What a flow's login does when the identity provider's limit stops the harness's own logins."""
    from fixtures.api import login_rate_limit_handler

    return login_rate_limit_handler(target_up)
