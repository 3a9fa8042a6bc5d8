"""Start and stop of ``python -m sut``: ready line, loopback only, clean shutdown, no process left."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from harness.sut_process import SutProcess, SutStartError

ROOT = Path(__file__).resolve().parent.parent


def test_ready_line_lists_every_url(sut: SutProcess) -> None:
    urls = sut.urls
    for key in ("web", "login", "mobile_openapi", "staff_openapi", "control"):
        assert urls[key].startswith("http://127.0.0.1:"), key
    with httpx.Client(timeout=10) as client:
        assert client.get(urls["mobile_openapi"]).json()["openapi"].startswith("3.1")
        assert client.get(urls["staff_openapi"]).json()["openapi"].startswith("3.1")
        assert client.get(urls["web"]).status_code in (200, 303)
        page = client.get(urls["login"])
        assert page.status_code == 200 and 'lang="sv"' in page.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    proc = SutProcess(log_path=tmp_path / "sut.log").start()
    assert proc.proc is not None
    pid = proc.proc.pid
    children = psutil.Process(pid).children(recursive=True)
    os.kill(pid, sig)
    assert proc.proc.wait(15) == 0
    proc.stop()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert "Traceback" not in (tmp_path / "sut.log").read_text()


def test_killed_system_leaves_no_temporary_folder(tmp_path: Path) -> None:
    """SIGKILL gives the system no chance to remove its database folder and the push gateways' keys: the harness
    does, so a crash test leaves nothing in the temporary directory."""
    parent = tmp_path / "tmp"
    proc = SutProcess(log_path=tmp_path / "sut.log", tmp_parent=parent).start()
    assert proc.proc is not None and proc.tmp_dir is not None
    made = sorted(re.sub(r"[a-z0-9_]{8}$", "", entry.name) for entry in proc.tmp_dir.iterdir())  # mkdtemp's names
    assert made == ["sut-", "sut-push-"], made  # its SQLite folder and the gateways' CA and keys
    os.killpg(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(15)
    proc.stop()
    assert list(parent.iterdir()) == []


def test_unknown_fault_is_refused_with_the_known_list() -> None:
    result = subprocess.run([sys.executable, "-m", "sut", "--faults", "no-such-fault"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "no-such-fault" in result.stderr and "idor-message" in result.stderr


def test_unknown_fault_in_environment_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "sut"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "SUT_FAULTS": "idor-message,bogus"})
    assert result.returncode == 2 and "bogus" in result.stderr


def test_refuses_a_non_loopback_address() -> None:
    result = subprocess.run([sys.executable, "-m", "sut", "--host", "0.0.0.0"], cwd=ROOT,  # noqa: S104
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "loopback" in result.stderr


def test_control_api_absent_outside_test_mode(tmp_path: Path) -> None:
    with SutProcess(test_mode=False, log_path=tmp_path / "sut.log", env={"SUT_TEST_MODE": ""}) as proc:
        assert "control" not in proc.urls
        with httpx.Client(base_url=proc.urls["base"], timeout=10) as client:
            for path in ("/_sut/faults", "/_sut/persons", "/_sut/reset"):
                assert client.get(path).status_code == 404
                assert client.post(path, json={"role": "adult"}).status_code in (404, 405)


def test_faults_given_at_start_are_listed(tmp_path: Path) -> None:
    with SutProcess(faults=["idor-message", "missing-csp"], log_path=tmp_path / "sut.log") as proc:
        assert proc.ready["faults"] == ["idor-message", "missing-csp"]
        listed = httpx.get(proc.urls["control"] + "/faults", timeout=10).json()
        assert listed["active"] == ["idor-message", "missing-csp"]


def test_start_failure_names_the_cause(tmp_path: Path) -> None:
    proc = SutProcess(log_path=tmp_path / "sut.log", env={"SUT_DATABASE_URL": "sqlite:////nonexistent/dir/x.db"},
                      start_timeout=30)
    # "exited with 1", not "not ready after 30 s": the failure is noticed when it happens, and its cause is named.
    with pytest.raises(SutStartError, match=r"exited with 1(.|\n)*nonexistent|exited with 1(.|\n)*unable to open"):
        proc.start()
    assert not proc.alive()


def test_list_faults_prints_catalogue() -> None:
    out = subprocess.run([sys.executable, "-m", "sut", "--list-faults"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    assert len(out.splitlines()) >= 14 and "BR-PROXY-1" in out
    json.dumps(out)
