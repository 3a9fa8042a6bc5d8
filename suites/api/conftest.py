"""Fixtures of the API layer beyond the harness plugins: a private reference system whose clock may move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.sut import LiveTarget, joined
from fixtures.target import TargetChoice
from harness.shared_sut import SharedSut


@pytest.fixture(scope="session")
def private_target(target_choice: TargetChoice, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveTarget]:
    """A reference system of this process's own, with the run's faults, for tests that move its clock.

    Moving the clock of the shared system would expire every other test's tokens at the same moment, so
    expiry is tested here, where nothing else runs.
    """
    target = target_choice.target
    if not target.is_embedded:
        pytest.skip(f"target {target.name!r}: expiry is tested only on the embedded target (its clock moves)")
    shared = SharedSut(tmp_path_factory.mktemp("private-sut"), faults=list(target_choice.faults),
                       start_timeout=float(target.embedded.get("start_timeout", 60)))
    try:
        with joined(shared, target, "the private reference system did not start") as live:
            yield live
    finally:
        shared.shutdown()
