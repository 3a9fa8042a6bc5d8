"""Soak runs: one layer run back to back, to show that a clean run does not fail by chance.

``nox -s soak -- --runs 20 --layer api`` runs them (noxfile.py); this module holds what is not nox: the options and
the table of runs. Other arguments go through to pytest.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_RUNS = 20
DEFAULT_LAYER = "api"


class SoakError(ValueError):
    """Options the soak session cannot run with; the message says which and why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise SoakError(f"{self.prog}: {message}")


@dataclass(frozen=True)
class SoakPlan:
    runs: int
    layer: str
    pytest_args: tuple[str, ...]


@dataclass(frozen=True)
class SoakRun:
    number: int
    passed: bool
    seconds: float
    run_dir: str


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def plan(argv: Sequence[str], layers: Sequence[str]) -> SoakPlan:
    """What to run: ``--runs N`` (default 20) of ``--layer NAME`` (default api); the rest goes to pytest."""
    parser = _Parser(prog="nox -s soak --", add_help=False)
    parser.add_argument("--runs", type=_positive, default=DEFAULT_RUNS)
    parser.add_argument("--layer", default=DEFAULT_LAYER, choices=list(layers))
    known, rest = parser.parse_known_args(list(argv))
    return SoakPlan(runs=known.runs, layer=known.layer, pytest_args=tuple(rest))


def table(runs: Sequence[SoakRun], planned: int) -> str:
    """One line per run (number, result, wall time, evidence folder), then a summary."""
    lines = [f"{'run':>4}  {'result':<6}  {'wall time':>9}  evidence"]
    lines += [f"{run.number:>4}  {'passed' if run.passed else 'FAILED':<6}  {run.seconds:>8.1f}s  {run.run_dir}"
              for run in runs]
    passed = sum(run.passed for run in runs)
    summary = f"{passed} of {planned} runs passed"
    if len(runs) < planned:
        summary += f"; stopped after run {runs[-1].number}" if runs else "; none ran"
    if runs:
        seconds = [run.seconds for run in runs]
        summary += (f"; wall time min {min(seconds):.1f} s, median {statistics.median(seconds):.1f} s, "
                    f"max {max(seconds):.1f} s")
    return "\n".join([*lines, summary])
