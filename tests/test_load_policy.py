"""The load layer's judgement without a system: the SLO policy fails closed and names file and line, the
exactly-once accounting counts what the gateways' records say, and the latency is exact."""

from __future__ import annotations

import csv
import json
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.load import (
    LOAD_DIR,
    Accounting,
    Latency,
    LocustError,
    Record,
    Send,
    SloError,
    account,
    failures,
    judge,
    load_policy,
    locust_command,
    run_locust,
    sms_saving,
)
from harness.requirements import load_catalogue

POLICY = LOAD_DIR / "slo.toml"


def test_the_policy_names_known_requirements_and_the_issue_thresholds() -> None:
    policy = load_policy(POLICY)
    catalogue = load_catalogue()
    for slo in policy.slos:
        assert slo.requirements and all(r in catalogue for r in slo.requirements), slo
    bounds = {s.metric: (s.max, s.min) for s in policy.slos}
    assert bounds["api.p95_ms"] == (800, None) and bounds["api.failure_pct"] == (1, None)
    assert bounds["push.p95_ms"] == (1000, None) and bounds["push.p99_ms"] == (2000, None)
    assert bounds["push.lost"] == bounds["push.duplicated"] == bounds["push.sent_after_pruning"] == (0, None)
    assert bounds["push.retry_after_undercut"] == (0, None) and bounds["push.retry_overhead_pct"] == (10, None)
    assert bounds["load.achieved_rate_pct"] == (None, 95)
    assert policy.warmup_s > 0
    # the seed's SMS volume at its price: about 10 MSEK a year
    assert 9.5e6 <= policy.sms["price_sek"] * policy.sms["notifications_per_year"] <= 10.5e6


def test_a_missing_figure_fails() -> None:
    policy = load_policy(POLICY)
    figures = {"api.p95_ms": 12.0, "api.failure_pct": 0.0}  # nothing else was measured
    broken = failures(judge(policy, "staff", figures))
    assert {v.slo.metric for v in broken} >= {"push.p95_ms", "push.lost", "load.achieved_rate_pct"}
    assert "missing" in broken[0].line() and "BR-" in broken[0].line()


@pytest.mark.parametrize(("text", "line", "what"), [
    ("version = 1\nwarmup_s = 4\n[slo.a]\nmetric = \"api.p95_ms\"\nmax = \n", 5, "not valid TOML"),
    ("version = 2\nwarmup_s = 4\n", 1, "version must be 1"),
    ("version = 1\nwarmup_s = 4\n\n[slo.a]\nmetric = \"api.p95\"\nmax = 1\n", 4, "metric must be one of"),
    ("version = 1\nwarmup_s = 4\n[slo.a]\nmetric = \"api.p95_ms\"\nmax = 1\nrequirements = []\n"
     "description = \"x\"\n", 3, "requirements must be"),
    ("version = 1\nwarmup_s = 4\n[slo.a]\nmetric = \"api.p95_ms\"\nmax = 1\nmin = 0\n", 3, "exactly one"),
    ("version = 1\nwarmup_s = 4\n", 1, "no [slo.<name>]"),
])
def test_a_broken_policy_names_file_and_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = tmp_path / "slo.toml"
    path.write_text(text)
    with pytest.raises(SloError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:{line}:"), caught.value
    assert what in str(caught.value)


def test_a_missing_policy_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SloError, match="cannot read"):
        load_policy(tmp_path / "nothing.toml")


def _record(token: str, message: str, outcome: str, at: float, *, status: int = 200, reason: str = "",
            key: str = "k", ref: str = "r", channel: str = "apns", retry_after: float = 0.0,
            answer_after: float = 0.01, abandoned: bool = False) -> Record:
    return Record(channel, token, key, ref, message, status, reason, outcome, at, at + answer_after, retry_after,
                  abandoned)


def test_accounting_counts_lost_duplicated_pruned_and_retry_after() -> None:
    sends = [Send("staff send", 100.0 + i, 100.0 + i, 100.1 + i, 201, True, f"m{i}", "p") for i in range(3)]
    addresses = {"p": [("apns", "A"), ("fcm", "F"), ("apns", "G")]}
    records = [
        _record("A", "m0", "delivered", 100.2, key="a0"),
        _record("A", "m1", "rejected", 101.2, status=429, reason="TooManyRequests", key="a1", retry_after=1.0),
        _record("A", "m2", "rejected", 101.3, status=503, key="a2"),  # another notification: not bound by it
        _record("A", "m1", "delivered", 101.5, key="a1"),  # 0.3 s after a retry-after of 1 s: undercut
        _record("A", "m1", "duplicate", 102.0, key="a1-bis"),
        _record("F", "m0", "rejected", 100.3, status=404, reason="UNREGISTERED", channel="fcm"),
        _record("F", "m1", "delivered", 101.3, key="f1", channel="fcm"),  # after pruning
        _record("G", "m0", "delivered", 100.2, key="g0"),
        _record("G", "m1", "delivered", 101.2, key="g1"),
        # m2 never reaches A (503, not retried) or G: lost twice; at F it is dropped after the pruning, not lost
    ]
    acc = account(sends, addresses, records, since=101.0)
    assert acc.per_channel["apns"] == {"expected": 6, "delivered": 4, "lost": 2, "duplicated": 1, "pruned": 0,
                                       "sent_after_pruning": 0}
    assert acc.per_channel["fcm"]["pruned"] == 1 and acc.per_channel["fcm"]["sent_after_pruning"] == 1
    assert acc.per_channel["fcm"]["lost"] == 0
    assert acc.retry_after_undercut == 1
    assert acc.push_notifications == 2  # m0 and m1 reached a device by push
    assert [round(ms) for _, ms in acc.latencies_ms] == [210, 310, 510]  # m1 only: m0 is in the warm-up


def test_retry_after_counts_from_the_answer_not_the_receipt() -> None:
    """A gateway that took 0.8 s to answer its 429 (busy under load): the sender learnt of the retry-after then, so
    a retry 1.1 s after the answer keeps it, though it came 1.9 s after the first request; 0.5 s after the answer
    does not."""
    sends = [Send("staff send", 100.0, 100.0, 100.1, 201, True, "m0", "p"),
             Send("staff send", 100.0, 100.0, 100.1, 201, True, "m1", "p")]
    throttled = dict(status=429, reason="TooManyRequests", retry_after=1.0, answer_after=0.8)
    records = [_record("A", "m0", "rejected", 100.2, key="k0", **throttled),  # answered at 101.0
               _record("A", "m0", "delivered", 102.1, key="k0"),  # 1.1 s after the answer: kept
               _record("A", "m1", "rejected", 100.2, key="k1", **throttled),  # answered at 101.0
               _record("A", "m1", "delivered", 101.5, key="k1")]  # 0.5 s after the answer: undercut
    acc = account(sends, {"p": [("apns", "A")]}, records)
    assert acc.retry_after_undercut == 1
    # The sender gave up on a held 429 (its send timeout) and retried: it never saw that retry-after.
    records[2] = _record("A", "m1", "rejected", 100.2, key="k1", abandoned=True, **throttled)
    assert account(sends, {"p": [("apns", "A")]}, records).retry_after_undercut == 0


def test_latency_is_exact_to_three_digits() -> None:
    latency = Latency.of([100.0] * 990 + [2000.0] * 10)
    summary = latency.summary()
    assert summary["p50"] == pytest.approx(100, rel=1e-3) and summary["p99"] == pytest.approx(100, rel=1e-3)
    assert summary["p99.9"] == pytest.approx(2000, rel=1e-3) and summary["max"] == pytest.approx(2000, rel=1e-3)
    assert summary["count"] == 1000
    assert Latency().summary() == {}  # nothing recorded: a missing figure, never a zero


def test_sms_saving_from_the_channel_mix() -> None:
    policy = load_policy(POLICY)
    acc = Accounting({"apns": {"delivered": 60}, "fcm": {"delivered": 60}, "sms": {"delivered": 20}}, 0, 140, 140,
                     [], push_notifications=60)  # 60 messages, each to an iPhone and an Android phone
    saving = sms_saving(policy, acc)
    assert saving["push_share_pct"] == 75.0
    assert saving["saving_sek_per_year"] == round(0.75 * policy.sms["price_sek"] * policy.sms[
        "notifications_per_year"])


def test_locust_goes_to_loopback_only_and_binds_its_master_there(tmp_path: Path) -> None:
    with pytest.raises(LocustError, match=r"127\.0\.0\.1 only"):
        locust_command(LOAD_DIR / "staff_sends.py", "http://10.0.0.5:8000", tmp_path, users=1, run_time_s=5)
    command = locust_command(LOAD_DIR / "staff_sends.py", "http://127.0.0.1:8000", tmp_path, users=2,
                             run_time_s=5, workers=2)
    assert command[command.index("--master-bind-host") + 1] == "127.0.0.1"
    assert command[command.index("--run-time") + 1] == "5s" and "--headless" in command


def test_a_run_that_outlives_its_bound_is_stopped_with_its_children(tmp_path: Path) -> None:
    """The bound holds even for a process that would run on, and nothing of its process group is left."""
    script = ("import subprocess, sys, time; child = subprocess.Popen([sys.executable, '-c', "
              "'import time; time.sleep(60)']); print(child.pid, flush=True); time.sleep(60)")
    with pytest.raises(LocustError, match="longer than 2 s"):
        run_locust([sys.executable, "-c", script], tmp_path, env={}, timeout_s=2)
    child = int((tmp_path / "locust.log").read_text().split()[0])
    def gone() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone()


TICKS = '''
from openmodel import OpenModelUser


class Ticker(OpenModelUser):
    def request(self, seq: int, intended: float) -> None:
        self.log.write("tick", intended, intended, intended, 200, True)
        self.fire("tick", intended, intended, 0, None)
'''


def test_a_finished_run_stops_at_once_even_started_with_sigint_ignored(tmp_path: Path) -> None:
    """Once its dispatcher is done, locust stops in seconds, not at its --run-time, with every request in its
    final CSV and HTML report, even when the harness runs as a background job (which inherits SIGINT ignored)."""
    locustfile = tmp_path / "ticks.py"
    locustfile.write_text(TICKS)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"folder": str(tmp_path), "rate": 4.0, "warmup_s": 0.0, "measure_s": 1.0,
                                "drain_s": 5}))
    command = locust_command(locustfile, "http://127.0.0.1:9", tmp_path, users=1, run_time_s=90)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nox -s release &` or nohup would hand it down
    try:
        run = run_locust(command, tmp_path, env={"LOAD_PLAN": str(plan), "PYTHONPATH": str(LOAD_DIR)},
                         timeout_s=120)
    finally:
        signal.signal(signal.SIGINT, before)
    assert run.wall_s < 30, run.output[-2000:]  # idle about 3 s; at --run-time it would be 90 s and more
    assert run.returncode == 0 and run.html.exists(), run.output[-2000:]
    rows = {row["Name"]: row for row in csv.DictReader((tmp_path / "locust_stats.csv").read_text().splitlines())}
    assert rows["tick (from intended start)"]["Request Count"] == "4", rows
