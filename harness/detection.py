"""Detection power: does the release gate turn red for every fault in the catalogue, naming the fault's
requirements, and does it stay green on the clean system?

``nox -s detection`` drives it; this module plans and judges:

- :func:`plan` takes the fault catalogue (each fault names the requirements it breaks and the layers expected to
  catch it) and the collected tests with their requirement IDs, and says which tests each fault run selects: the
  tests of the expected layers that name one of the fault's requirements. An expected layer without such a test is
  an error: the catalogue then claims what the layer cannot show.
- :func:`judge_fault` traces a fault run and judges it by the release gate's own requirement rules, narrowed to the
  layers the run covered (a fault run runs a few tests, so coverage, untested must-pass requirements and missing
  layers are not its business). A layer *caught* the fault when the gate names one of the fault's requirements
  and a test of that layer (or one of its SLO verdicts) broke it.
- :func:`judge_clean` reads a finished release run on the clean system: any failed test or gate reason is a false
  alarm (or a flaky test), listed with its cause.
- :func:`build_matrix` and :func:`write_matrix` make the fault x layer matrix (caught, missed, not expected) with the
  detection rate, the false-alarm count and every run's wall time, as detection.json and detection.html.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from harness import gate, traceability
from harness.masking import mask, mask_file

RESULT_JSON = "detection-result.json"  # one per fault run and per clean run, in its run folder
PLAN_JSON = "detection-plan.json"
MATRIX_JSON = "detection.json"
MATRIX_HTML = "detection.html"
FORMAT_VERSION = 1
BROKEN = ("failed", "error")
_SLO_REQUIREMENTS = re.compile(r"requirements ([A-Z0-9][A-Z0-9, -]*)$")


class DetectionError(ValueError):
    """A plan that cannot be made or a run folder that cannot be judged; the message says which and why."""


class FaultLike(Protocol):
    name: str
    description: str
    breaks: tuple[str, ...]
    layers: tuple[str, ...]


@dataclass(frozen=True)
class FaultPlan:
    fault: str
    description: str
    breaks: tuple[str, ...]
    layers: tuple[str, ...]
    tests: dict[str, int]  # expected layer -> tests selected there

    def as_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "description": self.description, "breaks": list(self.breaks),
                "layers": list(self.layers), "tests": self.tests}


def layer_of(nodeid: str) -> str | None:
    """suites/<layer>/... -> layer."""
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "suites" else None


def load_listing(path: Path) -> dict[str, list[str]]:
    """The JSON that ``pytest --list-requirements FILE`` writes: node id -> requirement IDs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DetectionError(f"{path}: cannot read the test listing: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DetectionError(f"{path}: not a mapping of node id to requirement IDs")
    return data


def plan(faults: Iterable[FaultLike], listing: Mapping[str, list[str]], layers: Iterable[str]) -> list[FaultPlan]:
    """What each fault run selects; every problem of the catalogue's layer claims in one DetectionError."""
    known_layers = set(layers)
    plans, problems = [], []
    for fault in faults:
        if not fault.layers:
            problems.append(f"{fault.name}: names no layer expected to catch it")
        counts = {}
        for layer in fault.layers:
            if layer not in known_layers:
                problems.append(f"{fault.name}: layer {layer!r} does not exist (layers: "
                                f"{', '.join(sorted(known_layers))})")
                continue
            counts[layer] = sum(1 for nodeid, reqs in listing.items()
                                if layer_of(nodeid) == layer and set(reqs) & set(fault.breaks))
            if not counts[layer]:
                problems.append(f"{fault.name}: no test of the {layer} layer names any of "
                                f"{', '.join(fault.breaks)}, so that layer cannot show the fault")
        plans.append(FaultPlan(fault.name, fault.description, tuple(fault.breaks), tuple(fault.layers), counts))
    if problems:
        raise DetectionError("the fault catalogue's layer claims do not hold:\n  " + "\n  ".join(problems))
    return plans


def fault_policy(policy: gate.Policy, layers: Iterable[str], scenarios: Iterable[str] = ()) -> gate.Policy:
    """The release policy for a run of a few tests in ``layers``: its requirement rules unchanged (no requirement
    failed or in error), its scope rules narrowed (layers that ran, no coverage minimum, no must-pass for what
    the run did not test, no comparison with other runs, only the load ``scenarios`` the run wrote)."""
    values = json.loads(json.dumps(policy.values))  # a deep copy of plain TOML data
    values["layers"]["required"] = list(layers)
    values["requirements"].update(must_pass=[], min_coverage=0.0, regressions_fail=False)
    values["tests"]["all_pass"] = False  # a failed test counts through the requirements it breaks
    values["load"]["required_scenarios"] = [s for s in values["load"]["required_scenarios"] if s in set(scenarios)]
    return replace(policy, values=values)


def _named(verdict: gate.Verdict) -> set[str]:
    """The requirement IDs the gate's reasons name: failed requirements and broken SLOs' requirements."""
    named = set()
    for reason in verdict.reasons:
        if reason["check"] == "requirements":
            named.add(reason["subject"])
        elif reason["check"] == "load":
            match = _SLO_REQUIREMENTS.search(reason["message"])
            if match:
                named.update(part.strip() for part in match.group(1).split(",") if part.strip())
    return named


def judge_fault(run_dir: Path, fault: FaultPlan, policy: gate.Policy, *, wall_s: float) -> dict[str, Any]:
    """Trace the fault run, judge it, write gate.json and detection-result.json into it, and return the result.
    The run's terminal log (pytest.log, written outside pytest) is masked first, like every file of a run."""
    mask_file(run_dir / "pytest.log")
    try:
        trace = traceability.trace_run(run_dir, pdf=False)
    except (RuntimeError, ValueError) as exc:  # no requirements.json: pytest did not get far enough
        trace = None
        trace_error = str(exc)
    narrowed = fault_policy(policy, fault.layers, (p.stem for p in (run_dir / "load").glob("*.json")))
    verdict = gate.evaluate(run_dir, narrowed)
    gate.write_verdict(run_dir, narrowed, verdict)
    named = sorted(_named(verdict) & set(fault.breaks))
    broken_by_layer: dict[str, set[str]] = {}
    for req in trace["requirements"] if trace else ():
        if req["id"] not in named:
            continue
        for test in req["tests"]:
            if test["outcome"] in BROKEN and layer_of(test["test"]):
                broken_by_layer.setdefault(layer_of(test["test"]) or "", set()).add(req["id"])
    slo_named = {r for reason in verdict.reasons if reason["check"] == "load"
                 for r in _named(gate.Verdict(reasons=[reason]))} & set(fault.breaks)
    if slo_named:
        broken_by_layer.setdefault("load", set()).update(slo_named)
    layers = {layer: "caught" if broken_by_layer.get(layer) else "missed" for layer in fault.layers}
    result = {
        "kind": "fault", "fault": fault.fault, "description": fault.description, "breaks": list(fault.breaks),
        "run": run_dir.name, "wall_s": round(wall_s, 1), "gate": "passed" if verdict.passed else "failed",
        "named": named, "layers": layers,
        "caught": bool(named) and any(v == "caught" for v in layers.values()),
        "reasons": [f"[{r['check']}] {r['subject']}: {r['message']}" for r in verdict.reasons][:8],
    }
    if trace is None:
        result["reasons"].insert(0, f"not traced: {trace_error}")
    _write(run_dir / RESULT_JSON, result)
    return result


def _results(run_dir: Path) -> list[dict[str, Any]]:
    folder = run_dir / "allure-results"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*-result.json"))] \
        if folder.is_dir() else []


def _failed_tests(run_dir: Path) -> list[str]:
    """Failed and broken tests of a run, from its Allure results (a test's last result counts, as in the report)."""
    results = _results(run_dir)
    if not results:
        return ["allure-results: no test results (pytest did not run)"]
    last: dict[str, dict[str, Any]] = {}
    for result in sorted(results, key=lambda r: r.get("stop", 0)):
        nodeid = next((label["value"] for label in result.get("labels", []) if label.get("name") == "nodeid"),
                      result.get("fullName", result.get("name", "?")))
        last[nodeid] = result
    return [f"{nodeid}: {result['status']}: {(result.get('statusDetails', {}).get('message') or '').strip()[:200]}"
            for nodeid, result in sorted(last.items()) if result.get("status") in ("failed", "broken")]


def judge_clean(run_dir: Path, *, wall_s: float | None) -> dict[str, Any]:
    """A release run on the clean system: every failed test and every gate reason is a false alarm."""
    gate_file = run_dir / gate.GATE_JSON
    if not gate_file.is_file():
        reasons = [f"{gate.GATE_JSON}: missing (the release did not reach its gate)"]
        verdict = "missing"
    else:
        data = json.loads(gate_file.read_text(encoding="utf-8"))
        verdict = data["gate"]
        reasons = [f"[{r['check']}] {r['subject']}: {r['message']}" for r in data["reasons"]]
    failures = _failed_tests(run_dir)
    result = {"kind": "clean", "run": run_dir.name, "link": f"../{run_dir.name}/{traceability.TRACE_HTML}",
              "gate": verdict,
              "wall_s": round(wall_s, 1) if wall_s is not None else _wall_of(run_dir),
              "failed_tests": failures, "reasons": reasons,
              "false_alarms": len(failures) + len(reasons)}
    _write(run_dir / RESULT_JSON, result)
    return result


def _wall_of(run_dir: Path) -> float | None:
    """The span of a run's tests (first start to last stop), for a run whose wall time nobody recorded."""
    spans = [(r["start"], r["stop"]) for r in _results(run_dir) if "start" in r and "stop" in r]
    return round((max(b for _, b in spans) - min(a for a, _ in spans)) / 1000, 1) if spans else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(mask(json.dumps(data, indent=1, ensure_ascii=False)) + "\n", encoding="utf-8")


def build_matrix(plans: list[FaultPlan], faults: list[dict[str, Any]], cleans: list[dict[str, Any]],
                 layers: list[str], *, clean_runs_asked: int, wall_s: float) -> dict[str, Any]:
    """The matrix as data. A planned fault with no result (its run could not be judged) counts as missed."""
    by_fault = {r["fault"]: r for r in faults}
    rows = []
    for p in plans:
        result = by_fault.get(p.fault)
        cells = {layer: (result["layers"].get(layer, "missed") if result else "missed") if layer in p.layers
                 else "not expected" for layer in layers}
        rows.append({"fault": p.fault, "description": p.description, "breaks": list(p.breaks), "cells": cells,
                     "tests": p.tests, "caught": bool(result and result["caught"]),
                     "named": result["named"] if result else [], "gate": result["gate"] if result else "not run",
                     "wall_s": result["wall_s"] if result else None,
                     "reasons": result["reasons"] if result else ["no result: the run could not be judged"],
                     "run": result["run"] if result else None})
    caught = sum(1 for r in rows if r["caught"])
    false_alarms = sum(c["false_alarms"] for c in cleans) + max(0, clean_runs_asked - len(cleans))
    fault_walls = sorted((r["wall_s"] or 0.0, r["fault"]) for r in rows)
    layer_walls: dict[str, float] = {}
    for r in rows:
        for layer in r["tests"]:
            layer_walls[layer] = layer_walls.get(layer, 0.0) + (r["wall_s"] or 0.0) / len(r["tests"])
    return {
        "format": FORMAT_VERSION, "layers": layers,
        "summary": {"faults": len(rows), "caught": caught,
                    "detection_rate": round(caught / len(rows), 4) if rows else 0.0,
                    "missed": [r["fault"] for r in rows if not r["caught"]],
                    "clean_runs": len(cleans), "clean_runs_asked": clean_runs_asked, "false_alarms": false_alarms,
                    "wall_s": round(wall_s, 1),
                    "fault_runs_wall_s": round(sum(w for w, _ in fault_walls), 1),
                    "slowest_faults": [{"fault": f, "wall_s": w} for w, f in reversed(fault_walls[-5:])],
                    "wall_s_by_layer": {k: round(v, 1) for k, v in sorted(layer_walls.items(),
                                                                           key=lambda kv: -kv[1])}},
        "faults": rows, "clean": cleans,
    }


def passed(matrix: dict[str, Any]) -> bool:
    s = matrix["summary"]
    return s["faults"] > 0 and s["caught"] == s["faults"] and s["false_alarms"] == 0 \
        and s["clean_runs"] >= s["clean_runs_asked"]


def render_html(matrix: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(traceability.TEMPLATES),
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
                             undefined=jinja2.StrictUndefined)
    return mask(env.get_template("detection.html.j2").render(m=matrix, passed=passed(matrix)))


def write_matrix(folder: Path, matrix: dict[str, Any]) -> None:
    _write(folder / MATRIX_JSON, matrix)
    (folder / MATRIX_HTML).write_text(render_html(matrix), encoding="utf-8")


def summary_lines(matrix: dict[str, Any]) -> list[str]:
    s = matrix["summary"]
    lines = [f"detection: {s['caught']} of {s['faults']} faults caught ({100 * s['detection_rate']:.1f} %), "
             f"{s['false_alarms']} false alarm(s) in {s['clean_runs']} clean run(s) of {s['clean_runs_asked']}; "
             f"wall time {s['wall_s']:.0f} s (fault runs {s['fault_runs_wall_s']:.0f} s)"]
    lines += [f"MISSED {r['fault']} (breaks {', '.join(r['breaks'])}): "
              + "; ".join(f"{layer} {cell}" for layer, cell in r["cells"].items() if cell != "not expected")
              for r in matrix["faults"] if not r["caught"]]
    for clean in matrix["clean"]:
        for item in clean["failed_tests"] + clean["reasons"]:
            lines.append(f"FALSE ALARM in {clean['run']}: {item}")
    return lines
