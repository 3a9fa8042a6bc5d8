"""A 500 from the system is reported as a server error with the masked cURL line of the request that caused it,
never as a broken business rule: of the test's requirements only BR-SEC-1 (never a 500) is broken."""

from __future__ import annotations

import json
import re

import pytest

from harness.evidence import CATEGORIES

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
TESTS = """
import httpx
import pytest
from harness.api_client import ApiClient

def answer(status):
    return httpx.MockTransport(lambda request: httpx.Response(status, json={"title": "x"}))

@pytest.mark.req("BR-INBOX-1", "BR-SEC-1")
def test_inbox_crashes(api_recorder):
    client = ApiClient("http://127.0.0.1:9/api/v1", label="patient", recorder=api_recorder, transport=answer(500))
    assert client.get("/inbox/messages").status_code == 200, "the inbox did not open (BR-INBOX-1)"

@pytest.mark.req("BR-PROXY-1")
def test_ombud_refused_wrongly(api_recorder):
    client = ApiClient("http://127.0.0.1:9/api/v1", label="guardian", recorder=api_recorder, transport=answer(403))
    assert client.get("/bookings").status_code == 200, "the ombud was refused (BR-PROXY-1)"
"""


def test_a_500_is_a_server_error_not_a_broken_rule(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_crash=TESTS)
    run_dir = pytester.path / "run"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--run-dir={run_dir}")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "server error: the system answered 5xx to" in out
    assert "curl -sS -X GET" in out and "http://127.0.0.1:9/api/v1/inbox/messages" in out
    assert "this failure breaks: BR-SEC-1" in out and "this failure breaks: BR-PROXY-1" in out
    written = json.loads((run_dir / "requirements.json").read_text())["requirements"]
    statuses = {req_id: row["status"] for req_id, row in written.items()}
    assert statuses["BR-SEC-1"] == "failed" and statuses["BR-PROXY-1"] == "failed"
    assert statuses["BR-INBOX-1"] == "not reviewed"  # the 500 is no verdict on the inbox rule


def test_the_report_files_server_errors_before_broken_requirements() -> None:
    first = CATEGORIES[0]
    message = "server error: the system answered HTTP 500, not a verdict on access (BR-SEC-1)\nline two BR-PROXY-1"
    assert first["name"].startswith("Server error") and re.fullmatch(first["messageRegex"], message)
