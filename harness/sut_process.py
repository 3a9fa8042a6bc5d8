"""Run the embedded reference system as a child process: start, wait for its ready line, stop, no leftovers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess  # nosec B404 # fixed argument lists of the project's own tools, no shell
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any


class SutStartError(RuntimeError):
    """The reference system did not come up; the message carries the end of its log."""


class SutProcess:
    """``python -m sut`` in its own process group, so stopping it leaves no process behind."""

    def __init__(self, *, faults: list[str] | None = None, test_mode: bool = True, log_path: Path | None = None,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                 start_timeout: float = 60.0, cwd: Path | None = None, stdout_path: Path | None = None,
                 tmp_parent: Path | None = None) -> None:
        self.faults = faults or []
        self.test_mode = test_mode
        self.log_path = log_path
        self.extra_args = extra_args or []
        self.env = env
        self.start_timeout = start_timeout
        self.cwd = cwd or Path(__file__).resolve().parent.parent
        # With a stdout file the process needs no reader in this process, so it may outlive it (a shared run).
        self.stdout_path = stdout_path
        # The system makes temporary folders (its SQLite file, the push gateways' CA and keys) and removes them at a
        # clean stop, but not when it is killed: they go into a folder of ours, which stop() removes.
        self.tmp_parent = tmp_parent
        self.tmp_dir: Path | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self._log: IO[str] | None = None
        self._drainer: threading.Thread | None = None

    @property
    def urls(self) -> dict[str, str]:
        return self.ready.get("urls", {})

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "sut", *self.extra_args]
        if self.test_mode:
            cmd.append("--test-mode")
        if self.faults:
            cmd += ["--faults", ",".join(self.faults)]
        return cmd

    def start(self) -> SutProcess:
        if self.tmp_parent is not None:
            self.tmp_parent.mkdir(parents=True, exist_ok=True)
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="sut-tmp-", dir=self.tmp_parent))
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1", "TMPDIR": str(self.tmp_dir)}
        env.pop("SUT_FAULTS", None) if self.faults else None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("w", encoding="utf-8")
        if self.stdout_path:
            return self._start_detached(env)
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments # nosec B603 # fixed argv, no shell
            self.command(), cwd=self.cwd, env=env, stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL, text=True, start_new_session=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        self._take_ready_line(line[0] if line else "")
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        return self

    def _start_detached(self, env: dict[str, str]) -> SutProcess:
        """Start with stdout to a file and poll it for the ready line."""
        if self.stdout_path is None:
            raise RuntimeError("a detached start needs a stdout file")
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments # nosec B603 # fixed argv, no shell
                self.command(), cwd=self.cwd, env=env, stdout=out, stdin=subprocess.DEVNULL,
                stderr=self._log or subprocess.DEVNULL, text=True, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        first = ""
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(encoding="utf-8", errors="replace")
            if "\n" in text:
                first = text.split("\n", 1)[0]
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self._take_ready_line(first)
        return self

    def _take_ready_line(self, first: str) -> None:
        """Parse the ready line, or stop the process and say why it did not come up."""
        if self.proc is None:
            raise RuntimeError("the system was not started")
        if not first.strip():
            try:
                # Its output closes a moment before it exits: wait briefly so the exit code can be reported.
                code: int | None = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                code = None
            self.stop()
            state = f"exited with {code}" if code is not None else f"not ready after {self.start_timeout:.0f} s"
            raise SutStartError(f"the reference system {state}{self._log_tail()}")
        try:
            self.ready = json.loads(first)
        except json.JSONDecodeError as exc:
            self.stop()
            raise SutStartError(f"the reference system printed no ready line: {first[:200]!r}") from exc

    def _drain(self) -> None:
        if self.proc is None or self.proc.stdout is None:
            raise RuntimeError("the system was not started with a stdout pipe")
        for _ in self.proc.stdout:
            pass

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        if self._log:
            self._log.flush()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return ("; its log ends:\n" + "\n".join(tail)) if tail else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc is None:
            self._remove_tmp()
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        else:
            # The leader is gone; make sure no child of its group (a worker process) outlives it.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._drainer:
            self._drainer.join(5)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if self._log:
            self._log.close()
            self._log = None
        self._remove_tmp()
        return self.proc.returncode

    def _remove_tmp(self) -> None:
        """After the process group is gone: whatever the system left in its temporary folder."""
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None

    def __enter__(self) -> SutProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
