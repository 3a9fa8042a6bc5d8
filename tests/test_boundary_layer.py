"""The API layer's boundary tests (suites/api/test_boundaries.py) pass on a clean system and catch each fault of
the boundary families by exactly the check it breaks: the general checks find them, not tests aimed at each."""

from __future__ import annotations

import re

import pytest
from support import layer_copy

pytest_plugins = ["pytester"]

CAUGHT = {
    None: set(),
    "refresh-skips-person-check": {"test_a_refresh_checks_the_person_again[died]",
                                   "test_a_refresh_checks_the_person_again[got-samordningsnummer]",
                                   "test_a_refresh_checks_the_person_again[moved-to-region-not-joined]"},
    "ombud-age-off-by-one": {"test_ombud_ends_on_the_thirteenth_birthday[today]"},
    "idle-timeout-off-by-minutes": {"test_a_session_ends_one_second_past_the_idle_limit[30-min-and-1-s]"},
    "sso-ticket-ttl-long": {"test_an_sso_ticket_is_valid_for_60_seconds[at-60-s]"},
    "staff-unit-is-region": {
        "test_staff_reach_a_patient_only_through_their_own_units_relation[same-region-other-unit-False]"},
    "cross-region-care-relation-ignored": {
        "test_staff_reach_a_patient_only_through_their_own_units_relation[related-other-region-True]"},
    "staff-any-patient": {
        "test_staff_reach_a_patient_only_through_their_own_units_relation[same-region-other-unit-False]",
        "test_staff_reach_a_patient_only_through_their_own_units_relation[other-region-unit-False]"},
}


@pytest.fixture
def boundary_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The API layer's boundary module and its conftest (the private system), in a folder of their own."""
    return layer_copy(pytester, monkeypatch, "api", "test_boundaries.py")


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(CAUGHT), ids=[str(f) for f in CAUGHT])
def test_the_boundary_checks_catch_each_fault(boundary_suite: pytest.Pytester, fault: str | None) -> None:
    args = ["-p", "no:cacheprovider", "-rf"] + (["--sut-faults", fault] if fault else [])
    result = boundary_suite.runpytest_subprocess(*args, timeout=600)
    failed = set(re.findall(r"^FAILED test_boundaries\.py::(\S+)", result.stdout.str(), re.MULTILINE))
    assert failed == CAUGHT[fault], result.stdout.str()[-3000:]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 20 and not outcomes.get("error"), outcomes
