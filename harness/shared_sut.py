"""One embedded reference system shared by every process of a run (xdist workers), behind a file lock.

The first process that needs it starts it and writes its URLs to a state file; the others count themselves in;
the last one out stops it. The run's controller calls ``shutdown`` at the very end as a safety net, so a worker
that died cannot leave a process behind. The raw log is kept beside the state and, at shutdown, copied through
the masking function into the run's evidence.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock

from .masking import mask
from .sut_process import SutProcess


class SutUnavailable(RuntimeError):
    """The shared reference system stopped during the run or never came up."""


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    text = mask(path.read_text(encoding="utf-8", errors="replace")).splitlines()[-lines:]
    return ("\nits log ends:\n" + "\n".join(text)) if text else ""


class SharedSut:
    """A handle on the run's shared reference system, one per process."""

    def __init__(self, folder: Path, *, faults: list[str] | None = None, start_timeout: float = 60.0,
                 joined_regions: int | None = None, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.faults = list(faults or [])
        self.start_timeout = start_timeout
        self.joined_regions = joined_regions
        self.env = env
        self.lock = FileLock(str(folder / "sut.lock"), timeout=start_timeout + 30)
        self.state_path = folder / "sut.json"
        self.raw_log = folder / "sut.raw.log"
        self._proc: SutProcess | None = None
        self._state: dict[str, Any] | None = None

    # --- state file ---------------------------------------------------------------------------------------
    def _read(self) -> dict[str, Any] | None:
        if not self.state_path.exists():
            return None
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.state_path)

    # --- use ----------------------------------------------------------------------------------------------
    def acquire(self) -> dict[str, Any]:
        """Join the running system or start it; returns its ready line (urls, pid, faults)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            state = self._read()
            if state is not None:
                if state.get("stopped") or not pid_alive(state["pid"]):
                    raise SutUnavailable(f"the reference system (pid {state['pid']}) stopped during the run"
                                         f"{_tail(self.raw_log)}")
                state["users"] += 1
                self._write(state)
                self._state = state
                return state
            # INFO keeps the access log (method, path, status; never query strings) as evidence.
            args = ["--data-dir", str(self.folder / "data"), "--log-level", "INFO"]
            if self.joined_regions is not None:
                args += ["--joined-regions", str(self.joined_regions)]
            # Its temporary folders in ours too: another process may stop it, and shutdown() removes the folder.
            proc = SutProcess(faults=self.faults, log_path=self.raw_log, stdout_path=self.folder / "sut.stdout",
                              start_timeout=self.start_timeout, extra_args=args, env=self.env, tmp_parent=self.folder)
            proc.start()  # raises SutStartError with the end of the log
            self._proc = proc
            state = {**proc.ready, "users": 1, "started_at": time.time(), "stopped": False}
            self._write(state)
            self._state = state
            return state

    @property
    def urls(self) -> dict[str, str]:
        return dict((self._state or {}).get("urls", {}))

    @property
    def pid(self) -> int | None:
        return (self._state or {}).get("pid")

    def alive(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    def exit_code(self) -> int | None:
        """Known only in the process that started it."""
        return self._proc.proc.poll() if self._proc and self._proc.proc else None

    def death_message(self) -> str:
        code = self.exit_code()
        how = f" (exit code {code})" if code is not None else ""
        return f"the reference system (pid {self.pid}) stopped during the run{how}{_tail(self.raw_log)}"

    def release(self) -> None:
        """Count this process out; the last one stops the system."""
        if self._state is None:
            return
        with self.lock:
            state = self._read() or {}
            state["users"] = max(0, state.get("users", 1) - 1)
            if state["users"] == 0 and not state.get("stopped"):
                self._stop_pid(state.get("pid"))
                state["stopped"] = True
            self._write(state)
        self._state = None

    def _stop_pid(self, pid: int | None, timeout: float = 10.0) -> None:
        if self._proc is not None:
            self._proc.stop(timeout)
            return
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not pid_alive(pid):
                return

    def shutdown(self, evidence_log: Path | None = None) -> None:
        """At the end of the run, in the controller: stop whatever is left, keep the masked log, clean up."""
        if not self.folder.exists():
            return
        with self.lock:
            state = self._read()
            if state is not None and not state.get("stopped"):
                self._stop_pid(state.get("pid"))
                state["stopped"] = True
                self._write(state)
            elif state is not None and self._proc is not None:
                self._proc.stop()  # reap our own child, so no zombie is left
        if evidence_log is not None and self.raw_log.exists():
            evidence_log.parent.mkdir(parents=True, exist_ok=True)
            evidence_log.write_text(mask(self.raw_log.read_text(encoding="utf-8", errors="replace")),
                                    encoding="utf-8")
        shutil.rmtree(self.folder, ignore_errors=True)
