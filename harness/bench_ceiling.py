"""The benchmark's ceiling: how fast the fake gateways take pushes from a plain HTTP/2 client, no database behind.

The fake APNs and FCM run in their own process exactly as ``python -m sut`` starts them (same certificates, keys,
stream limits and delivery reports, to a small sink here); the fan-out's own providers (ApnsClient, FcmClient on
sut/push/h2client.py) send N pushes, half to each, from as many concurrent tasks and connections as the fan-out
uses. What is left between this and the fan-out's rate is the fan-out's own work: the outbox, the recipients,
the delivery rows and their outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sut.push import h2compat
from sut.push.component import start_gateways
from sut.push.control import apns_token, fcm_token
from sut.push.fanout import Job
from sut.push.payload import Notice
from sut.push.providers import ApnsClient, FcmClient


@dataclass
class Ceiling:
    pushes: int
    accepted: int
    seconds: float
    per_s: float
    h2: str
    loop: str


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The delivery-report webhook, as cheap as can be: read each request, answer 204, keep the connection."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    writer.close()


async def measure(pushes: int, *, connections: int = 2, concurrency: int = 256) -> Ceiling:
    sink = await asyncio.start_server(_sink, "127.0.0.1", 0)
    port = sink.sockets[0].getsockname()[1]
    settings = SimpleNamespace(gateway_knobs=None)
    ctx: Any = SimpleNamespace(settings=settings, urls={"base": f"http://127.0.0.1:{port}"}, extras={})
    stop = await start_gateways(ctx)
    info = ctx.extras["push_gateways"]
    clients = {"apns": ApnsClient(info, connections=connections, refresh_seconds=40 * 60),
               "fcm": FcmClient(info, connections=connections)}
    try:
        jobs = []
        for i in range(pushes):
            channel = "apns" if i % 2 == 0 else "fcm"
            key = str(uuid.uuid4())
            jobs.append(Job(key, key, channel, apns_token() if channel == "apns" else fcm_token(), None, "bench",
                            Notice(str(uuid.uuid4()), str(uuid.uuid4()))))
        await clients["fcm"].access_token(10)  # the OAuth exchange is not part of the rate
        queue = iter(jobs)
        accepted = 0

        async def sender() -> None:
            nonlocal accepted
            for job in queue:
                outcome = await clients[job.channel].send(job, 10)
                accepted += outcome.kind == "accepted"

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    finally:
        for client in clients.values():
            await client.close()
        await stop()
        sink.close()
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    return Ceiling(pushes, accepted, round(seconds, 2), round(accepted / seconds, 1), h2compat.IMPLEMENTATION, loop)


def run(pushes: int) -> Ceiling:
    """The ceiling on uvloop where it is built (as the system runs), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(measure(pushes))
    return uvloop.run(measure(pushes))
