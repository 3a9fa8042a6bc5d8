"""Start and stop the whole reference system in one asyncio loop; announce readiness as one JSON line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from . import faults, persons
from .app import create_app
from .config import Settings
from .context import Context
from .db import init_db, make_engine
from .push import component as push_component
from .seed import seed_initial

log = logging.getLogger("sut")

# Components started after the web server (the push fan-out and its fake gateways register here). Each is an
# async function taking the context and returning an async function that stops it again.
Component = Callable[[Context], Awaitable[Callable[[], Awaitable[None]]]]
COMPONENTS: list[Component] = [push_component.start_gateways, push_component.start_fanout]


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns SIGINT/SIGTERM and shuts down in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it every
    # response on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def start_asgi(app: Any, host: str, port: int, **config: Any) -> tuple[QuietServer, asyncio.Task, int]:
    """Serve an ASGI app with uvicorn on host:port (0 for a free one); return once it accepts connections."""
    sock = bind(host, port)
    server = QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                        server_header=False, **config))  # no software name to attackers
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("server stopped during start")
        await asyncio.sleep(0.01)
    return server, task, sock.getsockname()[1]


async def stop_asgi(server: QuietServer, task: asyncio.Task, timeout: float = 5.0) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(task, timeout)
    except TimeoutError:
        server.force_exit = True
        await asyncio.wait_for(task, timeout)


def build_context(settings: Settings, data_dir: Path) -> Context:
    url = settings.database_url or f"sqlite:///{data_dir / 'sut.sqlite3'}"
    engine = make_engine(url)
    sessions = init_db(engine)
    ctx = Context(settings=settings, engine=engine, sessions=sessions)
    with ctx.db() as db:
        ctx.extras["seed"] = seed_initial(db, joined_regions=settings.joined_regions,
                                          rng=random.Random(settings.seed))  # nosec B311 # seeded synthetic test data, not security
    return ctx


async def serve(settings: Settings, announce: Callable[[dict[str, Any]], None] | None = None) -> None:
    started = time.perf_counter()
    faults.activate(settings.faults)
    own_dir = settings.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="sut-")) if own_dir else Path(str(settings.data_dir))
    data_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stoppers: list[Callable[[], Awaitable[None]]] = []
    ctx: Context | None = None
    try:
        ctx = build_context(settings, data_dir)
        server, task, port = await start_asgi(create_app(ctx), settings.host, settings.port)
        base = f"http://{settings.host}:{port}"
        ctx.urls.update({
            "base": base, "web": f"{base}/", "login": f"{base}/idp/authorize",
            "idp": f"{base}/idp", "idp_openapi": f"{base}/idp/openapi.json", "mobile_api": f"{base}/api/v1",
            "mobile_openapi": f"{base}/api/v1/openapi.json", "staff_api": f"{base}/staff/v1",
            "staff_openapi": f"{base}/staff/v1/openapi.json", "api_reference": f"{base}/api-reference",
        })
        if settings.test_mode:
            ctx.urls["control"] = f"{base}/_sut"
        for component in COMPONENTS:
            stoppers.append(await component(ctx))
        ready = {"event": "ready", "pid": __import__("os").getpid(), "urls": ctx.urls,
                 "faults": sorted(faults.current()), "test_mode": settings.test_mode,
                 "startup_seconds": round(time.perf_counter() - started, 3)}
        if announce:
            announce(ready)
        if settings.test_mode:  # who to log in as, to a terminal, after the ready line, off the event loop
            await asyncio.to_thread(persons.announce, ctx)
        await stop.wait()
        log.info("stopping")
        for stopper in reversed(stoppers):
            await stopper()
        await stop_asgi(server, task)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if ctx is not None:
            ctx.engine.dispose()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def print_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()
