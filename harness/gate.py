"""The release gate: one verdict for a run, judged by the versioned policy in gate.toml, with every reason.

It reads only the run folder (traceability.json, requirements.json, a11y/, load/, security/), so the verdict can
be re-derived from a signed bundle. It fails closed: a missing layer or input, an unreadable file, a requirement
without an impact and an expired attestation or waiver are reasons, never silently passed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .requirements import IMPACTS
from .traceability import TRACE_JSON

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "gate.toml"
POLICY_VERSION = 1
GATE_JSON = "gate.json"
MET = ("passed", "not applicable", "waived")

# section -> key -> (type, check of the value, what is allowed); every key is required: a policy says everything.
_SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any, str]]] = {
    "tests": {"all_pass": (bool, None, "true or false")},
    "requirements": {
        "must_pass": (list, lambda v: all(i in IMPACTS for i in v), f"a list of {', '.join(IMPACTS)}"),
        "no_failures": (bool, None, "true or false"),
        "min_coverage": ((int, float), lambda v: 0 <= v <= 1, "a number from 0 to 1"),
        "regressions_fail": (bool, None, "true or false"),
    },
    "layers": {"required": (list, lambda v: all(isinstance(i, str) and i for i in v), "a list of layer names")},
    "accessibility": {"max_violations": (int, lambda v: v >= 0, "a whole number >= 0")},
    "load": {"required_scenarios": (list, lambda v: all(isinstance(i, str) and i for i in v),
                                    "a list of scenario names")},
    "security": {
        "max_untriaged": (int, lambda v: v >= 0, "a whole number >= 0"),
        "max_known_vulnerabilities": (int, lambda v: v >= 0, "a whole number >= 0"),
        "audit_not_evaluated": (str, lambda v: v in ("fail", "warn"), "'fail' or 'warn'"),
    },
}


class GateError(ValueError):
    """A policy file that cannot be used; the message names the file, the line and the key."""


@dataclass(frozen=True)
class Policy:
    path: Path
    version: int
    values: dict[str, dict[str, Any]]
    sha256: str

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]


def _line(text: str, key: str, section: str | None = None) -> int:
    """The line of ``key`` (inside ``[section]`` when given), or of the section, or 1."""
    current, section_line = None, 1
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            current = header.group(1).strip()
            if current == section:
                section_line = number
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return section_line


def load_policy(path: Path = POLICY_FILE) -> Policy:
    """gate.toml, checked: every problem is a GateError naming the file, the line and the key."""
    display = path.name if path.parent == ROOT else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GateError(f"{display}: cannot read the gate policy: {exc.strerror}") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        raise GateError(f"{display}{', line ' + found.group(1) if found else ''}: not valid TOML: "
                        f"{re.sub(r' [(]at line.*', '', str(exc))}") from None
    if data.get("version") != POLICY_VERSION:
        raise GateError(f"{display}, line {_line(text, 'version')}: version must be {POLICY_VERSION}, "
                        f"found {data.get('version')!r}")
    for key in data:
        if key != "version" and key not in _SCHEMA:
            raise GateError(f"{display}, line {_line(text, key, key)}: unknown section [{key}]; sections: "
                            f"{', '.join(_SCHEMA)}")
    values: dict[str, dict[str, Any]] = {}
    for section, keys in _SCHEMA.items():
        table = data.get(section)
        if not isinstance(table, dict):
            raise GateError(f"{display}: missing section [{section}] (a gate that is not told passes nothing)")
        for key in table:
            if key not in keys:
                raise GateError(f"{display}, line {_line(text, key, section)}: [{section}] unknown key {key!r}; "
                                f"keys: {', '.join(keys)}")
        for key, (kind, check, allowed) in keys.items():
            where = f"{display}, line {_line(text, key, section)}: [{section}] {key}"
            if key not in table:
                raise GateError(f"{where}: missing; it must be {allowed}")
            value = table[key]
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)) or \
                    (check is not None and not check(value)):
                raise GateError(f"{where}: must be {allowed}, found {value!r}")
        values[section] = dict(table)
    return Policy(path, POLICY_VERSION, values, hashlib.sha256(raw).hexdigest())


@dataclass
class Verdict:
    reasons: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def fail(self, check: str, subject: str, message: str) -> None:
        self.reasons.append({"check": check, "subject": subject, "message": message})

    def warn(self, check: str, subject: str, message: str) -> None:
        self.warnings.append({"check": check, "subject": subject, "message": message})

    @property
    def passed(self) -> bool:
        return not self.reasons


def _json(path: Path, verdict: Verdict, check: str, subject: str) -> Any:
    """A JSON input, or None after a reason naming it (missing or unreadable fails closed)."""
    if not path.is_file():
        verdict.fail(check, subject, f"{path.name}: missing from the run ({path.parent.name}/)")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        verdict.fail(check, subject, f"{path.name}: unreadable: {exc}")
        return None


def _requirements(trace: dict[str, Any], policy: Policy, verdict: Verdict) -> None:
    rules = policy["requirements"]
    for req in trace["requirements"]:
        rid, status = req["id"], req["status"]
        if req.get("impact") not in IMPACTS:
            verdict.fail("catalogue", rid, f"{rid} has no impact in the catalogue: the gate cannot tell whether "
                                           "it must pass")
        elif req["impact"] in rules["must_pass"] and status not in MET:
            verdict.fail("requirements", rid, f"{rid} ({req['impact']} impact) is {status}: {req['reason']}")
            continue
        if rules["no_failures"] and status in ("failed", "error"):
            verdict.fail("requirements", rid, f"{rid} is {status}: {req['reason']}")
    for item in trace.get("expired", []):
        verdict.fail("registers", item["requirement"], f"the {item['kind']} for {item['requirement']} expired on "
                                                       f"{item['expiry']} ({item['source']})")
    coverage = float(trace["summary"]["coverage"])
    verdict.figures["coverage"] = coverage
    if coverage < rules["min_coverage"]:
        verdict.fail("coverage", "requirements.min_coverage",
                     f"{trace['summary']['verified']} of {trace['summary']['total']} requirements verified "
                     f"({100 * coverage:.1f} %), the policy asks at least {100 * rules['min_coverage']:.1f} %")
    base = trace.get("baseline")
    if base and rules["regressions_fail"]:
        for item in base["regressions"]:
            verdict.fail("regression", item["id"], f"{item['id']} was {item['before']} in {base['run']} and is "
                                                   f"{item['now']} now")


def _accessibility(run_dir: Path, policy: Policy, verdict: Verdict) -> None:
    folder = run_dir / "a11y"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        verdict.fail("accessibility", "accessibility.max_violations", "a11y/: no accessibility results in the run")
        return
    violations = []
    for path in files:
        data = _json(path, verdict, "accessibility", "accessibility.max_violations")
        if data is None:
            continue
        for finding in data.get("findings", []):
            if finding.get("fails"):
                violations.append(f"{', '.join(finding.get('criteria', [])) or finding.get('rule')} on "
                                  f"{data.get('where', '?')} ({path.name})")
    verdict.figures["accessibility_violations"] = len(violations)
    allowed = policy["accessibility"]["max_violations"]
    if len(violations) > allowed:
        shown = "; ".join(violations[:10]) + (f"; and {len(violations) - 10} more" if len(violations) > 10 else "")
        verdict.fail("accessibility", "accessibility.max_violations",
                     f"{len(violations)} WCAG A/AA violation(s), the policy allows {allowed}: {shown}")


def _load(run_dir: Path, policy: Policy, verdict: Verdict) -> None:
    broken = 0
    for scenario in policy["load"]["required_scenarios"]:
        data = _json(run_dir / "load" / f"{scenario}.json", verdict, "load", f"load scenario {scenario}")
        if data is None:
            continue
        verdicts = data.get("verdicts")
        if not isinstance(verdicts, list) or not verdicts:
            verdict.fail("load", f"load scenario {scenario}", f"load/{scenario}.json has no SLO verdicts")
            continue
        for v in verdicts:
            if v.get("passed") is not True:
                broken += 1
                verdict.fail("load", f"SLO {v.get('slo')}",
                             f"{scenario}: {v.get('metric')} = {v.get('value')} breaks the SLO ({v.get('bound')}); "
                             f"requirements {', '.join(v.get('requirements', []))}")
    verdict.figures["load_slos_broken"] = broken


def _security(run_dir: Path, policy: Policy, verdict: Verdict) -> None:
    rules = policy["security"]
    bandit = _json(run_dir / "security" / "bandit.json", verdict, "security", "security.max_untriaged")
    if bandit is not None:
        open_findings = [f for f in bandit.get("findings", []) if f.get("status") != "triaged"]
        verdict.figures["untriaged_findings"] = len(open_findings)
        if len(open_findings) > rules["max_untriaged"]:
            verdict.fail("security", "security.max_untriaged",
                         f"{len(open_findings)} untriaged bandit finding(s), the policy allows "
                         f"{rules['max_untriaged']}: " + "; ".join(
                             f"{f.get('file')}:{f.get('line')} {f.get('test_id')}" for f in open_findings[:10]))
        if bandit.get("bad_nosec"):
            verdict.fail("security", "security.max_untriaged",
                         f"nosec comments without a test id and reason: {'; '.join(bandit['bad_nosec'][:10])}")
    audit = _json(run_dir / "security" / "dependency-audit.json", verdict, "security",
                  "security.max_known_vulnerabilities")
    if audit is None:
        return
    if audit.get("status") == "not evaluated" or "dependencies" not in audit:
        message = f"dependency audit not evaluated: {audit.get('reason', 'no dependency list')}"
        _not_evaluated(rules, verdict, message)
        return
    packages = [d for d in audit["dependencies"] if d.get("name") != "app1177-harness"]
    vulns = [f"{d['name']} {d.get('version')}: {v.get('id')}" for d in packages for v in d.get("vulns", [])]
    verdict.figures["known_vulnerabilities"] = len(vulns)
    if len(vulns) > rules["max_known_vulnerabilities"]:
        verdict.fail("security", "security.max_known_vulnerabilities",
                     f"{len(vulns)} known vulnerabilit(ies), the policy allows {rules['max_known_vulnerabilities']}: "
                     + "; ".join(vulns[:10]))
    skipped = [d for d in packages if d.get("skip_reason")]
    if not vulns and (skipped or not packages):
        _not_evaluated(rules, verdict, f"dependency audit not evaluated: {len(skipped)} of {len(packages)} "
                                       "packages could not be looked up")


def _not_evaluated(rules: dict[str, Any], verdict: Verdict, message: str) -> None:
    verdict.figures["dependency_audit"] = "not evaluated"
    if rules["audit_not_evaluated"] == "fail":
        verdict.fail("security", "security.audit_not_evaluated", message)
    else:
        verdict.warn("security", "security.audit_not_evaluated", message + " (policy: warn)")


def evaluate(run_dir: Path, policy: Policy) -> Verdict:
    """Every check of the policy against the run folder."""
    verdict = Verdict()
    trace = _json(run_dir / TRACE_JSON, verdict, "inputs", TRACE_JSON)
    run = _json(run_dir / "requirements.json", verdict, "inputs", "requirements.json")
    if run is not None:
        layers = set(run.get("layers", []))
        for layer in policy["layers"]["required"]:
            if layer not in layers:
                verdict.fail("layers", f"layer {layer}", f"the {layer} layer did not run (layers that ran: "
                                                         f"{', '.join(sorted(layers)) or 'none'})")
        if policy["tests"]["all_pass"] and run.get("exit_status") != 0:
            verdict.fail("tests", "tests.all_pass", f"pytest exited with status {run.get('exit_status')}")
    if trace is not None:
        if trace.get("run") != run_dir.name:
            verdict.fail("inputs", TRACE_JSON, f"{TRACE_JSON} is of run {trace.get('run')!r}, not {run_dir.name}")
        _requirements(trace, policy, verdict)
    required = set(policy["layers"]["required"])
    if "a11y" in required:
        _accessibility(run_dir, policy, verdict)
    if "load" in required:
        _load(run_dir, policy, verdict)
    if "security" in required:
        _security(run_dir, policy, verdict)
    return verdict


def write_verdict(run_dir: Path, policy: Policy, verdict: Verdict) -> dict[str, Any]:
    display = policy.path.name if policy.path.parent == ROOT else str(policy.path)
    data = {"gate": "passed" if verdict.passed else "failed", "run": run_dir.name,
            "policy": {"file": display, "version": policy.version, "sha256": policy.sha256},
            "reasons": verdict.reasons, "warnings": verdict.warnings, "figures": verdict.figures}
    (run_dir / GATE_JSON).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return data
