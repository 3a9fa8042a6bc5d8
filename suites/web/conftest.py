"""Fixtures of the web layer beyond the harness plugins: the fake push gateways' records, and the control API of
the private system whose clock may move (fixtures/sut.py ``private_target``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.sut import LiveTarget
from harness.control import ControlApi
from sut.push.inspector import GatewayInspector


@pytest.fixture
def gateways(target_urls: dict[str, str]) -> Iterator[GatewayInspector]:
    """The fake APNs/FCM's inspection API: what each device was sent (embedded target only)."""
    if "gateway_inspect" not in target_urls:
        pytest.skip("the target has no fake push gateways to read a delivered deep link from")
    with GatewayInspector(target_urls["gateway_inspect"]) as inspector:
        yield inspector


@pytest.fixture
def clock_control(private_target: LiveTarget) -> Iterator[ControlApi]:
    """The private system's control API (private_target); its clock and limits are reset after the test."""
    with ControlApi(private_target.urls["control"]) as api:
        yield api
        api.reset()
