"""OSCAL assessment results of a run (oscal-assessment-results.json), built and validated by compliance-trestle.

One result for the run; per requirement an observation (how it was verified: its tests with their outcomes and
links into the Allure report, its attestations and waivers) and a finding whose target is the requirement, with
the state satisfied or not-satisfied and the harness's own status as a property. The pydantic models of
``trestle.oscal.assessment_results`` validate every field as it is built; the written file is read back by them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OSCAL_JSON = "oscal-assessment-results.json"
NS = "https://github.com/app1177-harness/ns/oscal"  # the namespace of this harness's own property names
SATISFIED = ("passed", "not applicable")
_RUN_NAMESPACE = uuid.UUID("6f2a5c1e-1177-4a5e-9a11-000000001177")  # stable uuids per run and requirement


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_RUN_NAMESPACE, "/".join(parts)))


def build(trace: dict[str, Any], *, now: datetime | None = None) -> Any:
    """The AssessmentResults model of a traced run (a pydantic ValidationError when anything is malformed)."""
    from trestle.oscal import OSCAL_VERSION, common
    from trestle.oscal import assessment_results as ar

    now = now or datetime.now(UTC)
    run = trace["run"]

    def prop(name: str, value: str) -> Any:
        return common.Property(name=name, value=value, ns=NS)

    observations, findings = [], []
    for req in trace["requirements"]:
        obs_uuid = _uuid(run, req["id"], "observation")
        evidence = [common.RelevantEvidence(
            href=t["report"], description=f"{t['test']}: {t['outcome']}") if t.get("report") else
            common.RelevantEvidence(description=f"{t['test']}: {t['outcome']}") for t in req["tests"]]
        evidence += [common.RelevantEvidence(
            href=a["evidence"], description=f"attestation {a['result']} by {a['who']}, approved by {a['approver']}, "
                                            f"{a['when']}, expires {a['expiry']}{' (expired)' if a['expired'] else ''}")
            for a in req["attestations"]]
        evidence += [common.RelevantEvidence(
            href=w["evidence"], description=f"waiver: {w['reason']}; approved by {w['approver']}, expires "
                                            f"{w['expiry']}{' (expired)' if w['expired'] else ''}")
            for w in req["waivers"]]
        methods = (["TEST"] if req["tests"] else []) + (["EXAMINE"] if req["attestations"] else [])
        observations.append(ar.Observation(
            uuid=obs_uuid, title=f"{req['id']} {req['title']}",
            description=f"{req['id']}: {req['reason']}", methods=methods or ["UNKNOWN"],
            props=[prop("status", req["status"]), prop("basis", req["basis"])],
            relevant_evidence=evidence or None, collected=now))
        state = "satisfied" if req["status"] in SATISFIED else "not-satisfied"
        target_props = [prop("status", req["status"]), prop("verification", req["verification"])]
        if req.get("impact"):
            target_props.append(prop("impact", req["impact"]))
        findings.append(common.Finding(
            uuid=_uuid(run, req["id"], "finding"), title=f"{req['id']} {req['title']}",
            description=f"{req['law']}, {req['reference']}: {req['summary']}",
            target=common.FindingTarget(
                type="objective-id", target_id=req["id"], props=target_props,
                links=[common.Link(href=req["link"], rel="reference")] if req.get("link") else None,
                status=common.ObjectiveStatus(state=state, reason="pass" if state == "satisfied" else "fail",
                                              remarks=req["reason"])),
            related_observations=[common.RelatedObservation(observation_uuid=obs_uuid)]))
    props = [prop("run", run), prop("target", str(trace.get("target"))),
             prop("coverage", f"{trace['summary']['coverage']:.4f}")]
    result = ar.Result(
        uuid=_uuid(run, "result"), title=f"1177-appen, run {run}",
        description=f"Requirement verdicts of run {run} ({trace['kind']}) against target {trace.get('target')}; "
                    f"layers: {', '.join(trace.get('layers', [])) or 'none'}; faults on: "
                    f"{', '.join(trace.get('faults', [])) or 'none'}.",
        start=now, props=props,
        reviewed_controls=common.ReviewedControls(control_selections=[common.ControlSelection(include_all={})]),
        observations=observations, findings=findings)
    return ar.AssessmentResults(
        uuid=_uuid(run, "assessment-results"),
        metadata=common.Metadata(title=f"1177-appen: assessment results of run {run}", last_modified=now,
                                 version=run, oscal_version=OSCAL_VERSION),
        import_ap=ar.ImportAp(href="requirements.json", remarks="No OSCAL assessment plan: the plan is the "
                                                                "requirement catalogue and the gate policy."),
        results=[result])


def write(run_dir: Path, trace: dict[str, Any]) -> Path:
    """oscal-assessment-results.json in the run folder, read back by trestle's model to prove it valid."""
    from trestle.oscal import assessment_results as ar

    model = build(trace)
    path = run_dir / OSCAL_JSON
    model.oscal_write(path)
    ar.AssessmentResults.oscal_read(path)
    return path
