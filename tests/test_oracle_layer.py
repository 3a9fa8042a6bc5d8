"""The API layer's fuzzing catches each fault of the "whose data" family by its oracles of ownership, a general
check on every answer, not by a test aimed at the fault; and passes the same operations on a clean system."""

from __future__ import annotations

import re

import pytest
from support import layer_copy

pytest_plugins = ["pytester"]

OPERATIONS = "listDevices or getAuditExtract or getStaffMessage or listBookings"
# fault -> the fuzzing tests its oracles fail (the operation whose answers hold someone else's data).
CAUGHT = {
    None: set(),
    "device-list-all": {"test_operation[mobile-listDevices-positive]"},
    "audit-extract-others": {"test_operation[mobile-getAuditExtract-positive]"},
    "staff-read-other-unit": {"test_operation[staff-getStaffMessage-positive]"},
    "booking-list-ignores-acting-for": {"test_operation[mobile-listBookings-positive]"},
}


@pytest.fixture
def fuzz_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return layer_copy(pytester, monkeypatch, "api", "test_fuzz.py")


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(CAUGHT), ids=[str(f) for f in CAUGHT])
def test_the_oracles_catch_each_fault(fuzz_suite: pytest.Pytester, fault: str | None) -> None:
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-rf", "-k", OPERATIONS, "--fuzz-budget", "10"]
    result = fuzz_suite.runpytest_subprocess(*args, *(["--sut-faults", fault] if fault else []), timeout=600)
    out = result.stdout.str()
    failed = set(re.findall(r"^FAILED test_fuzz\.py::(\S+)", out, re.MULTILINE))
    # The positive cases reach for the records; a negative case that still gets the list sees the leak too.
    operations = {name.split("-")[1] for name in CAUGHT[fault]}
    assert CAUGHT[fault] <= failed and all(name.split("-")[1] in operations for name in failed), out[-3000:]
    if fault:
        assert "Whose data: [" in out and "unknown record" not in out, out[-3000:]
    assert result.parseoutcomes().get("passed", 0) >= 6, result.parseoutcomes()
