"""The load layer against the reference system: its measurement is faithful (a known gateway latency shows in
p50 within 5 %, a stall in p99), and with each fault that breaks delivery at load switched on it fails, naming
the SLO and the requirement. Locust runs as a bounded subprocess; faults are global to the system, so these
tests share the fault tests' worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import FaultSwitch

from harness.load import LOAD_DIR, Policy, Verdict, failures, judge, load_policy
from harness.load_run import ControlClient, Profile, bulk_scenario, staff_scenario
from harness.sut_process import SutProcess

# Each locust run is bounded by its own timeout (185 s); a test runs two, plus seeding, on a machine that may be busy.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults"), pytest.mark.timeout(900)]
SMALL = Profile(staff_rate=4.0, fault_rate=8.0, warmup_s=2.0, measure_s=8.0, patients=12, sms_patients=2)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(LOAD_DIR / "slo.toml")


@pytest.fixture
def control(sut: SutProcess) -> Iterator[ControlClient]:
    client = ControlClient(sut.urls["base"], sut.urls["gateway_inspect"])
    yield client
    client.reset_gateways()
    client.close()


def broken(verdicts: list[Verdict]) -> dict[str, str]:
    return {v.slo.name: v.line() for v in failures(verdicts)}


def test_a_clean_run_meets_every_slo(control: ControlClient, policy: Policy, tmp_path: Path) -> None:
    result = staff_scenario(control, tmp_path, SMALL)
    verdicts = judge(policy, "staff", result.figures.figures())
    assert not broken(verdicts), "\n".join(broken(verdicts).values())
    acc = result.accounting
    assert acc is not None and acc.total("expected") > 0 and acc.total("delivered") == acc.total("expected")
    assert result.locust.returncode == 0 and result.locust.html.exists() and result.locust.csvs()


def test_a_fixed_gateway_latency_shows_in_p50_within_five_percent(control: ControlClient,
                                                                   tmp_path: Path) -> None:
    """The latency counts to the gateway's answer: a fixed 1 s latency at both push gateways adds 1 s to p50
    (the system's own share measured in the same conditions without it)."""
    base = staff_scenario(control, tmp_path / "base", SMALL).figures.push["p50"]
    slow = staff_scenario(control, tmp_path / "slow", SMALL,
                          knobs={"apns": {"latency_ms": 1000}, "fcm": {"latency_ms": 1000}}).figures.push["p50"]
    assert abs((slow - base) - 1000) <= 50, (base, slow)


def test_a_stall_shows_in_the_corrected_p99(control: ControlClient, policy: Policy, tmp_path: Path) -> None:
    result = staff_scenario(control, tmp_path, SMALL, faults=True, stall_s=2.0)
    push = result.figures.push
    assert push["p99"] >= 2000 > push["p50"], push
    assert "push_p99" in broken(judge(policy, "staff", result.figures.figures()))


def test_duplicate_on_retry_fails_the_exactly_once_slo(control: ControlClient, policy: Policy, faults: FaultSwitch,
                                                      tmp_path: Path) -> None:
    stall = {"stall": {"seconds": 1.2, "count": 3}}  # past the send timeout below: retried with the same key
    faults.on("push-duplicate-on-retry")
    result = staff_scenario(control, tmp_path, SMALL, knobs={"apns": stall, "fcm": stall},
                            config={"send_timeout": 0.4, "backoff_base": 0.05})
    failed = broken(judge(policy, "staff", result.figures.figures()))
    assert "none_duplicated" in failed and "BR-NOTIF-2" in failed["none_duplicated"], failed


def test_sends_to_pruned_tokens_fail_their_slo(control: ControlClient, policy: Policy, faults: FaultSwitch,
                                              tmp_path: Path) -> None:
    faults.on("push-to-pruned-token")
    result = staff_scenario(control, tmp_path, SMALL, unregistered=4)
    failed = broken(judge(policy, "staff", result.figures.figures()))
    assert "no_sends_to_pruned" in failed and "BR-NOTIF-4" in failed["no_sends_to_pruned"], failed


def test_an_ignored_retry_after_fails_its_slo(control: ControlClient, policy: Policy, faults: FaultSwitch,
                                             tmp_path: Path) -> None:
    faults.on("push-retry-after-ignored")
    result = staff_scenario(control, tmp_path, SMALL, faults=True)
    failed = broken(judge(policy, "faults", result.figures.figures()))
    assert "retry_after_kept" in failed and "BR-NOTIF-4" in failed["retry_after_kept"], failed


def test_a_fanout_that_slows_with_the_audience_fails_the_scaling_slo(control: ControlClient, policy: Policy,
                                                                    faults: FaultSwitch, tmp_path: Path) -> None:
    profile = Profile(bulk_devices=(500, 2000))
    clean = broken(judge(policy, "bulk", bulk_scenario(control, tmp_path / "clean", profile).figures.figures()))
    assert not clean, clean
    faults.on("push-slow-with-audience")
    result = bulk_scenario(control, tmp_path / "faulty", profile)
    failed = broken(judge(policy, "bulk", result.figures.figures()))
    assert "broadcast_scaling" in failed and "BR-PERF-2" in failed["broadcast_scaling"], (failed, result.notes)
