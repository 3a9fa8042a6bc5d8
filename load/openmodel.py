"""The open model the locustfiles share: requests start at fixed intended times, whatever the system does.

A locust user here is a dispatcher, not a simulated person: it spawns each request at its intended start time
(``start + n / rate``) in a greenlet of its own, so a slow answer never delays the next request (no coordinated
omission). Every request is logged with its intended, actual start and end times to ``sends-<pid>.csv`` in the
run's folder, and fired as a locust event timed from the intended start, so locust's own report shows the
corrected latency next to its plain one.

The plan comes from the harness as JSON in the file named by ``LOAD_PLAN``: the target rate, the warm-up and
measured seconds, and what the control API seeded before the run (tokens, patients, message ids). With several
locust processes (master and workers), each runs one dispatcher and takes every k-th intended time.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
from locust import User, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

MAX_IN_FLIGHT = 500  # greenlets at once per process: past this the dispatcher waits and the achieved rate shows it

# The harness stops locust with SIGINT (Ctrl+C) once every dispatcher is done. A job that a non-interactive shell
# started in the background (`cmd &`, nohup, a CI runner) inherits SIGINT ignored, and Python then keeps it ignored:
# locust slept through the stop and ran to its --run-time bound (two minutes per bulk broadcast). This module is
# imported before locust forks its workers, so they get the default handler too.
signal.signal(signal.SIGINT, signal.default_int_handler)


def plan() -> dict[str, Any]:
    return json.loads(Path(os.environ["LOAD_PLAN"]).read_text())


class SendLog:
    """The run's sends, one CSV per process (locust writes nothing exact of its own)."""

    def __init__(self, folder: Path) -> None:
        self.handle = (folder / f"sends-{os.getpid()}.csv").open("w", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(["name", "intended", "started", "ended", "status", "ok", "message_id", "patient"])

    def write(self, name: str, intended: float, started: float, ended: float, status: int, ok: bool,
              message_id: str = "", patient: str = "") -> None:
        self.writer.writerow([name, repr(intended), repr(started), repr(ended), status, int(ok), message_id,
                              patient])

    def close(self) -> None:
        self.handle.close()


class OpenModelUser(User):
    """One dispatcher per locust process; subclasses implement ``request(seq, intended)``."""

    abstract = True

    def on_start(self) -> None:
        self.plan = plan()
        self.log = SendLog(Path(self.plan["folder"]))
        runner = self.environment.runner
        self.index = getattr(runner, "worker_index", 0) if isinstance(runner, WorkerRunner) else 0
        self.processes = max(1, int(self.plan.get("processes", 1)))
        self.rng = random.Random(self.plan.get("seed", 1177) + self.index)

    def on_stop(self) -> None:
        self.log.close()

    def fire(self, name: str, intended: float, ended: float, length: int, error: Exception | None) -> None:
        """A locust event timed from the intended start: the corrected latency in locust's own report."""
        self.environment.events.request.fire(request_type="OPEN", name=f"{name} (from intended start)",
                                             response_time=(ended - intended) * 1000, response_length=length,
                                             exception=error, context={})

    def request(self, seq: int, intended: float) -> None:
        raise NotImplementedError

    @task
    def dispatch(self) -> None:
        rate = float(self.plan["rate"])
        seconds = float(self.plan["warmup_s"]) + float(self.plan["measure_s"])
        pool = gevent.pool.Pool(MAX_IN_FLIGHT)
        start_wall, start_mono = time.time(), time.monotonic()
        n = 0
        while True:
            seq = n * self.processes + self.index
            offset = seq / rate
            if offset >= seconds:
                break
            wait = start_mono + offset - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
            pool.spawn(self.request, seq, start_wall + offset)
            n += 1
        pool.join(timeout=float(self.plan.get("drain_s", 10)))
        self.log.handle.flush()
        self.after_run()
        self.log.handle.flush()
        (Path(self.plan["folder"]) / f"done-{os.getpid()}").touch()  # the harness then stops locust
        # This user's work is over: it leaves now rather than run the task again or hold locust's stop for
        # --stop-timeout (a user still inside its task is waited for that long, then killed).
        raise StopUser()

    def after_run(self) -> None:
        """Work after the last request (the push poller's last look)."""


def timed(session: Any, method: str, url: str, **kwargs: Any) -> tuple[int, float, float, Any, Exception | None]:
    """One HTTP request through locust's client (its plain event), with its wall start and end."""
    started = time.time()
    error: Exception | None = None
    body: Any = None
    try:
        with session.request(method, url, catch_response=True, **kwargs) as response:
            status = response.status_code
            if status >= 400 or status == 0:
                error = RuntimeError(f"{method} {kwargs.get('name', url)}: {status}")
                response.failure(str(error))
            else:
                body = response.json() if response.content else None
                response.success()
    except Exception as exc:  # noqa: BLE001 - a broken connection is a failed request, logged as such
        status, error = 0, exc
    return status, started, time.time(), body, error


def weighted(choices: dict[str, int]) -> Callable[[random.Random], str]:
    names, weights = list(choices), list(choices.values())
    return lambda rng: rng.choices(names, weights)[0]
