"""Helpers shared by the project's own tests (importable from any test module below tests/)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS_PLUGINS = ("fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", "fixtures.evidence",
                   "fixtures.report")


def reset_keeping_faults(http: httpx.Client) -> None:
    """Reset the clock and the rate limits through the control API, keeping the faults that are switched on."""
    active = http.get("/_sut/faults").json()["active"]
    assert http.post("/_sut/reset").status_code == 200
    assert http.put("/_sut/faults", json={"active": active}).status_code == 200


class FaultSwitch:
    """Faults are global to the running system: switch some on, then back to what was on before."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.before: list[str] = http.get("/_sut/faults").json()["active"]

    def on(self, *names: str) -> None:
        response = self.http.put("/_sut/faults", json={"active": sorted({*self.before, *names})})
        assert response.status_code == 200, response.text

    __call__ = on

    def off(self) -> None:
        assert self.http.put("/_sut/faults", json={"active": self.before}).status_code == 200



def app_tokens(http: httpx.Client, personnummer: str) -> dict[str, Any]:
    """The IdP's direct flow for a person: a code, then the token response (access and refresh token)."""
    code = http.post("/idp/api/login", json={"personnummer": personnummer, "method": "bankid"})
    assert code.status_code == 200, code.text
    tokens = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code.json()["code"]})
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def staff_token(http: httpx.Client, hsa_id: str) -> str:
    """An access token for a staff member (simulated SITHS login at the IdP)."""
    code = http.post("/idp/api/staff-login", json={"hsa_id": hsa_id})
    assert code.status_code == 200, code.text
    tokens = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code.json()["code"]})
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["access_token"]


def problem(response: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem+json answer of ``status`` (and ``type``); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    assert "traceback" not in body and "Traceback" not in response.text  # BR-SEC-1: no stack traces
    if type_:
        assert body["type"] == type_
    return body


def write_remote_target(path: Path, *, sensitive: bool | None = True, extra: str = "") -> Path:
    """A target file for a remote environment named after the file; ``sensitive=None`` leaves the key out."""
    flag = "" if sensitive is None else f"sensitive = {str(sensitive).lower()}\n"
    path.write_text(f"""name = "{path.stem}"
kind = "remote"
{flag}[urls]
base = "https://api.test.1177.example"
idp = "https://idp.test.1177.example/idp"
mobile_api = "https://api.test.1177.example/api/v1"
mobile_openapi = "https://api.test.1177.example/api/v1/openapi.json"
staff_api = "https://api.test.1177.example/staff/v1"
staff_openapi = "https://api.test.1177.example/staff/v1/openapi.json"
{extra}""", encoding="utf-8")
    return path


def layer_copy(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, layer: str, *modules: str,
               browser: bool = False) -> pytest.Pytester:
    """A layer's conftest and ``modules`` of suites/<layer>, in the pytester folder of their own, with the
    harness's plugins, on the default target (the embedded system)."""
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    suite = ROOT / "suites" / layer
    plugins = [*HARNESS_PLUGINS[:4], *(["fixtures.browser"] if browser else []), *HARNESS_PLUGINS[4:]]
    pytester.makeconftest((suite / "conftest.py").read_text(encoding="utf-8") + f"\npytest_plugins = {plugins!r}\n")
    for name in modules:
        pytester.makepyfile(**{name.removesuffix(".py"): (suite / name).read_text(encoding="utf-8")})
    return pytester


def assert_each_fault_caught(output: str, caught: dict[str, tuple[str, str]]) -> None:
    """A layer's run with faults on (``caught``: fault -> (the test that must fail, a requirement its failure must
    name)): exactly those tests failed, and each failure's "this failure breaks" line names its requirement."""
    failed = set(re.findall(r"^FAILED (test_\w+\.py::\S+)", output, re.MULTILINE))
    assert failed == {test for test, _ in caught.values()}, output[-6000:]
    sections = dict(re.findall(r"^_+ (test_\w+(?:\[[^\]]*\])?) _+$\n(.*?)(?=^_+ test_|^={3,} )", output,
                               re.MULTILINE | re.DOTALL))
    for fault, (test, requirement) in caught.items():
        section = sections.get(test.split("::")[1], "")
        broken = re.search(r"this failure breaks: (.*)", section)
        assert broken and requirement in broken.group(1), f"{fault}: {test} does not name {requirement}"
