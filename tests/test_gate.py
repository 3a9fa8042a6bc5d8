"""The release gate: a clean release passes; every threshold of gate.toml fails it with a reason naming the
requirement or threshold; a missing or broken input fails it (fail closed); a broken policy names file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_folders import TODAY, RunSpec, entry, write_catalogue, write_registers, write_run

from harness import gate, traceability
from harness.__main__ import main

RUN = "20261202-100000-release"


def _traced(tmp_path: Path, spec: RunSpec | None = None, *, impacts: dict[str, str | None] | None = None,
            **registers: Any) -> Path:
    catalogue = write_catalogue(tmp_path / "catalogue", impacts)
    register = write_registers(tmp_path / "registers", catalogue, **registers)
    run = write_run(tmp_path / "reports", RUN, spec)
    traceability.trace_run(run, today=TODAY, pdf=False, catalogue=catalogue, register=register)
    return run


def _reasons(run: Path, **overrides: Any) -> list[tuple[str, str]]:
    policy = gate.load_policy()
    for section, values in overrides.items():
        policy.values[section] = {**policy.values[section], **values}
    return [(r["check"], r["subject"]) for r in gate.evaluate(run, policy).reasons]


@pytest.fixture
def attested(tmp_path: Path) -> dict[str, Any]:
    """The manual requirement BR-T-3 and the manual half of BR-T-4 attested, valid."""
    return {"attestations": [entry("BR-T-3", result="passed", reason="By hand."),
                             entry("BR-T-4", result="passed", reason="By hand.")]}


def test_the_policy_file_of_the_project_loads() -> None:
    policy = gate.load_policy()
    assert policy.version == 1 and "compliance" in policy["layers"]["required"]
    assert policy["requirements"]["must_pass"] == ["critical", "high"]


def test_a_clean_release_passes_and_the_cli_writes_gate_json(tmp_path: Path, attested: dict[str, Any]) -> None:
    run = _traced(tmp_path, **attested)
    assert _reasons(run) == []
    assert main(["gate", str(run)]) == 0
    data = json.loads((run / gate.GATE_JSON).read_text())
    assert data["gate"] == "passed" and data["reasons"] == [] and data["policy"]["version"] == 1
    assert data["figures"]["coverage"] == 1.0


@pytest.mark.parametrize(("spec", "expected"), [
    (RunSpec(layers=["api", "web", "a11y", "mobile", "security", "load"]), ("layers", "layer compliance")),
    (RunSpec(exit_status=1), ("tests", "tests.all_pass")),
    (RunSpec(outcomes={"BR-T-1": "failed", "BR-T-2": "passed", "BR-T-4": "passed", "BR-T-5": "passed"}),
     ("requirements", "BR-T-1")),
    (RunSpec(outcomes={"BR-T-1": "passed", "BR-T-4": "passed", "BR-T-5": "passed"}), ("requirements", "BR-T-2")),
    (RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "passed", "BR-T-4": "passed", "BR-T-5": "error"}),
     ("requirements", "BR-T-5")),  # low impact, but in error
    (RunSpec(a11y_failing=2), ("accessibility", "accessibility.max_violations")),
    (RunSpec(broken_slo="bulk"), ("load", "SLO push_p99")),
    (RunSpec(scenarios=("staff", "mobile", "faults")), ("load", "load scenario bulk")),
    (RunSpec(open_findings=1), ("security", "security.max_untriaged")),
    (RunSpec(audit={"dependencies": [{"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-1"}]}]}),
     ("security", "security.max_known_vulnerabilities")),
], ids=["layer-missing", "tests-failed", "critical-failed", "high-not-reviewed", "low-in-error", "wcag",
        "slo-broken", "scenario-missing", "untriaged", "vulnerability"])
def test_each_threshold_fails_the_gate_naming_what_it_concerns(tmp_path: Path, attested: dict[str, Any],
                                                               spec: RunSpec, expected: tuple[str, str]) -> None:
    run = _traced(tmp_path, spec, **attested)
    assert expected in _reasons(run)
    assert main(["gate", str(run)]) == 1
    assert json.loads((run / gate.GATE_JSON).read_text())["gate"] == "failed"


def test_a_waiver_accepts_a_failed_requirement_until_it_expires(tmp_path: Path, attested: dict[str, Any]) -> None:
    failing = RunSpec(outcomes={"BR-T-1": "failed", "BR-T-2": "passed", "BR-T-4": "passed", "BR-T-5": "passed"})
    run = _traced(tmp_path / "valid", failing, waivers=[entry("BR-T-1", reason="Fix in 3.5.")], **attested)
    assert _reasons(run, requirements={"min_coverage": 0.8}) == []  # a waived requirement is not verified: 4 of 5
    run = _traced(tmp_path / "expired", failing, waivers=[entry("BR-T-1", reason="Fix in 3.5.",
                                                                expiry="2026-12-01")], **attested)
    assert ("registers", "BR-T-1") in _reasons(run) and ("requirements", "BR-T-1") in _reasons(run)


def test_an_expired_attestation_fails_the_gate(tmp_path: Path) -> None:
    run = _traced(tmp_path, attestations=[entry("BR-T-3", result="passed", reason="By hand.", expiry="2026-11-01"),
                                          entry("BR-T-4", result="passed", reason="By hand.")])
    assert ("registers", "BR-T-3") in _reasons(run) and ("requirements", "BR-T-3") in _reasons(run)


def test_a_requirement_without_impact_fails_closed(tmp_path: Path, attested: dict[str, Any]) -> None:
    run = _traced(tmp_path, impacts={"BR-T-5": None}, **attested)
    assert _reasons(run) == [("catalogue", "BR-T-5")]


def test_coverage_below_the_minimum_fails(tmp_path: Path) -> None:
    run = _traced(tmp_path, RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "passed"}))
    reasons = _reasons(run, requirements={"must_pass": []})
    assert ("coverage", "requirements.min_coverage") in reasons  # 2 of 5 verified, 40 % < 60 %


def test_a_regression_against_the_last_run_is_a_reason(tmp_path: Path, attested: dict[str, Any]) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue, **attested)
    before = write_run(tmp_path / "reports", "20261201-100000-release")
    traceability.trace_run(before, today=TODAY, pdf=False, catalogue=catalogue, register=register)
    now = write_run(tmp_path / "reports", RUN, RunSpec(
        outcomes={"BR-T-1": "passed", "BR-T-2": "passed", "BR-T-4": "passed", "BR-T-5": "failed"}))
    traceability.trace_run(now, today=TODAY, pdf=False, catalogue=catalogue, register=register)
    assert ("regression", "BR-T-5") in _reasons(now)
    assert ("regression", "BR-T-5") not in _reasons(now, requirements={"regressions_fail": False})


def test_an_audit_that_could_not_run_fails_or_warns_by_the_policy(tmp_path: Path, attested: dict[str, Any]) -> None:
    run = _traced(tmp_path, RunSpec(audit={"status": "not evaluated", "reason": "offline"}), **attested)
    policy = gate.load_policy()
    verdict = gate.evaluate(run, policy)
    assert verdict.passed and verdict.warnings[0]["subject"] == "security.audit_not_evaluated"
    policy.values["security"] = {**policy["security"], "audit_not_evaluated": "fail"}
    assert [r["subject"] for r in gate.evaluate(run, policy).reasons] == ["security.audit_not_evaluated"]


@pytest.mark.parametrize("damage", ["traceability.json", "requirements.json", "security/bandit.json",
                                    "load/staff.json", "a11y"])
def test_a_missing_or_unreadable_input_fails_closed(tmp_path: Path, attested: dict[str, Any], damage: str) -> None:
    run = _traced(tmp_path, **attested)
    target = run / damage
    if target.is_dir():
        for path in target.iterdir():
            path.unlink()
    else:
        target.write_text("{not json")
    assert _reasons(run), f"a broken {damage} passed the gate"
    if target.is_file():
        target.unlink()
        assert _reasons(run), f"a missing {damage} passed the gate"


def test_the_trace_of_another_run_is_not_accepted(tmp_path: Path, attested: dict[str, Any]) -> None:
    run = _traced(tmp_path, **attested)
    moved = run.rename(run.parent / "20261202-110000-release")
    assert ("inputs", "traceability.json") in _reasons(moved)


@pytest.mark.parametrize(("text", "message"), [
    ("version = 2\n", r"gate.toml, line 1: version must be 1"),
    ("version = 1\n[tests]\nall_pass = true\n[requirements]\nmust_pass = ['severe']\n",
     r"line 5: \[requirements\] must_pass: must be a list of critical"),
    ("version = 1\n[tests]\nall_pas = true\n", r"line 3: \[tests\] unknown key 'all_pas'"),
    ("version = 1\n[tests]\nall_pass = 1\n", r"line 3: \[tests\] all_pass: must be true or false"),
    ("version = 1\n[tests]\nall_pass = true\n", r"missing section \[requirements\]"),
    ("version = 1\n[tests\n", r"gate.toml, line 2: not valid TOML"),
])
def test_a_broken_policy_names_the_file_the_line_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(gate.GateError, match=message):
        gate.load_policy(path)
