"""The soak session's options and its table of runs (harness/soak.py; the session itself is in noxfile.py)."""

from __future__ import annotations

import pytest

from harness.soak import SoakError, SoakPlan, SoakRun, plan, table

LAYERS = ["api", "web"]


def test_defaults_are_twenty_runs_of_the_api_layer() -> None:
    assert plan([], LAYERS) == SoakPlan(runs=20, layer="api", pytest_args=())


def test_runs_and_layer_are_read_and_the_rest_goes_to_pytest() -> None:
    assert plan(["--runs", "3", "--layer", "web", "-k", "journal", "--sut-faults", "idor-message"], LAYERS) == \
        SoakPlan(runs=3, layer="web", pytest_args=("-k", "journal", "--sut-faults", "idor-message"))


@pytest.mark.parametrize(("argv", "said"), [
    (["--runs", "0"], "must be 1 or more"),
    (["--runs", "many"], "--runs"),
    (["--layer", "load"], "invalid choice: 'load'"),
])
def test_bad_options_are_refused_with_the_reason(argv: list[str], said: str) -> None:
    with pytest.raises(SoakError, match=said):
        plan(argv, LAYERS)


def test_table_lists_every_run_and_sums_up() -> None:
    runs = [SoakRun(1, True, 101.25, "reports/a"), SoakRun(2, True, 99.0, "reports/b"),
            SoakRun(3, True, 120.5, "reports/c")]
    lines = table(runs, 3).splitlines()
    assert lines[0].split() == ["run", "result", "wall", "time", "evidence"]
    assert lines[1].split() == ["1", "passed", "101.2s", "reports/a"]
    assert lines[-1] == "3 of 3 runs passed; wall time min 99.0 s, median 101.2 s, max 120.5 s"


def test_table_of_a_soak_stopped_by_a_failure_says_where() -> None:
    runs = [SoakRun(1, True, 100.0, "reports/a"), SoakRun(2, False, 140.0, "reports/b")]
    text = table(runs, 20)
    assert text.splitlines()[2].split()[:2] == ["2", "FAILED"]
    assert text.splitlines()[-1].startswith("1 of 20 runs passed; stopped after run 2;")
