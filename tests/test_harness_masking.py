"""One masking function for every attachment, log and report; a run's files never hold an unmasked value."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pytest

from harness.api_client import curl_line
from harness.masking import (
    PNR_MASK,
    find_unmasked,
    mask,
    mask_data,
    mask_headers,
    personnummer_forms,
)
from sut import pnr

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
RNG = random.Random(20261127)
NUMBER = pnr.make(date(1987, 6, 5), RNG)
COORDINATION = pnr.make(date(1990, 1, 1), RNG, coordination=True)
JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"


@pytest.mark.parametrize("form", personnummer_forms(NUMBER) + personnummer_forms(COORDINATION))
def test_every_way_of_writing_a_personnummer_is_masked(form: str) -> None:
    for text in (form, f"pnr={form}", f'{{"personnummer": "{form}"}}', f"Patient {form}, inloggad",
                 f"/api/v1/lookup/{form}?x=1"):
        masked = mask(text)
        assert form not in masked, text
        assert PNR_MASK in masked


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {JWT}",
    "authorization: bearer opaque-token-value-1234",
    f'{{"access_token": "{JWT}", "refresh_token": "Zx8_abc-DEF-123456789", "token_type": "Bearer"}}',
    "{'refresh_token': 'Zx8_abc-DEF-123456789'}",
    "grant_type=refresh_token&refresh_token=Zx8_abc-DEF-123456789",
    "grant_type=authorization_code&code=Zx8_abc-DEF-123456789",
    "Set-Cookie: sid=Zx8_abc-DEF-123456789; HttpOnly; Secure; SameSite=Lax",
    "Cookie: sid=Zx8_abc-DEF-123456789",
    "POST /sso ticket=Zx8_abc-DEF-123456789&next=/inkorg",
    '{"ticket": "Zx8_abc-DEF-123456789", "expires_in": 60}',
    f"token {JWT} in a log line",
])
def test_tokens_cookies_and_tickets_are_masked(text: str) -> None:
    masked = mask(text)
    assert "Zx8_abc-DEF-123456789" not in masked
    assert JWT not in masked and "opaque-token-value-1234" not in masked
    assert mask(masked) == masked, "masking twice changes nothing"


def test_readable_values_stay_readable() -> None:
    text = ('{"start": 1764212345678, "iat": 1764212345, "status_code": 200, "expires_in": 300, '
            '"id": "550e8400-e29b-41d4-a716-446655440000", "phone": "+46701740612"}')
    assert mask(text) == text
    assert mask('WWW-Authenticate: Bearer realm="1177"') == 'WWW-Authenticate: Bearer realm="1177"'


def test_hex_ids_that_hold_a_personnummer_shaped_run_stay_readable(tmp_path: Path) -> None:
    """An Allure history id or attachment name is a hex digest; some hold ten or twelve digits that pass the date and
    check-digit test by chance (the leak scan of a clean release once failed on one)."""
    from harness.__main__ import scan

    digits = NUMBER.replace("-", "")
    ids = [f"ab{digits}cdef0123456789ab", f"{digits[:8]}-{digits[8:]}-4a1b-9c2d-0123456789ab", f"f00d{digits[2:]}beef"]
    text = json.dumps({"historyId": ids[0], "uuid": ids[1], "source": f"{ids[2]}-attachment.json"})
    assert mask(text) == text
    (tmp_path / "test-results.json").write_text(text, encoding="utf-8")
    assert scan(tmp_path) == []
    (tmp_path / "summary.json").write_text(f'{{"name": "{NUMBER}"}}', encoding="utf-8")
    assert scan(tmp_path) == ["summary.json: personnummer-like value at offset 10"]
    for form in (digits, NUMBER, digits[2:]):
        for text in (f"pnr{form}", f"x {form}g", f"id:{form}", f"{form}-cafe"):
            assert form not in mask(text), f"{text}: a personnummer next to hex letters is still one"


def test_headers_and_data_structures() -> None:
    headers = dict(mask_headers({"Authorization": f"Bearer {JWT}", "Cookie": "sid=abc", "Accept": "text/html"}))
    assert headers == {"Authorization": "Bearer [masked]", "Cookie": "[masked]", "Accept": "text/html"}
    data = mask_data({"person": {"personnummer": NUMBER, "name": "Åsa"}, "refresh_token": "abc", "list": [NUMBER]})
    assert NUMBER not in json.dumps(data) and data["person"]["name"] == "Åsa" and data["refresh_token"] == "[masked]"


def test_curl_line_is_masked_but_runnable_with_a_fresh_token() -> None:
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:8000/staff/v1/patients/lookup",
                            headers={"Authorization": f"Bearer {JWT}", "Cookie": "sid=abc"},
                            json={"personnummer": NUMBER})
    line = curl_line(request)
    assert JWT not in line and NUMBER not in line and "sid=abc" not in line
    assert '"Authorization: Bearer ${TOKEN}"' in line
    assert line.startswith("curl -sS -X POST") and "http://127.0.0.1:8000/staff/v1/patients/lookup" in line


LEAKY_TESTS = """
import json
import logging
from pathlib import Path

import allure
import pytest

NEEDLES = Path({needles!r})
FIXED = {fixed!r}


def _remember(*values):
    known = json.loads(NEEDLES.read_text()) if NEEDLES.exists() else []
    NEEDLES.write_text(json.dumps(known + [v for v in values if v]))


@pytest.mark.req("BR-SEC-1")
def test_leaks_everything(new_person, new_api_client):
    guardian = new_person("guardian")
    adult = new_person("adult")
    other = new_person("samordningsnummer")
    client = new_api_client(guardian)
    numbers = [guardian.personnummer, adult.personnummer, other.personnummer,
               *[child.personnummer for child in guardian.children]]
    _remember(*numbers, client.tokens.access_token, client.tokens.refresh_token)
    print("stdout:", numbers, client.tokens.access_token)
    logging.getLogger("leaky").warning("log: %s refresh_token=%s", numbers, client.tokens.refresh_token)
    allure.attach(f"raw attachment {{numbers}} Bearer {{client.tokens.access_token}}", name="raw")
    client.post("/sso/tickets", json={{"audience": "1177-eservices"}})
    client.get("/inbox/messages", headers={{"X-Debug": adult.personnummer}})
    assert False, f"failing with {{numbers}} and {{client.tokens.access_token}} {{client.tokens.refresh_token}}"


@pytest.mark.parametrize("number", [FIXED])
def test_number_in_test_id(number):
    assert number.startswith("19")
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["single", "xdist"])
def test_no_unmasked_value_gets_into_any_file_of_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                         mode: list[str]) -> None:
    """Seed persons and tokens, push them through every channel a test has, then scan every file of the run."""
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    needles_file = pytester.path / "needles.json"
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_leaky=LEAKY_TESTS.format(needles=str(needles_file), fixed=NUMBER))
    run_dir = pytester.path / "run"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *mode, f"--run-dir={run_dir}", f"--alluredir={run_dir / 'allure-results'}",
        f"--junitxml={run_dir / 'junit.xml'}", "-o", "log_level=INFO", timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    values = json.loads(needles_file.read_text())
    needles = {form for value in values for form in personnummer_forms(value)} | {NUMBER, *personnummer_forms(NUMBER)}
    assert len(values) >= 7
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) >= 5 and (run_dir / "junit.xml").exists() and (run_dir / "sut.log").exists()
    attachments = list((run_dir / "allure-results").glob("*-attachment*"))
    assert len(attachments) >= 4, "the failing test should have its exchanges, output and log attached"
    assert find_unmasked(run_dir, needles) == []
    junit = (run_dir / "junit.xml").read_text()
    assert PNR_MASK in junit and "[jwt]" in junit, "the failure text went through the mask"
    assert any("Bearer ${TOKEN}" in p.read_text() for p in attachments), "a runnable cURL line is attached"
    # The terminal output is masked too.
    assert find_unmasked_text(result.stdout.str(), needles) == []


def find_unmasked_text(text: str, needles: set[str]) -> list[str]:
    return [n for n in needles if n in text]


def test_find_unmasked_finds_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"x {NUMBER} y", encoding="utf-8")
    (tmp_path / "b.bin").write_bytes(b"\x00\xff" + NUMBER.encode())
    assert {p.name for p, _ in find_unmasked(tmp_path, [NUMBER])} == {"a.txt", "b.bin"}
