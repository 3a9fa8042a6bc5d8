"""The web layer's WebView and region checks (suites/web) pass on a clean system and catch each fault of the
WebView hand-over, print rules and regions by exactly the tests that check it, in the app's WebView profile."""

from __future__ import annotations

import re

import pytest
from support import layer_copy

pytest_plugins = ["pytester"]

MODULES = ("flows.py", "pages.py", "test_webview.py", "test_regions.py")
CAUGHT = {
    None: set(),
    "print-shown-in-app": {"test_webview.py::test_print_and_download_hidden_in_the_app[app-webview]"},
    "region-not-joined-served": {"test_regions.py::test_region_not_joined_hands_over_to_1177_se[app-webview]"},
    "sso-ticket-replay": {"test_webview.py::test_sso_ticket_works_once[app-webview]"},
    "webview-login-loop": {"test_webview.py::test_expired_web_session_reruns_sso_without_a_login_loop[app-webview]"},
    "sso-cookie-lost": {"test_webview.py::test_cookies_survive_the_hand_over[app-webview]",
                        # the renewed hand-over loses its cookie too, so the user never gets back in
                        "test_webview.py::test_expired_web_session_reruns_sso_without_a_login_loop[app-webview]"},
}
REQUIREMENT = {"print-shown-in-app": "BR-REG-3", "region-not-joined-served": "BR-REG-1",
               "sso-ticket-replay": "BR-ID-3", "webview-login-loop": "BR-ID-3", "sso-cookie-lost": "BR-ID-3"}


@pytest.fixture
def web_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The web layer's WebView and region modules with their conftest, in a folder of their own."""
    return layer_copy(pytester, monkeypatch, "web", *MODULES, browser=True)


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(CAUGHT), ids=[str(f) for f in CAUGHT])
def test_the_web_layer_catches_each_fault(web_suite: pytest.Pytester, fault: str | None) -> None:
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-rf", "--devices", "app-webview",
            "-k", "not video", "--timeout", "300"] + (["--sut-faults", fault] if fault else [])
    result = web_suite.runpytest_subprocess(*args, timeout=600)
    output = result.stdout.str()
    failed = set(re.findall(r"^FAILED (test_\w+\.py::\S+)", output, re.MULTILINE))
    assert failed == CAUGHT[fault], output[-3000:]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 5 - len(CAUGHT[fault]) and not outcomes.get("error"), outcomes
    if fault:
        assert f"this failure breaks: {REQUIREMENT[fault]}" in output, "the failure names the requirement"
