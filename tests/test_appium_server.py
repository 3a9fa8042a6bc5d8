"""The project's own Appium server: it starts and answers, runs a real session on a local profile, and stops with
everything it started; a server killed mid-run fails the tests that meet it, naming its log, and never hangs."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness import appium_server, mobile

pytest_plugins = ["pytester"]

MARK = "HARNESS_APPIUM_TEST_MARK"  # put in the environment of what a test starts, to find its processes after


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_the_project_has_appium_and_its_chromium_driver() -> None:
    assert appium_server.APPIUM.exists(), appium_server.INSTALL_HINT
    assert "chromium" in appium_server.installed_drivers()


@pytest.mark.slow
def test_start_a_session_and_stop_leaving_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    server = appium_server.AppiumServer(tmp_path / "appium.log").start()
    try:  # the server is stopped whatever fails below, the driver's start included
        assert server.ready() and server.alive() and server.url.startswith("http://127.0.0.1:")
        profile = mobile.load_profiles()["local-android"]
        driver = mobile.new_driver(server.url, appium_server.with_own_ports(profile.capabilities(), profile.driver))
        driver.get("data:text/html,<p>hej</p>")
        assert "Pixel 7" in driver.execute_script("return navigator.userAgent")
        names = {p.name() for p in _marked(mark)}
        assert any("chromedriver" in n for n in names) and any("chrom" in n for n in names - {"chromedriver"}), names
    finally:
        server.stop()  # the session is left open on purpose: stopping the server must end it, Chromium and all
    assert not server.alive()
    deadline = time.monotonic() + 10
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _marked(mark), f"left running: {[p.name() for p in _marked(mark)]}"
    assert "Appium REST http interface listener started" in (tmp_path / "appium.log").read_text()


def test_a_server_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    broken = appium_server.AppiumServer(tmp_path / "broken.log", extra_args=("--no-such-option",), start_timeout=60)
    with pytest.raises(appium_server.AppiumStartError, match=r"exited with code \d+ at start; its log: .*broken\.log"):
        broken.start()
    taken = appium_server.AppiumServer(tmp_path / "first.log").start()
    try:
        with pytest.raises(appium_server.AppiumStartError, match=f"port {taken.port} on 127.0.0.1 is in use"):
            appium_server.AppiumServer(tmp_path / "second.log", port=taken.port).start()
    finally:
        taken.stop()


KILLED = """
import os
import signal


def test_1_server_dies(device, appium_server):
    device.open_link("/")
    os.killpg(appium_server.pid, signal.SIGKILL)
    device.open_link("/inbox")


def test_2_after(device):
    device.open_link("/")


def test_3_after(device):
    device.open_link("/")
"""


@pytest.mark.slow
def test_a_server_killed_mid_run_fails_clearly_and_leaves_nothing(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest('pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", '
                          '"fixtures.api", "fixtures.browser", "fixtures.appium", "fixtures.evidence", '
                          '"fixtures.report"]\n')
    pytester.makepyfile(test_killed=KILLED)
    run = pytester.path / "run"
    began = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "--device", "local-android",
                                           "--run-dir", str(run), "--timeout", "120", timeout=300)
    took = time.monotonic() - began
    output = result.stdout.str()
    assert took < 120, f"no hang: the run took {took:.0f} s"
    failed = set(re.findall(r"^(?:FAILED|ERROR) test_killed\.py::(\w+)", output, re.MULTILINE))
    assert "test_1_server_dies" in failed, output[-3000:]
    assert "stopped during the run" in output and "its log: " in output and "appium-main.log" in output
    assert "passed" not in result.parseoutcomes(), "nothing passes on a dead server"
    time.sleep(1)
    assert not _marked(mark), f"left running: {[p.name() for p in _marked(mark)]}"
    assert (run / "appium" / "appium-main.log").exists(), "the log is kept as evidence"
