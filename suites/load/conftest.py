"""The load layer's fixtures: one control client of the live target, and the SLO policy (load/slo.toml)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.sut import LiveTarget
from harness.load import LOAD_DIR, Policy, load_policy
from harness.load_run import ControlClient


@pytest.fixture(scope="session")
def slo_policy() -> Policy:
    return load_policy(LOAD_DIR / "slo.toml")


@pytest.fixture(scope="module")
def control(private_target: LiveTarget) -> Iterator[ControlClient]:
    """The control API and the gateways' inspection API: seeding and accounting, never the load itself. On a
    reference system of the layer's own: its gateway faults and resets must not reach other layers' tests."""
    live_target = private_target
    if not live_target.has_control or "gateway_inspect" not in live_target.urls:
        pytest.skip(f"target {live_target.target.name!r}: the load layer seeds through the control API and counts "
                    "through the fake gateways, which only the reference system has")
    client = ControlClient(live_target.urls["base"], live_target.urls["gateway_inspect"])
    yield client
    client.close()
