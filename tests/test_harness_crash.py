"""A reference system that dies mid-run: the run fails with a message, never hangs, keeps the results so far and
leaves no process behind."""

from __future__ import annotations

import re
import time

import psutil
import pytest

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
TESTS = """
import os
import signal
import time
from pathlib import Path

import httpx

PID_FILE = Path({pid_file!r})


def test_1_before(target_up):
    assert httpx.get(target_up.urls["mobile_openapi"], timeout=10).status_code == 200


def test_2_dies(target_up):
    PID_FILE.write_text(str(target_up.shared.pid))
    os.killpg(target_up.shared.pid, signal.SIGKILL)


def _after_the_kill():
    # Under xdist these may start on the other worker before test_2 has killed the system: wait for it.
    for _ in range(600):
        if PID_FILE.exists():
            return
        time.sleep(0.05)


def test_3_after(target_up):
    _after_the_kill()
    httpx.get(target_up.urls["mobile_openapi"], timeout=10)


def test_4_after(target_up):
    _after_the_kill()
    httpx.get(target_up.urls["mobile_openapi"], timeout=10)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["single", "xdist"])
def test_sut_crash_mid_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: list[str]) -> None:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    # The run's own temporary directory, listed before and after: a killed system's folders must not stay there.
    tmp = pytester.path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    before = sorted(tmp.iterdir())
    pid_file = pytester.path / "sut.pid"
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_crash=TESTS.format(pid_file=str(pid_file)))
    run_dir = pytester.path / "run"
    # The timeout proves the run never hangs: a hang fails the test after two minutes instead of blocking CI.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *mode, f"--run-dir={run_dir}",
                                           f"--junitxml={run_dir / 'junit.xml'}", timeout=120)
    # A single process stops after the failing test; xdist reports the stop as an interruption.
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    output = result.stdout.str()
    assert "the reference system (pid" in output and "stopped during the run" in output
    # The results so far are kept: the first test passed and is in the JUnit file.
    junit = (run_dir / "junit.xml").read_text()
    assert re.search(r'<testcase [^>]*name="test_1_before"[^>]*/>', junit), "test_1_before passed and is kept"
    # No process is left: the system is gone, and nothing of its process group remains.
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    def leftovers() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if str(run_dir) in " ".join(p.info["cmdline"] or [])]

    deadline = time.monotonic() + 10  # a child notices its parent's death within a poll interval, not at once
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftovers(), leftovers()
    assert not (run_dir / ".sut").exists()
    assert (run_dir / "sut.log").exists()
    assert sorted(tmp.iterdir()) == before


def test_sut_that_cannot_start_fails_every_test_fast(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    monkeypatch.setenv("SUT_DATABASE_URL", "sqlite:////nonexistent/dir/x.db")
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_start="def test_a(target_up):\n    pass\n\ndef test_b(target_up):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*target 'local': the reference system exited with*"])


def test_plugins_start_nothing_unless_asked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugins load for the project's own tests too: a test that asks for no target starts no system."""
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    report = pytester.path / "children.txt"
    pytester.makeconftest(PLUGINS + f"""
import psutil
from fixtures.sut import SHARED_DIR_KEY


def pytest_sessionfinish(session):
    folder = session.config.stash[SHARED_DIR_KEY]
    children = psutil.Process().children(recursive=True)
    open({str(report)!r}, "w").write(f"{{len(children)}} {{(folder / 'sut.json').exists()}}")
""")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "embedded reference system (pid" not in result.stdout.str()
    assert report.read_text() == "0 False", "no child process and no system state"
