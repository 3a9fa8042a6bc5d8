"""The security layer's library: its policy, static analysis with triage, the SBOM and the dependency audit, and the
judges of what an attacker looks at in HTTP answers (headers, cookies, CORS, what URLs carry) and tampered tokens.

Free of pytest (suites/security is the layer; tests/test_harness_security.py pins each judge).

- ``load_policy(path)``: ``suites/security/policy.toml``, versioned; a broken file names the file, the key and the
  line. Every figure the layer judges by is there, none in code.
- ``static_analysis(paths, out, policy)``: bandit over the code, every finding with its triage. A finding is
  triaged when its line carries ``# nosec BNNN # <reason>``; the layer fails on an untriaged finding at or above
  the policy's severity and confidence, and on a ``nosec`` without a test id or a reason. Writes
  ``bandit.json`` (every finding, triaged or not) and ``bandit.sarif`` (the open ones) into ``out``.
- ``sbom(out)`` (CycloneDX, of the running environment) and ``dependency_audit(out)``: an audit that cannot reach
  its vulnerability data is "not evaluated", with the reason, never "passed".
- ``header_problems``, ``cookie_problems``, ``cors_problems``, ``secrets_in``: each returns what is wrong, in words.
- ``tampered_tokens(token, public_jwk)``: what an attacker makes from a token without the signing key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shlex
import subprocess  # nosec B404 # fixed argument lists of the project's own tools, never a shell
import sys
import tokenize
import tomllib
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from .masking import _JWT, _PNR, is_personnummer
from .targets import key_line

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "suites" / "security" / "policy.toml"
LEVELS = ("LOW", "MEDIUM", "HIGH")
TOOL_TIMEOUT = 300  # seconds for bandit, the SBOM and the audit each
PROJECT_DISTRIBUTION = "app1177-harness"  # this project, installed from its tree: nothing to look up


class PolicyError(ValueError):
    """A security policy that cannot be used; the message names the file, the key and the line."""


@dataclass(frozen=True)
class Policy:
    version: int
    paths: tuple[str, ...]
    fail_severity: str
    fail_confidence: str
    every_response: dict[str, str]  # header -> what its value must contain, on every answer
    pages: dict[str, tuple[str, ...]]  # header -> what its value must contain, on every HTML page
    api: dict[str, str]  # header -> what its value must contain, on every API answer
    hsts_min_seconds: int
    forbidden_in_errors: tuple[str, ...]  # what an error answer never shows (stack traces, versions)
    secret_query_keys: tuple[str, ...]  # query parameters that would carry a secret in a URL
    path: Path = field(default=POLICY_FILE, compare=False)


def load_policy(path: Path = POLICY_FILE) -> Policy:
    text = path.read_text(encoding="utf-8")
    try:
        shown = str(path.relative_to(ROOT))
    except ValueError:
        shown = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{shown}: not valid TOML: {exc}") from None

    def fail(key: tuple[str, ...], message: str) -> PolicyError:
        line = key_line(text, key)
        return PolicyError(f"{shown}{f', line {line}' if line else ''}: key {'.'.join(key)!r}: {message}")

    def need(key: tuple[str, ...], kind: type | tuple[type, ...]) -> Any:
        node: Any = data
        for part in key:
            if not isinstance(node, dict) or part not in node:
                raise fail(key, "missing (the policy fails closed: every figure must be given)")
            node = node[part]
        if not isinstance(node, kind) or (isinstance(node, bool) and kind is int):
            raise fail(key, f"expected {getattr(kind, '__name__', kind)}, got {type(node).__name__}")
        return node

    version = need(("version",), int)
    severity = need(("static", "fail_at_severity"), str).upper()
    confidence = need(("static", "fail_at_confidence"), str).upper()
    for key, value in ((("static", "fail_at_severity"), severity), (("static", "fail_at_confidence"), confidence)):
        if value not in LEVELS:
            raise fail(key, f"expected one of {', '.join(LEVELS)}, got {value!r}")
    paths = need(("static", "paths"), list)
    if not paths or not all(isinstance(p, str) and (ROOT / p).is_dir() for p in paths):
        raise fail(("static", "paths"), "expected folders of the project, e.g. [\"sut\", \"harness\"]")
    pages = need(("headers", "pages"), dict)
    for name, wanted in pages.items():
        if not (isinstance(wanted, str) or (isinstance(wanted, list) and all(isinstance(w, str) for w in wanted))):
            raise fail(("headers", "pages", name), "expected a string or an array of strings")
    return Policy(
        version=version, paths=tuple(paths), fail_severity=severity, fail_confidence=confidence,
        every_response={k.lower(): str(v) for k, v in need(("headers", "every"), dict).items()},
        pages={k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in pages.items()},
        api={k.lower(): str(v) for k, v in need(("headers", "api"), dict).items()},
        hsts_min_seconds=need(("headers", "hsts_min_seconds"), int),
        forbidden_in_errors=tuple(need(("errors", "never_show"), list)),
        secret_query_keys=tuple(k.lower() for k in need(("urls", "secret_query_keys"), list)),
        path=path)


# --- static analysis ---------------------------------------------------------------------------------------------

NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
NOSEC_TRIAGED = re.compile(r"^\s*(?P<ids>B\d{3}(?:\s*,\s*B\d{3})*)\s*#\s*(?P<reason>\S.{4,})$")


@dataclass(frozen=True)
class StaticFinding:
    test_id: str
    test_name: str
    severity: str
    confidence: str
    file: str
    line: int
    text: str
    triage: str | None  # the reason written beside the code, or None when nobody has looked at it

    def at_or_above(self, policy: Policy) -> bool:
        return LEVELS.index(self.severity) >= LEVELS.index(policy.fail_severity) and \
            LEVELS.index(self.confidence) >= LEVELS.index(policy.fail_confidence)

    def describe(self) -> str:
        level = f"{self.severity}/{self.confidence}"
        return f"{self.file}:{self.line}: {self.test_id} {self.test_name} ({level}): {self.text}"


@dataclass(frozen=True)
class StaticResult:
    findings: tuple[StaticFinding, ...]
    bad_nosec: tuple[str, ...]  # silencing comments without test ids or a reason
    tool: str  # bandit's version
    lines_of_code: int

    def failing(self, policy: Policy) -> list[StaticFinding]:
        return [f for f in self.findings if f.triage is None and f.at_or_above(policy)]

    def untriaged(self) -> list[StaticFinding]:
        return [f for f in self.findings if f.triage is None]


def _run(args: list[str], *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """One of the project's tools, by this interpreter, with a fixed argument list (no shell)."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True,  # noqa: S603 # nosec B603 # fixed argv
                          timeout=TOOL_TIMEOUT, check=False)


def _triage(file: Path, line: int, test_id: str) -> str | None:
    """The reason beside a finding: ``# nosec BNNN # reason`` on its line (or the statement's first line)."""
    try:
        source = file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for text in source[max(0, line - 1): line + 2]:
        match = NOSEC.search(text)
        if match:
            triaged = NOSEC_TRIAGED.match(match["rest"])
            if triaged and test_id in re.split(r"\s*,\s*", triaged["ids"]):
                return triaged["reason"].strip()
    return None


def nosec_problems(paths: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Every ``nosec`` comment that does not say which test it silences and why (comments only, by tokenize)."""
    found = []
    for folder in paths:
        for file in sorted((root / folder).rglob("*.py")):
            with file.open("rb") as source:
                comments = [(t.start[0], t.string) for t in tokenize.tokenize(source.readline)
                            if t.type == tokenize.COMMENT]
            for number, text in comments:
                match = NOSEC.search(text)
                if match and not NOSEC_TRIAGED.match(match["rest"]):
                    found.append(f"{file.relative_to(root)}:{number}: '# nosec' without 'BNNN # reason'")
    return found


def static_analysis(policy: Policy, out: Path, *, root: Path = ROOT) -> StaticResult:
    """bandit over the policy's folders; ``out`` gets bandit.json (all findings, with triage) and bandit.sarif."""
    out.mkdir(parents=True, exist_ok=True)
    every = _run([sys.executable, "-m", "bandit", "-r", *policy.paths, "-q", "--ignore-nosec", "-f", "json"],
                 cwd=root)
    if every.returncode not in (0, 1) or not every.stdout.strip():
        raise RuntimeError(f"bandit failed (exit {every.returncode}): {every.stderr.strip()[-800:]}")
    data = json.loads(every.stdout)
    sarif = _run([sys.executable, "-m", "bandit", "-r", *policy.paths, "-q", "--ignore-nosec", "-f", "sarif",
                  "-o", str(out / "bandit.sarif")], cwd=root)
    if sarif.returncode not in (0, 1):
        raise RuntimeError(f"bandit (SARIF) failed (exit {sarif.returncode}): {sarif.stderr.strip()[-800:]}")
    shown = re.search(r"\d+\.\d+(\.\d+)?", _run([sys.executable, "-m", "bandit", "--version"], cwd=root).stdout)
    version = f"bandit {shown.group(0) if shown else 'unknown'}"
    findings = tuple(StaticFinding(
        test_id=r["test_id"], test_name=r["test_name"], severity=r["issue_severity"],
        confidence=r["issue_confidence"], file=r["filename"], line=r["line_number"], text=r["issue_text"],
        triage=_triage(root / r["filename"], r["line_number"], r["test_id"])) for r in data["results"])
    result = StaticResult(findings=findings, bad_nosec=tuple(nosec_problems(policy.paths, root)), tool=version,
                          lines_of_code=int(data.get("metrics", {}).get("_totals", {}).get("loc", 0)))
    _mark_suppressed(out / "bandit.sarif", findings)
    (out / "bandit.json").write_text(json.dumps({
        "tool": version, "paths": list(policy.paths), "lines_of_code": result.lines_of_code,
        "threshold": {"severity": policy.fail_severity, "confidence": policy.fail_confidence},
        "findings": [{**f.__dict__, "status": "triaged" if f.triage else "open"} for f in findings],
        "bad_nosec": list(result.bad_nosec)}, indent=1), encoding="utf-8")
    return result


def _mark_suppressed(path: Path, findings: tuple[StaticFinding, ...]) -> None:
    """SARIF 2.1.0 keeps a triaged finding as a result with an in-source suppression and its justification, so a
    SARIF viewer shows what was looked at and why, next to what is open."""
    document = json.loads(path.read_text(encoding="utf-8"))
    for run in document.get("runs", []):
        # Bandit's SARIF and JSON give a multi-line expression different lines: pair the results of one file and
        # rule in the order of their lines.
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for result in run.get("results", []):
            location = result.get("locations", [{}])[0].get("physicalLocation", {})
            key = (location.get("artifactLocation", {}).get("uri", ""), result.get("ruleId", ""))
            groups.setdefault(key, []).append(result)
        for (uri, rule), results in groups.items():
            ours = sorted((f for f in findings if f.file == uri and f.test_id == rule), key=lambda f: f.line)
            results.sort(key=lambda r: r["locations"][0]["physicalLocation"].get("region", {}).get("startLine", 0))
            for result, finding in zip(results, ours, strict=False):
                if finding.triage:
                    result["suppressions"] = [{"kind": "inSource", "justification": finding.triage}]
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


# --- supply chain --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditResult:
    status: str  # passed, failed, not evaluated
    reason: str
    vulnerabilities: tuple[dict[str, Any], ...] = ()


def sbom(out: Path) -> dict[str, Any]:
    """The running environment as a CycloneDX JSON SBOM in ``out`` (cyclonedx-py); returns the document."""
    out.parent.mkdir(parents=True, exist_ok=True)
    made = _run([sys.executable, "-m", "cyclonedx_py", "environment", "--output-format", "JSON",
                 "--output-file", str(out), sys.executable])
    if made.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the SBOM could not be made (exit {made.returncode}): {made.stderr.strip()[-800:]}")
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def dependency_audit(out: Path) -> AuditResult:
    """pip-audit of the running environment against its vulnerability service; written to ``out`` as JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    ran = _run([sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
                "--output", str(out), "--timeout", "20"])
    if ran.returncode not in (0, 1) or not out.is_file() or not out.read_text(encoding="utf-8").strip():
        last = [line for line in ran.stderr.strip().splitlines() if line.strip()][-1:] or [f"exit {ran.returncode}"]
        result = AuditResult("not evaluated", f"pip-audit could not reach its vulnerability data: {last[0][:300]}")
        out.write_text(json.dumps({"status": result.status, "reason": result.reason,
                                   "command": shlex.join(["pip-audit", "--format", "json"])}, indent=1),
                       encoding="utf-8")
        return result
    report = json.loads(out.read_text(encoding="utf-8"))
    packages = [d for d in report.get("dependencies", []) if d.get("name") != PROJECT_DISTRIBUTION]
    vulns = tuple({"package": d["name"], "version": d.get("version"), **v}
                  for d in packages for v in d.get("vulns", []))
    if vulns:
        return AuditResult("failed", f"{len(vulns)} known vulnerabilities", vulns)
    # pip-audit exits 0 when it could look nothing up ("Dependency not found on PyPI and could not be audited"):
    # a package it skipped was not audited, so the audit as a whole is not evaluated, never passed.
    skipped = [d for d in packages if d.get("skip_reason")]
    if not packages or skipped:
        reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
        return AuditResult("not evaluated", f"{len(skipped)} of {len(packages)} packages could not be audited "
                                            f"({'; '.join(reasons) or 'no packages listed'})")
    return AuditResult("passed", f"{len(packages)} packages audited, no known vulnerability")


# --- HTTP judges -------------------------------------------------------------------------------------------------

def header_problems(headers: Any, *, kind: str, policy: Policy) -> list[str]:
    """What ``headers`` lack for an answer of ``kind`` (page, api or other) under the policy."""
    got = {k.lower(): v for k, v in headers.items()}
    wanted: dict[str, tuple[str, ...]] = {k: (v,) for k, v in policy.every_response.items()}
    if kind == "page":
        wanted.update(policy.pages)
    if kind == "api":
        wanted.update({k: (v,) for k, v in policy.api.items()})
    problems = []
    for name, parts in wanted.items():
        value = got.get(name)
        if value is None:
            problems.append(f"no {name} header")
            continue
        problems += [f"{name} lacks {part!r}" for part in parts if part.lower() not in value.lower()]
    hsts = re.search(r"max-age=(\d+)", got.get("strict-transport-security", ""))
    if hsts and int(hsts.group(1)) < policy.hsts_min_seconds:
        problems.append(f"strict-transport-security max-age {hsts.group(1)} < {policy.hsts_min_seconds}")
    server = got.get("server", "") + " " + got.get("x-powered-by", "")
    if re.search(r"\d+\.\d+|python|uvicorn|hypercorn|starlette|fastapi", server, re.IGNORECASE):
        problems.append(f"the server names its software: {server.strip()!r}")
    return problems


def cookie_problems(set_cookie_headers: list[str]) -> list[str]:
    """Every cookie set must be Secure, HttpOnly and SameSite Lax or Strict (or be a deletion)."""
    problems = []
    for header in set_cookie_headers:
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            if morsel["max-age"] == "0" or (morsel.value in ("", '""') and morsel["expires"]):
                continue  # a deletion carries no secret
            if not morsel["secure"]:
                problems.append(f"cookie {name} is not Secure")
            if not morsel["httponly"]:
                problems.append(f"cookie {name} is not HttpOnly")
            if str(morsel["samesite"]).lower() not in ("lax", "strict"):
                problems.append(f"cookie {name} has SameSite={morsel['samesite'] or 'unset'}")
    return problems


def cors_problems(headers: Any, origin: str) -> list[str]:
    """An answer to a request from ``origin`` (a foreign site) that lets that site read it."""
    allowed = headers.get("access-control-allow-origin")
    credentials = (headers.get("access-control-allow-credentials") or "").lower() == "true"
    if allowed == origin:
        return [f"access-control-allow-origin reflects the foreign origin {origin}"
                + (" with credentials" if credentials else "")]
    if allowed == "*" and credentials:
        return ["access-control-allow-origin * with credentials"]
    return []


def secrets_in(text: str, *, known: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> list[str]:
    """What a URL, a Location or a log line should never carry: a personnummer, a JWT, a bearer value, one of the
    ``known`` secrets (tickets, codes, refresh tokens), or a query parameter named like a secret."""
    found = [f"a personnummer at {m.start()}" for m in _PNR.finditer(text) if is_personnummer(m)]
    found += [f"a JWT at {m.start()}" for m in _JWT.finditer(text)]
    found += [f"a known secret at {text.index(s)}" for s in known if s and len(s) >= 8 and s in text]
    for key in keys:
        if re.search(rf"[?&]{re.escape(key)}=[^&\s]", text, re.IGNORECASE):
            found.append(f"the query parameter {key}")
    return found


# --- tokens ------------------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def tampered_tokens(token: str, public_jwk: dict[str, Any]) -> dict[str, str]:
    """An access token changed as an attacker without the signing key would: another subject under the old
    signature, a signature by a key of their own (same key id), HS256 keyed with the public key, ``alg: none``,
    and a signature cut off."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    head, body, signature = token.split(".")
    header = json.loads(_unb64(head))
    claims = json.loads(_unb64(body))
    other = {**claims, "sub": "00000000-0000-4000-8000-000000000000"}
    own_key = ec.generate_private_key(ec.SECP256R1())
    public = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(public_jwk))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    hs_body = _b64(json.dumps(claims).encode())
    hs_sig = _b64(hmac.new(pem, f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest())
    none_head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "other-subject-same-signature": f"{head}.{_b64(json.dumps(other).encode())}.{signature}",
        "signed-by-another-key": jwt.encode(claims, own_key, algorithm="ES256", headers={"kid": header.get("kid")}),
        "hs256-with-the-public-key": f"{hs_head}.{hs_body}.{hs_sig}",
        "alg-none": f"{none_head}.{body}.",
        "signature-removed": f"{head}.{body}.",
    }
