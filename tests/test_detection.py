"""The detection matrix (harness/detection.py): the fault catalogue's layer claims hold against the suites' tests,
a fault run is caught only when the gate names the fault's requirement and a test of the layer broke it, a clean
run's every failure is a false alarm, and the matrix fails on a missed fault, a false alarm or a missing run."""

from __future__ import annotations

import json
import re
import subprocess  # nosec B404 - pytest's collection of this project's suites
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from run_folders import RunSpec, write_catalogue, write_run
from support import HARNESS_PLUGINS

from harness import detection, gate, traceability
from sut import faults

ROOT = Path(__file__).resolve().parent.parent
LAYERS = sorted(p.name for p in (ROOT / "suites").iterdir() if p.is_dir() and not p.name.startswith("_"))


@dataclass(frozen=True)
class F:
    name: str
    breaks: tuple[str, ...]
    layers: tuple[str, ...]
    description: str = "A defect."


LISTING = {
    "suites/api/test_rules.py::test_br_t_1": ["BR-T-1"],
    "suites/web/test_pages.py::test_page": ["BR-T-2"],
    "suites/load/test_load.py::test_staff": ["BR-T-5"],
}


def test_every_fault_of_the_catalogue_names_layers_whose_tests_name_its_requirements(tmp_path: Path) -> None:
    listing = tmp_path / "tests.json"
    command = [sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider",
               "-m", "not static", "--list-requirements", str(listing)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)  # noqa: S603 - fixed arguments
    plans = detection.plan(faults.CATALOGUE.values(), detection.load_listing(listing), LAYERS)
    assert len(plans) == len(faults.CATALOGUE) >= 40
    assert {layer for p in plans for layer in p.layers} == set(LAYERS)  # every layer is expected to catch some
    assert all(count > 0 for p in plans for count in p.tests.values())


def test_a_layer_claim_without_a_test_naming_the_requirement_is_an_error() -> None:
    with pytest.raises(detection.DetectionError) as caught:
        detection.plan([F("a", ("BR-T-1",), ("api", "web")), F("b", ("BR-T-2",), ("mobile",)), F("c", ("BR-T-5",), ())],
                       LISTING, ["api", "web", "load"])
    text = str(caught.value)
    assert "a: no test of the web layer names any of BR-T-1" in text
    assert "b: layer 'mobile' does not exist" in text
    assert "c: names no layer" in text


def test_the_plan_counts_the_selected_tests_per_layer() -> None:
    [p] = detection.plan([F("a", ("BR-T-1", "BR-T-2"), ("api", "web"))], LISTING, ["api", "web"])
    assert p.tests == {"api": 1, "web": 1}


def test_the_fault_policy_keeps_the_requirement_rules_and_narrows_the_scope() -> None:
    policy = gate.load_policy()
    narrowed = detection.fault_policy(policy, ["api"])
    assert narrowed["layers"]["required"] == ["api"]
    assert narrowed["requirements"]["no_failures"] is True and narrowed["requirements"]["must_pass"] == []
    assert policy["layers"]["required"] != ["api"]  # the release policy itself is untouched


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cat = write_catalogue(tmp_path / "catalogue")
    monkeypatch.setattr(traceability, "load_catalogue", lambda *a, **k: cat)
    monkeypatch.setattr(traceability, "load_registers", lambda *a, **k: traceability.Register([], []))
    return cat


def _plan(breaks: tuple[str, ...], layers: tuple[str, ...] = ("api",)) -> detection.FaultPlan:
    return detection.FaultPlan("f", "A defect.", breaks, layers, {layer: 1 for layer in layers})


def test_a_fault_is_caught_when_a_test_of_the_layer_breaks_its_requirement(tmp_path: Path, catalogue) -> None:
    run = write_run(tmp_path, "20261202-101500-f", RunSpec(outcomes={"BR-T-1": "failed"}, layers=["api"],
                                                           exit_status=1))
    result = detection.judge_fault(run, _plan(("BR-T-1",)), gate.load_policy(), wall_s=12.3)
    assert result["caught"] and result["layers"] == {"api": "caught"} and result["named"] == ["BR-T-1"]
    assert json.loads((run / detection.RESULT_JSON).read_text(encoding="utf-8"))["caught"] is True
    assert json.loads((run / gate.GATE_JSON).read_text(encoding="utf-8"))["gate"] == "failed"


def test_a_failure_of_another_requirement_does_not_count(tmp_path: Path, catalogue) -> None:
    run = write_run(tmp_path, "20261202-101500-f", RunSpec(outcomes={"BR-T-1": "failed", "BR-T-2": "passed"},
                                                           layers=["api", "web"], exit_status=1))
    result = detection.judge_fault(run, _plan(("BR-T-2",), ("api", "web")), gate.load_policy(), wall_s=1)
    assert not result["caught"] and result["named"] == []
    assert result["layers"] == {"api": "missed", "web": "missed"}


def test_a_passing_fault_run_is_missed(tmp_path: Path, catalogue) -> None:
    run = write_run(tmp_path, "20261202-101500-f", RunSpec(outcomes={"BR-T-1": "passed"}, layers=["api"]))
    result = detection.judge_fault(run, _plan(("BR-T-1",)), gate.load_policy(), wall_s=1)
    assert not result["caught"] and result["gate"] == "passed"


def test_a_broken_slo_names_its_requirements_for_the_load_layer(tmp_path: Path, catalogue) -> None:
    run = write_run(tmp_path, "20261202-101500-f", RunSpec(outcomes={"BR-T-5": "passed"}, layers=["load"],
                                                           broken_slo="staff"))
    result = detection.judge_fault(run, _plan(("BR-T-5",), ("load",)), gate.load_policy(), wall_s=1)
    assert result["caught"] and result["layers"] == {"load": "caught"}


def test_every_failure_of_a_clean_run_is_a_false_alarm(tmp_path: Path, catalogue) -> None:
    run = write_run(tmp_path, "20261202-101500-release", RunSpec(outcomes={"BR-T-1": "failed"}, exit_status=1))
    (run / gate.GATE_JSON).write_text(json.dumps({"gate": "failed", "reasons": [
        {"check": "requirements", "subject": "BR-T-1", "message": "BR-T-1 is failed"}]}), encoding="utf-8")
    result = detection.judge_clean(run, wall_s=None)
    assert result["false_alarms"] == 2
    assert any("test_br_t_1: failed" in item for item in result["failed_tests"])
    clean = write_run(tmp_path, "20261202-111500-release")
    (clean / gate.GATE_JSON).write_text(json.dumps({"gate": "passed", "reasons": []}), encoding="utf-8")
    assert detection.judge_clean(clean, wall_s=60)["false_alarms"] == 0


def test_a_clean_run_that_never_reached_its_gate_is_a_false_alarm(tmp_path: Path) -> None:
    run = tmp_path / "20261202-101500-release"
    run.mkdir()
    result = detection.judge_clean(run, wall_s=5)
    assert result["gate"] == "missing" and result["false_alarms"] == 2


def _result(fault: str, caught: bool) -> dict:
    return {"fault": fault, "caught": caught, "layers": {"api": "caught" if caught else "missed"},
            "named": ["BR-T-1"] if caught else [], "gate": "failed" if caught else "passed", "wall_s": 10.0,
            "reasons": [], "run": fault}


def _clean(alarms: int) -> dict:
    return {"run": "20261202-101500-release", "link": "../x/traceability.html", "gate": "passed",
            "wall_s": 600.0, "failed_tests": ["t: failed"] * alarms, "reasons": [], "false_alarms": alarms}


def test_the_matrix_passes_only_with_every_fault_caught_and_no_false_alarm(tmp_path: Path) -> None:
    plans = [_plan(("BR-T-1",)), detection.FaultPlan("g", "Another.", ("BR-T-2",), ("web",), {"web": 2})]
    plans[0] = detection.FaultPlan("f", "A defect.", ("BR-T-1",), ("api",), {"api": 1})
    ok = detection.build_matrix(plans, [_result("f", True), {**_result("g", True), "layers": {"web": "caught"}}],
                                [_clean(0)] * 3, ["api", "web"], clean_runs_asked=3, wall_s=900)
    assert detection.passed(ok) and ok["summary"]["detection_rate"] == 1.0
    assert ok["faults"][0]["cells"] == {"api": "caught", "web": "not expected"}
    missed = detection.build_matrix(plans, [_result("f", False)], [_clean(0)] * 3, ["api", "web"],
                                    clean_runs_asked=3, wall_s=900)
    assert not detection.passed(missed) and missed["summary"]["missed"] == ["f", "g"]
    assert missed["faults"][1]["cells"]["web"] == "missed"  # no result at all counts as missed
    alarm = detection.build_matrix(plans[:1], [_result("f", True)], [_clean(0), _clean(1), _clean(0)], ["api"],
                                   clean_runs_asked=3, wall_s=900)
    assert not detection.passed(alarm) and alarm["summary"]["false_alarms"] == 1
    short = detection.build_matrix(plans[:1], [_result("f", True)], [_clean(0)], ["api"], clean_runs_asked=3,
                                   wall_s=900)
    assert not detection.passed(short) and short["summary"]["false_alarms"] == 2  # runs that never happened
    detection.write_matrix(tmp_path, missed)
    html = (tmp_path / detection.MATRIX_HTML).read_text(encoding="utf-8")
    assert "underkänt" in html and 'id="g"' in html and "missat" in html
    assert any(line.startswith("MISSED f") for line in detection.summary_lines(missed))




@pytest.fixture
def two_layers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest(f"pytest_plugins = {list(HARNESS_PLUGINS)!r}\n")
    for layer, body in (("a", '''
        @pytest.mark.req("BR-INBOX-1")
        def test_a1():
            assert False, "another patient's message"

        @pytest.mark.req("BR-INBOX-1")
        def test_a2():
            pass
    '''), ("b", '''
        @pytest.mark.req("BR-INBOX-1")
        def test_b1():
            assert False, "another patient's message"

        @pytest.mark.req("BR-INBOX-1", "BR-REG-3")
        def test_b2():
            pass

        @pytest.mark.req("BR-REG-3")
        def test_b3():
            pass
    ''')):
        folder = pytester.path / "suites" / layer
        folder.mkdir(parents=True)
        (folder / f"test_{layer}.py").write_text("import pytest\n" + __import__("textwrap").dedent(body),
                                                 encoding="utf-8")
    return pytester


pytest_plugins = ["pytester"]


def test_requirements_select_and_the_run_stops_once_every_layer_broke_one(two_layers: pytest.Pytester) -> None:
    listing = two_layers.path / "tests.json"
    result = two_layers.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-v",
                                             "--requirements", "BR-INBOX-1", "--stop-when-broken", "BR-INBOX-1",
                                             "--list-requirements", str(listing))
    outcomes = {m.group(1): m.group(2) for m in (re.match(r"^suites/\S+::(\S+) (PASSED|FAILED)", line)
                                                 for line in result.outlines) if m}
    # a2 still runs (layer b had not broken one yet); b2 does not (both layers have); b3 names no BR-INBOX-1
    assert outcomes == {"test_a1": "FAILED", "test_a2": "PASSED", "test_b1": "FAILED"}, result.outlines
    assert "1 deselected" in result.outlines[-1]
    assert "every layer of the run has broken one" in result.stdout.str()
    listed = json.loads(listing.read_text(encoding="utf-8"))
    assert listed == {"suites/a/test_a.py::test_a1": ["BR-INBOX-1"], "suites/a/test_a.py::test_a2": ["BR-INBOX-1"],
                      "suites/b/test_b.py::test_b1": ["BR-INBOX-1"],
                      "suites/b/test_b.py::test_b2": ["BR-INBOX-1", "BR-REG-3"]}


def test_an_unknown_requirement_to_select_is_an_error(two_layers: pytest.Pytester) -> None:
    result = two_layers.runpytest_subprocess("-p", "no:cacheprovider", "--requirements", "BR-INBOX-1,BR-NOPE-9")
    assert result.ret != 0
    assert "--requirements: not in requirements/catalogue/: BR-NOPE-9" in result.stderr.str()


def test_the_tests_naming_the_most_of_the_requirements_come_first(two_layers: pytest.Pytester) -> None:
    result = two_layers.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "--collect-only", "-q",
                                             "--requirements", "BR-INBOX-1,BR-REG-3")
    collected = [line for line in result.outlines if line.startswith("suites/")]
    assert collected == ["suites/b/test_b.py::test_b2", "suites/a/test_a.py::test_a1", "suites/a/test_a.py::test_a2",
                         "suites/b/test_b.py::test_b1", "suites/b/test_b.py::test_b3"], collected
