"""The load layer's JSON per scenario (fixtures/load.py) is what the gate reads: a broken SLO in it fails the gate
naming the SLO, its measured value and bound; a met one passes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures import load as load_plugin
from harness import gate
from harness.load import RunFigures, Slo, Verdict


def _scenario(name: str, p99: float) -> tuple[SimpleNamespace, list[Verdict]]:
    figures = RunFigures(scenario=name, target_rate=50.0, window=(100.0, 116.0), api={"p95": 80.0},
                         api_failure_pct=0.0, achieved_rate=49.5, push={"p99": p99})
    locust = SimpleNamespace(cpu_s=3.0, peak_rss_mb=90.0, wall_s=30.0)
    result = SimpleNamespace(name=name, figures=figures, locust=locust, notes=[])
    slo = Slo("push_p99", "push.p99_ms", ("BR-PERF-1",), "p99 under a second", max=1000.0)
    return result, [Verdict(slo, figures.figures()["push.p99_ms"])]


def test_the_scenario_json_carries_limit_value_verdict_and_requirements(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_plugin, "LOAD_DIR", [tmp_path / "load"])
    for name, p99 in (("staff", 300.0), ("mobile", 250.0), ("faults", 900.0), ("bulk", 1400.0)):
        load_plugin.write_scenario(*_scenario(name, p99))  # type: ignore[arg-type]
    bulk = json.loads((tmp_path / "load" / "bulk.json").read_text())
    assert bulk["verdicts"] == [{"slo": "push_p99", "metric": "push.p99_ms", "description": "p99 under a second",
                                 "limit": {"max": 1000.0}, "bound": "<= 1000", "value": 1400.0, "passed": False,
                                 "requirements": ["BR-PERF-1"]}]
    assert bulk["passed"] is False and bulk["figures"]["push.p99_ms"] == 1400.0
    verdict = gate.Verdict()
    gate._load(tmp_path, gate.load_policy(), verdict)
    assert [(r["subject"], "1400" in r["message"]) for r in verdict.reasons] == [("SLO push_p99", True)]
    assert verdict.figures["load_slos_broken"] == 1
