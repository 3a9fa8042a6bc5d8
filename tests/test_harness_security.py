"""The security layer's judges, each pinned on answers written here: the policy fails closed and names its line,
triage needs a test id and a reason, headers, cookies, CORS and URLs are judged as the policy says, and a tampered
token is what an attacker without the key can make."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from harness import security

POLICY = security.load_policy()
PNR = "19121212-1212"  # Skatteverket's test number


def test_the_shipped_policy_loads_with_every_figure() -> None:
    assert POLICY.version >= 1 and POLICY.fail_severity in security.LEVELS and POLICY.paths == ("sut", "harness")
    assert "content-security-policy" in POLICY.pages and POLICY.hsts_min_seconds >= 15_552_000


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('fail_at_severity = "MEDIUM"', 'fail_at_severity = "SEVERE"'),
     "key 'static.fail_at_severity': expected one of LOW, MEDIUM, HIGH"),
    (lambda t: t.replace("hsts_min_seconds = 15552000", ""), "key 'headers.hsts_min_seconds': missing"),
    (lambda t: t.replace('paths = ["sut", "harness"]', 'paths = ["nowhere"]'), "key 'static.paths': expected folders"),
])
def test_a_broken_policy_names_the_key_and_fails_closed(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(edit(security.POLICY_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(security.PolicyError, match=r"policy\.toml") as caught:
        security.load_policy(path)
    assert message in str(caught.value)


def test_a_triaged_finding_needs_its_test_id_and_a_reason(tmp_path: Path) -> None:
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "a.py").write_text(
        "import subprocess  # nosec B404 # fixed argv of our own tools\n"
        "import pickle  # nosec\n"
        "x = 1  # nosec B101\n"
        's = "# nosec inside a string is no comment"\n', encoding="utf-8")
    problems = security.nosec_problems(("pkg",), root=tmp_path)
    assert problems == ["pkg/a.py:2: '# nosec' without 'BNNN # reason'",
                        "pkg/a.py:3: '# nosec' without 'BNNN # reason'"]
    assert security._triage(code / "a.py", 1, "B404") == "fixed argv of our own tools"
    assert security._triage(code / "a.py", 1, "B603") is None, "a reason for another test triages nothing"


def test_static_analysis_reports_an_untriaged_finding_above_the_threshold(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text("import yaml\n\ndef load(text):\n    return yaml.load(text)\n",
                                             encoding="utf-8")
    policy = security.Policy(**{**POLICY.__dict__, "paths": ("pkg",)})
    result = security.static_analysis(policy, tmp_path / "out", root=tmp_path)
    failing = result.failing(policy)
    assert [f.test_id for f in failing] == ["B506"] and failing[0].severity == "MEDIUM"
    sarif = json.loads((tmp_path / "out" / "bandit.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "B506" and "suppressions" not in sarif["runs"][0]["results"][0]


def _headers(**extra: str) -> httpx.Headers:
    base = {"x-content-type-options": "nosniff", "strict-transport-security": "max-age=31536000",
            "referrer-policy": "no-referrer", "x-frame-options": "DENY", "cache-control": "no-store",
            "content-security-policy": "default-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                                       "object-src 'none'; base-uri 'none'"}
    return httpx.Headers({**base, **extra})


def test_headers_are_judged_by_the_policy() -> None:
    assert security.header_problems(_headers(), kind="page", policy=POLICY) == []
    weak = _headers(**{"content-security-policy": "default-src *", "strict-transport-security": "max-age=60",
                       "server": "uvicorn"})
    found = security.header_problems(weak, kind="page", policy=POLICY)
    assert "content-security-policy lacks \"frame-ancestors 'none'\"" in found
    assert any("max-age 60" in f for f in found) and any("names its software" in f for f in found)
    assert security.header_problems(httpx.Headers({"x-content-type-options": "nosniff"}), kind="api",
                                    policy=POLICY)[:1] == ["no strict-transport-security header"]


def test_cookies_must_be_secure_httponly_and_samesite() -> None:
    assert security.cookie_problems(["sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"]) == []
    assert security.cookie_problems(["sid=; Max-Age=0; Path=/"]) == [], "a deletion carries nothing"
    assert security.cookie_problems(["sid=abc; Path=/; SameSite=None"]) == [
        "cookie sid is not Secure", "cookie sid is not HttpOnly", "cookie sid has SameSite=None"]


def test_cors_that_reflects_a_foreign_origin_is_caught() -> None:
    origin = "https://angripare.example"
    assert security.cors_problems(httpx.Headers({}), origin) == []
    assert security.cors_problems(httpx.Headers({"access-control-allow-origin": origin,
                                                 "access-control-allow-credentials": "true"}), origin) == [
        f"access-control-allow-origin reflects the foreign origin {origin} with credentials"]
    assert security.cors_problems(httpx.Headers({"access-control-allow-origin": "*",
                                                 "access-control-allow-credentials": "true"}), origin)


def test_secrets_in_a_url_are_found() -> None:
    keys = POLICY.secret_query_keys
    assert security.secrets_in("/inbox/550e8400-e29b-41d4-a716-446655440000?page=2", keys=keys) == []
    assert security.secrets_in(f"/welcome?personnummer={PNR}", keys=keys) == [
        "a personnummer at 22", "the query parameter personnummer"]
    assert security.secrets_in("/sso?ticket=abc", keys=keys) == ["the query parameter ticket"]
    assert security.secrets_in("/x?t=opaque-ticket-value", known=("opaque-ticket-value",)) == ["a known secret at 5"]


def test_tampered_tokens_fail_verification_by_the_true_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode({"sub": "a", "sid": "s", "aud": "x"}, key, algorithm="ES256", headers={"kid": "k1"})
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    variants = security.tampered_tokens(token, public)
    assert set(variants) == {"other-subject-same-signature", "signed-by-another-key", "hs256-with-the-public-key",
                             "alg-none", "signature-removed"}
    for name, forged in variants.items():
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(forged, key.public_key(), algorithms=["ES256"], audience="x")
        assert forged != token, name
    assert jwt.get_unverified_header(variants["signed-by-another-key"])["kid"] == "k1"


def test_an_audit_that_could_look_nothing_up_is_not_evaluated(tmp_path: Path, monkeypatch) -> None:
    """pip-audit exits 0 when the vulnerability service knows none of the packages: that is no pass."""
    skipped = {"dependencies": [{"name": "httpx", "version": "0.28.1",
                                 "skip_reason": "Dependency not found on PyPI and could not be audited: httpx"},
                                {"name": security.PROJECT_DISTRIBUTION, "version": "0.1.0", "skip_reason": "local"}],
               "fixes": []}
    audited = {"dependencies": [{"name": "httpx", "version": "0.28.1", "vulns": []}], "fixes": []}
    vulnerable = {"dependencies": [{"name": "httpx", "version": "0.1",
                                    "vulns": [{"id": "PYSEC-1", "fix_versions": ["0.2"]}]}]}
    for report, status in ((skipped, "not evaluated"), (audited, "passed"), (vulnerable, "failed")):
        def fake_run(args, *, cwd=security.ROOT, report=report, code=1 if status == "failed" else 0):
            Path(args[args.index("--output") + 1]).write_text(json.dumps(report), encoding="utf-8")
            return subprocess.CompletedProcess(args, code, "", "")

        monkeypatch.setattr(security, "_run", fake_run)
        result = security.dependency_audit(tmp_path / "audit.json")
        assert result.status == status, result

    def unreachable(args, *, cwd=security.ROOT):
        return subprocess.CompletedProcess(args, 1, "", "ConnectionError: could not reach pypi.org\n")

    monkeypatch.setattr(security, "_run", unreachable)
    result = security.dependency_audit(tmp_path / "none.json")
    assert result.status == "not evaluated" and "could not reach" in result.reason
