"""The security layer (suites/security) catches each security fault of the reference system by the test that
checks it, and names the requirement. One run with every fault on: the faults break different tests, so the set
of failed tests shows each one caught (the layer passes clean in every release run, nox -s security)."""

from __future__ import annotations

import pytest
from support import assert_each_fault_caught, layer_copy

pytest_plugins = ["pytester"]

MODULES = ("judge.py", "test_http.py", "test_tokens.py", "test_logs.py")
# fault -> (the test that catches it, the requirement its failure names)
CAUGHT = {
    "missing-csp": ("test_http.py::test_every_page_and_api_answer_carries_the_security_headers", "BR-SEC-1"),
    "stacktrace-leak": ("test_http.py::test_an_error_shows_no_stack_trace_or_software", "BR-SEC-1"),
    "pnr-in-url": ("test_http.py::test_no_secret_travels_in_a_url_or_a_redirect", "OSL-25-1"),
    "cors-any-origin": ("test_http.py::test_no_foreign_site_may_read_the_answers", "BR-SEC-1"),
    "open-redirect": ("test_http.py::test_no_next_address_leads_to_another_site", "CSL-2-3"),
    "refresh-token-reuse": ("test_tokens.py::test_a_reused_refresh_token_ends_the_session", "BR-ID-2"),
    "sso-ticket-replay": ("test_tokens.py::test_an_sso_ticket_works_once", "BR-ID-3"),
    "token-not-yet-valid-accepted": (
        "test_tokens.py::test_a_token_signed_by_the_system_but_with_wrong_claims_is_refused[not-valid-for-an-hour]",
        "BR-ID-2"),
    "session-never-expires": ("test_tokens.py::test_a_web_session_left_idle_is_over", "BR-ID-2"),
    "token-in-log": ("test_logs.py::test_the_systems_log_holds_no_personnummer_or_token", "BR-SEC-1"),
}


@pytest.mark.slow
def test_the_security_layer_catches_each_fault_and_names_the_requirement(pytester: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    layer_copy(pytester, monkeypatch, "security", *MODULES)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-n", "2", "-rf", "--timeout", "300",
        "--sut-faults", ",".join(CAUGHT), timeout=900)
    assert_each_fault_caught(result.stdout.str(), CAUGHT)
