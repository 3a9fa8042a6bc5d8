"""What the fake gateways share: reading the opaque reference and message id out of a payload, receipts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any

import httpx

from ...links import APP_SCHEME

log = logging.getLogger("sut.gateways")

DEEP_LINK = re.compile(rf"^{re.escape(APP_SCHEME)}://inbox/messages/(?P<id>[0-9a-fA-F-]{{36}})(?:\?.*)?$")


def link_message_id(link: Any) -> str | None:
    """The message id in a deep link like se.1177.appen://inbox/messages/<id> (BR-INBOX-2)."""
    match = DEEP_LINK.match(link) if isinstance(link, str) else None
    return match["id"] if match else None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Receipts:
    """Delivery reports to the backend's webhook, batched (as SMS operators and push services report back)."""

    def __init__(self, url: str | None, secret: str, *, interval: float = 0.1, batch: int = 400) -> None:
        self.url, self.secret, self.interval, self.batch = url, secret, interval, batch
        self.pending: list[dict[str, Any]] = []
        self.sent = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    MAX_PENDING = 200_000  # a backend that takes no reports for long loses the oldest, not our memory
    MAX_TRIES = 3  # a batch refused three times is dropped (a report is a courtesy; the send already counted)

    def add(self, gateway: str, key: str | None) -> None:
        if self.url and key:
            self.pending.append({"gateway": gateway, "key": key, "at": time.time()})
            if len(self.pending) > self.MAX_PENDING:
                dropped = len(self.pending) - self.MAX_PENDING
                del self.pending[:dropped]
                self.failed += dropped

    def start(self) -> None:
        if self.url:
            self._client = httpx.AsyncClient(timeout=5.0)
            self._task = asyncio.create_task(self._run())

    async def _post(self, reports: list[dict[str, Any]]) -> None:
        if self._client is None or self.url is None:
            raise RuntimeError("the report sender is not started")
        body = json.dumps({"reports": reports}).encode()
        stamp = str(int(time.time()))
        response = await self._client.post(self.url, content=body, headers={
            "content-type": "application/json", "x-gateway-timestamp": stamp,
            "x-gateway-signature": sign(self.secret, stamp, body)})
        response.raise_for_status()

    async def _run(self) -> None:
        tries = 0
        while True:
            await asyncio.sleep(self.interval)
            while self.pending:
                reports = self.pending[:self.batch]
                try:
                    await self._post(reports)
                except (httpx.HTTPError, OSError) as exc:
                    tries += 1
                    log.info("delivery reports not taken (try %d): %s", tries, exc)
                    if tries < self.MAX_TRIES:
                        break  # the backend may be busy or stopping: try again at the next interval
                    self.failed += len(reports)
                else:
                    self.sent += len(reports)
                tries = 0
                del self.pending[:len(reports)]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
