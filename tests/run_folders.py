"""Synthetic run folders for the tests of traceability, the gate, OSCAL and the bundle: what a release run writes
(requirements.json, allure-results, a11y/, load/, security/), small and under the test's control."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from harness.requirements import Catalogue, load_catalogue
from harness.traceability import Register, load_registers

TODAY = date(2026, 12, 2)
LAYERS = ["api", "web", "a11y", "mobile", "security", "load", "compliance"]
# id, verification, impact, layers
REQUIREMENTS = [
    ("BR-T-1", "automated", "critical", ["api"]),
    ("BR-T-2", "automated", "high", ["web"]),
    ("BR-T-3", "manual", "high", []),
    ("BR-T-4", "hybrid", "medium", ["a11y"]),
    ("BR-T-5", "automated", "low", ["load"]),
]
SCENARIOS = ("staff", "mobile", "faults", "bulk")


def write_catalogue(folder: Path, impacts: dict[str, str | None] | None = None) -> Catalogue:
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for req_id, verification, impact, layers in REQUIREMENTS:
        item: dict[str, Any] = {"id": req_id, "title": f"Rule {req_id}", "reference": "Test rules",
                                "summary": f"What {req_id} asks.", "verification": verification, "layers": layers,
                                "impact": impact, "applies_to": ["backend"]}
        items.append(item)
    data = {"defaults": {"kind": "business-rule", "source": "Testregler"}, "requirements": items}
    (folder / "rules.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    catalogue = load_catalogue(folder)
    # The catalogue's schema refuses an entry without an impact; one given as None here stands for a catalogue
    # that lacks it all the same (built by other means), on which the gate must fail closed.
    for req_id, chosen in (impacts or {}).items():
        catalogue.requirements[req_id] = replace(catalogue.requirements[req_id], impact=chosen)
    return catalogue


def entry(req_id: str, *, expiry: str = "2027-06-01", **extra: str) -> dict[str, Any]:
    return {"requirement": req_id, "who": "Granskare", "approver": "Ansvarig", "when": date(2026, 11, 1),
            "expiry": date.fromisoformat(expiry), "evidence": "https://dokument.invalid/beslut", **extra}


def write_registers(folder: Path, catalogue: Catalogue, *, attestations: list[dict[str, Any]] | None = None,
                    waivers: list[dict[str, Any]] | None = None) -> Register:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "attestations.yaml").write_text(yaml.safe_dump({"attestations": attestations or []}), encoding="utf-8")
    (folder / "waivers.yaml").write_text(yaml.safe_dump({"waivers": waivers or []}), encoding="utf-8")
    (folder / "manual-checks.yaml").write_text("checks: []\n", encoding="utf-8")
    return load_registers(catalogue, TODAY, attestations=folder / "attestations.yaml",
                          waivers=folder / "waivers.yaml", manual_checks=folder / "manual-checks.yaml")


@dataclass
class RunSpec:
    """What a synthetic run shows; the defaults are a clean release."""

    outcomes: dict[str, str] = field(default_factory=lambda: {
        "BR-T-1": "passed", "BR-T-2": "passed", "BR-T-4": "passed", "BR-T-5": "passed"})
    layers: list[str] = field(default_factory=lambda: list(LAYERS))
    exit_status: int = 0
    untraced: int = 1  # tests that name no requirement
    a11y_failing: int = 0
    broken_slo: str | None = None  # the scenario whose one SLO fails
    scenarios: tuple[str, ...] = SCENARIOS
    open_findings: int = 0
    audit: dict[str, Any] = field(default_factory=lambda: {
        "dependencies": [{"name": "httpx", "version": "0.28.1", "vulns": []}], "fixes": []})


def _test_name(req_id: str) -> str:
    return f"suites/api/test_rules.py::test_{req_id.lower().replace('-', '_')}"


def write_run(reports: Path, name: str, spec: RunSpec | None = None) -> Path:
    """reports/<name>/ as a run of the layers writes it."""
    spec = spec or RunSpec()
    run = reports / name
    (run / "allure-results").mkdir(parents=True)
    requirements = {}
    for req_id, _, _, _ in REQUIREMENTS:
        outcome = spec.outcomes.get(req_id)
        status = {"passed": "passed", "failed": "failed", "error": "error"}.get(outcome or "", "not reviewed")
        tests = [{"test": _test_name(req_id), "outcome": outcome}] if outcome else []
        requirements[req_id] = {"id": req_id, "status": status, "reason": f"1 {outcome} of 1 test(s)" if outcome
                                else "no test verifies it", "tests": tests}
    (run / "requirements.json").write_text(json.dumps({
        "run_id": name, "exit_status": spec.exit_status, "target": "local", "faults": [], "layers": spec.layers,
        "requirements": requirements}), encoding="utf-8")
    results = [(_test_name(r), o, [r]) for r, o in spec.outcomes.items()]
    results += [(f"suites/web/test_pages.py::test_page_{n}", "passed", []) for n in range(spec.untraced)]
    for nodeid, outcome, reqs in results:
        path, test = nodeid.split("::")
        (run / "allure-results" / f"{uuid.uuid4()}-result.json").write_text(json.dumps({
            "uuid": str(uuid.uuid4()), "name": f"Kontroll av {test}", "status": outcome, "titlePath": path.split("/"),
            "labels": [{"name": "nodeid", "value": nodeid}]
            + [{"name": "requirement", "value": f"{r} Rule {r}"} for r in reqs]}), encoding="utf-8")
    (run / "a11y").mkdir()
    findings = [{"rule": "color-contrast", "criteria": ["1.4.3"], "fails": n < spec.a11y_failing}
                for n in range(max(1, spec.a11y_failing))]
    (run / "a11y" / "start.json").write_text(json.dumps({"where": "/", "findings": findings}), encoding="utf-8")
    (run / "load").mkdir()
    for scenario in spec.scenarios:
        broken = spec.broken_slo == scenario
        (run / "load" / f"{scenario}.json").write_text(json.dumps({"scenario": scenario, "verdicts": [{
            "slo": "push_p99", "metric": "push.p99_ms", "limit": {"max": 1000}, "bound": "<= 1000",
            "value": 1500.0 if broken else 120.0, "passed": not broken, "requirements": ["BR-T-5"]}]}),
            encoding="utf-8")
    (run / "security").mkdir()
    (run / "security" / "bandit.json").write_text(json.dumps({"findings": [
        {"file": "sut/x.py", "line": n + 1, "test_id": "B101", "status": "open"} for n in range(spec.open_findings)
    ] + [{"file": "sut/y.py", "line": 3, "test_id": "B603", "status": "triaged"}], "bad_nosec": []}),
        encoding="utf-8")
    (run / "security" / "dependency-audit.json").write_text(json.dumps(spec.audit), encoding="utf-8")
    (run / "sut.log").write_text("started\n", encoding="utf-8")
    return run
