"""The project's own Appium 3 server: installed from package-lock.json into node_modules, with ``APPIUM_HOME``
inside the project (the drivers are its npm dependencies), started on 127.0.0.1 on a free port.

``AppiumServer(log_path).start()`` waits until ``/status`` answers and raises ``AppiumStartError`` naming the log
when it does not; ``alive()`` and ``death_message()`` tell a test that the server died under it; ``stop()`` ends
the server and everything it started (chromedriver, Chromium), leaving no process. ``installed_drivers()`` reads
which Appium drivers the project has. ``python -m harness.appium_server bench`` measures the session start.

Free of pytest (tests/test_appium_server.py drives it directly).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess  # nosec B404 # the project's own Appium, fixed arguments, no shell
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
APPIUM = ROOT / "node_modules" / ".bin" / "appium"
DRIVER_PACKAGES = {"appium-chromium-driver": "chromium", "appium-uiautomator2-driver": "uiautomator2",
                   "appium-xcuitest-driver": "xcuitest"}
INSTALL_HINT = "install the project's Node tools: npm ci (nox -s mobile does this)"
LOG_TAIL = 2_000  # characters of the server's log a failure message shows


class AppiumStartError(RuntimeError):
    """The server did not start or did not answer; the message names its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The port a driver's helper listens on: each xdist worker's Appium server runs its own sessions side by side,
# and chromedriver's default port (9515) taken by one worker's session refuses the other's.
OWN_PORTS = {"chromium": "appium:chromedriverPort", "uiautomator2": "appium:systemPort",
             "xcuitest": "appium:wdaLocalPort"}


def with_own_ports(capabilities: dict[str, Any], driver: str) -> dict[str, Any]:
    """``capabilities`` with a free port for the driver's helper process, unless the profile names one."""
    key = OWN_PORTS.get(driver)
    return {**capabilities, key: free_port()} if key and key not in capabilities else dict(capabilities)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def installed_drivers(root: Path = ROOT) -> set[str]:
    """The Appium drivers the project has: npm dependencies in package.json that are installed in node_modules."""
    try:
        package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    declared = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    return {name for npm, name in DRIVER_PACKAGES.items()
            if npm in declared and (root / "node_modules" / npm / "package.json").exists()}


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return text[-LOG_TAIL:]


@dataclass
class AppiumServer:
    """One Appium server process of this run (one per xdist worker)."""

    log_path: Path
    port: int = 0
    start_timeout: float = 60.0
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> AppiumServer:
        if not APPIUM.exists():
            raise AppiumStartError(f"Appium is not installed ({APPIUM.relative_to(ROOT)} is missing): {INSTALL_HINT}")
        self.port = self.port or free_port()
        if not _port_free(self.port):  # else the other listener's /status would pass for ours
            raise AppiumStartError(f"port {self.port} on 127.0.0.1 is in use; the Appium server was not started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "APPIUM_HOME": str(ROOT)}  # the drivers are the project's own npm dependencies
        with self.log_path.open("ab") as log:
            # A session of its own: stop() ends the whole group (the server, chromedriver, Chromium).
            self.process = subprocess.Popen(  # noqa: S603 # nosec B603 # the project's own Appium, fixed argv
                [str(APPIUM), "server", "--address", "127.0.0.1", "--port", str(self.port), "--log-no-colors",
                 "--log-timestamp", *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AppiumStartError(f"the Appium server exited with code {self.process.returncode} at start; "
                                       f"its log: {self.log_path}\n{_tail(self.log_path)}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise AppiumStartError(f"the Appium server did not answer on {self.url} within {self.start_timeout:.0f} s; "
                               f"its log: {self.log_path}\n{_tail(self.log_path)}")

    def ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.url}/status", timeout=2)
            return bool(answer.json().get("value", {}).get("ready"))
        except (httpx.HTTPError, ValueError):
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def death_message(self) -> str:
        code = self.process.poll() if self.process else None
        return (f"the Appium server on {self.url} stopped during the run (exit code {code}); its log: "
                f"{self.log_path}\n{_tail(self.log_path)}")

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """End the server and every process it started; nothing of it is left running."""
        if self.process is None:
            return
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            family = []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        # Chromium may leave its group (zygote, crashpad): whatever the server started and still runs is ended.
        for child in family:
            try:
                child.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(family, timeout=timeout)
        if self.process.poll() is None:
            self.process.wait(timeout=timeout)


def _bench(runs: int) -> None:
    """Median Appium session start on the local profiles (a printed figure, not a check)."""
    import statistics
    import tempfile

    from .mobile import load_profiles, new_driver, select

    with tempfile.TemporaryDirectory() as folder:
        server = AppiumServer(Path(folder) / "appium.log").start()
        try:
            for name, profile in select(load_profiles(), []).items():
                starts = []
                for _ in range(runs):
                    begun = time.monotonic()
                    caps = with_own_ports(profile.capabilities(build="bench", session=name), profile.driver)
                    driver = new_driver(server.url, caps)
                    starts.append(time.monotonic() - begun)
                    driver.quit()
                print(f"{name}: median session start {statistics.median(starts):.2f} s over {runs} sessions "
                      f"(min {min(starts):.2f} s, max {max(starts):.2f} s)", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.appium_server")
    parser.add_argument("command", choices=["bench"])
    parser.add_argument("--runs", type=int, default=10)
    _bench(parser.parse_args().runs)
