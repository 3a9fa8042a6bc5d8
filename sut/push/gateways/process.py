"""Start and stop the fake gateways' process from the backend (parent side)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any


class GatewayStartError(RuntimeError):
    pass


class GatewayProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, config: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        # Same process group as the backend (no new session): a signal to the group reaches it too, and its
        # stdin is a pipe from us, so it also stops when we die without cleaning up.
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sut.push.gateways", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=None)
        if self.proc.stdin is None or self.proc.stdout is None:
            raise RuntimeError("the gateways process has no pipes")
        self.proc.stdin.write(json.dumps(config).encode() + b"\n")
        await self.proc.stdin.drain()
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            line = b""
        if not line.strip():
            await self.stop()
            raise GatewayStartError("the fake gateways did not start (see the log above)")
        return json.loads(line)

    async def stop(self, timeout: float = 5.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # end of stdin: the gateways stop by themselves
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode
