"""Run the fake gateways until SIGTERM, SIGINT or the end of stdin (the parent went away)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from ..tls import Pki, server_context
from .apns import FakeApns
from .common import Receipts
from .fcm import FakeFcm
from .h2server import H2Server
from .inspect import Gateway, create_inspect_app
from .knobs import Knobs, KnobSet
from .messaging import FakeMessaging
from .store import Store

log = logging.getLogger("sut.gateways")


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops all its servers in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _serve_asgi(app: Any, host: str) -> tuple[QuietServer, asyncio.Task[None], int]:
    sock = _socket(host)
    server = QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start")
        await asyncio.sleep(0.01)
    return server, task, sock.getsockname()[1]


async def _watch_stdin(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while await reader.read(65536):
            pass
    finally:
        transport.close()
        stop.set()


def _knobs(config: dict[str, Any], name: str) -> Knobs:
    return Knobs(KnobSet.model_validate((config.get("knobs") or {}).get(name, {})))


async def run(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = config.get("host", "127.0.0.1")
    pki = Pki(**{k: Path(v) for k, v in config["pki"].items()})
    tls = server_context(pki)
    receipts = Receipts(config.get("webhook_url"), config["webhook_secret"])
    gateways: dict[str, Gateway] = {}
    extras: dict[str, Any] = {}
    servers: list[asyncio.AbstractServer] = []
    for name, fake_class in (("apns", FakeApns), ("fcm", FakeFcm)):
        store, knobs = Store(name), _knobs(config, name)
        sock = _socket(host)
        url = f"https://{host}:{sock.getsockname()[1]}"
        # Google's token URI is the audience of the service account's assertion; here it is the fake's own.
        fake = fake_class({**config, "fcm_token_uri": f"{url}/token"}, store, knobs, receipts)
        h2 = H2Server(fake, knobs.model.max_streams)
        servers.append(await loop.create_server(h2.protocol, sock=sock, ssl=tls, backlog=2048))
        gateways[name] = Gateway(name, url, store, knobs, h2)
        extras[name] = fake
    asgi: list[tuple[QuietServer, asyncio.Task[None]]] = []
    for name in ("sms", "email"):
        store, knobs = Store(name), _knobs(config, name)
        fake_messaging = FakeMessaging(name, config[f"{name}_api_key"], store, knobs, receipts)
        server_, task, port = await _serve_asgi(fake_messaging.app(), host)
        asgi.append((server_, task))
        gateways[name] = Gateway(name, f"http://{host}:{port}", store, knobs)
    inspect_server, inspect_task, inspect_port = await _serve_asgi(
        create_inspect_app(gateways, pki.ca_pem.read_text(), extras), host)
    asgi.append((inspect_server, inspect_task))
    receipts.start()
    watcher = asyncio.create_task(_watch_stdin(stop))
    ready = {"event": "ready", "urls": {n: g.url for n, g in gateways.items()},
             "inspect": f"http://{host}:{inspect_port}", "fcm_token_uri": f"{gateways['fcm'].url}/token"}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    await stop.wait()
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await receipts.close()
    for server in servers:
        server.close()
    for gw in gateways.values():
        if gw.server is not None:
            gw.server.close_all()
    for server_, _task in asgi:
        server_.should_exit = True
    for server_, task in asgi:
        try:
            await asyncio.wait_for(task, 5)
        except TimeoutError:
            server_.force_exit = True
    for server in servers:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


def main() -> int:
    # The records kept for inspection are many, long-lived and free of cycles: scanning them again and again in
    # the cyclic collector's older generations costs throughput and buys nothing.
    gc.set_threshold(50_000, 50, 100)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    line = sys.stdin.readline()
    if not line.strip():
        return 2
    config = json.loads(line)
    try:
        import uvloop
    except ImportError:  # uvloop is not built for every platform; asyncio's own loop works, only slower
        asyncio.run(run(config))
    else:
        uvloop.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
