"""The fake SMS and e-mail gateways: JSON over HTTP/1.1, an API key, and an Idempotency-Key header.

``POST /v1/sms {to, from, text, reference}`` and ``POST /v1/email {to, from, subject, text, reference}`` answer
201 with an id; the same Idempotency-Key again answers 200 with the first id and ``Idempotent-Replayed: true``
(the message is not sent twice). Throttling (429 + retry-after), 5xx, latency and stalls come from the knobs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .knobs import Knobs
from .store import Store

PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MAX_SMS = 1600


class FakeMessaging:
    def __init__(self, kind: str, api_key: str, store: Store, knobs: Knobs, receipts: Any) -> None:
        self.kind, self.api_key = kind, api_key
        self.store, self.knobs, self.receipts = store, knobs, receipts
        self.ids: dict[tuple[str, str], str] = {}

    def _check(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body must be a JSON object"
        to, text = body.get("to"), body.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_SMS:
            return "text is required (at most 1600 characters)"
        if self.kind == "sms":
            if not isinstance(to, str) or not PHONE.match(to):
                return "to must be a phone number in E.164 format"
        else:
            if not isinstance(to, str) or not EMAIL.match(to):
                return "to must be an e-mail address"
            if not isinstance(body.get("subject"), str) or not body["subject"]:
                return "subject is required"
        return None

    async def send(self, request: Request) -> JSONResponse:
        received_wall, received_mono = time.time(), time.monotonic()
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        raw = await request.body()
        key = request.headers.get("idempotency-key")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        to = body.get("to", "") if isinstance(body, dict) else ""
        ref = body.get("reference") if isinstance(body, dict) and isinstance(body.get("reference"), str) else None
        error = self._check(body)
        if error:
            self.store.add(token=str(to), key=key, ref=ref, message_id=None, status=400, reason="invalid",
                           received_wall=received_wall, received_mono=received_mono, body=raw)
            return JSONResponse({"error": "invalid_request", "detail": error}, status_code=400)
        decision = self.knobs.decide(to)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.kind in {"throttled", "error"}:
            self.store.add(token=to, key=key, ref=ref, message_id=None, status=decision.status,
                           reason=decision.kind, received_wall=received_wall, received_mono=received_mono, body=raw,
                           hold=decision.delay)
            headers = {"retry-after": str(decision.retry_after)} if decision.kind == "throttled" else None
            return JSONResponse({"error": decision.kind}, status_code=decision.status, headers=headers)
        earlier = self.store.seen_key(to, key)
        record = self.store.add(token=to, key=key, ref=ref, message_id=None, status=201 if earlier is None else 200,
                                reason=None, received_wall=received_wall, received_mono=received_mono,
                                headers={"idempotency-key": key or ""}, body=raw, hold=decision.delay)
        if earlier is not None:
            return JSONResponse({"id": self.ids.get((to, key or "")), "status": "accepted"}, status_code=200,
                                headers={"idempotent-replayed": "true"})
        message_id = str(uuid.uuid4())
        self.ids[(to, key or message_id)] = message_id
        if record.outcome == "delivered" and self.knobs.model.receipts:
            self.receipts.add(self.kind, key)
        return JSONResponse({"id": message_id, "status": "accepted"}, status_code=201)

    def app(self) -> Starlette:
        path = "/v1/sms" if self.kind == "sms" else "/v1/email"
        return Starlette(routes=[Route(path, self.send, methods=["POST"])])
