"""OSCAL assessment results: built from a traced run with compliance-trestle's models, one finding per requirement
with its state, and the written file valid when read back by them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from run_folders import TODAY, RunSpec, entry, write_catalogue, write_registers, write_run
from trestle.oscal import assessment_results as ar

from harness import oscal, traceability


def test_a_traced_run_as_oscal_assessment_results(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue,
                               attestations=[entry("BR-T-3", result="passed", reason="By hand.")])
    run = write_run(tmp_path / "reports", "20261202-100000-release",
                    RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "failed"}))
    trace = traceability.trace_run(run, today=TODAY, pdf=False, catalogue=catalogue, register=register)

    path = oscal.write(run, trace)

    model = ar.AssessmentResults.oscal_read(path)
    result = model.results[0]
    states = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert states == {"BR-T-1": "satisfied", "BR-T-2": "not-satisfied", "BR-T-3": "satisfied",
                      "BR-T-4": "not-satisfied", "BR-T-5": "not-satisfied"}
    observations = {o.uuid: o for o in result.observations}
    manual = next(f for f in result.findings if f.target.target_id == "BR-T-3")
    evidence = observations[manual.related_observations[0].observation_uuid].relevant_evidence
    assert evidence[0].href == "https://dokument.invalid/beslut"
    raw = json.loads(path.read_text())
    assert raw["assessment-results"]["metadata"]["oscal-version"]


def test_a_malformed_trace_is_refused_by_the_models(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue)
    run = write_run(tmp_path / "reports", "20261202-100000-release")
    trace = traceability.build(run, catalogue, register, today=TODAY)
    trace["requirements"][0]["id"] = "BR T 1"  # a finding's target-id is an OSCAL token: no blanks
    with pytest.raises(ValidationError):
        oscal.build(trace)
