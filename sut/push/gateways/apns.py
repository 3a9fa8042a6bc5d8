"""The fake APNs: HTTP/2 over TLS, token-based auth (ES256 JWT), answers as Apple documents them.

Checks the headers (apns-topic, apns-push-type, apns-priority, apns-expiration, apns-id, apns-collapse-id), the
device token's format and the payload size (4 KB), then the provider token (signature, key id, team, age; too
frequent renewals), then applies the fault knobs. 200 with apns-id; 400/403/413/429/500/503 with a reason;
410 with a timestamp.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .common import link_message_id
from .h2server import Request, Response
from .knobs import Knobs
from .store import Store

TOKEN = re.compile(r"^[0-9a-fA-F]{64}$")
APNS_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PUSH_TYPES = {"alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity",
              "pushtotalk", "widgets", "controls"}
MAX_PAYLOAD = 4096
TOKEN_MAX_AGE = 3600  # Apple refuses provider tokens older than one hour
TOKEN_MIN_RENEWAL = 20 * 60  # and renewals more often than every 20 minutes


class FakeApns:
    def __init__(self, config: dict[str, Any], store: Store, knobs: Knobs, receipts: Any) -> None:
        self.public_key = load_pem_public_key(config["apns_public_key"].encode())
        self.key_id: str = config["apns_key_id"]
        self.team_id: str = config["apns_team_id"]
        self.topic: str = config["apns_topic"]
        self.store, self.knobs, self.receipts = store, knobs, receipts
        self._jwt_cache: dict[str, tuple[str | None, int]] = {}
        self.provider_tokens: list[dict[str, Any]] = []
        self._newest_iat: int | None = None

    def _provider_token(self, authorization: str | None) -> tuple[int, str] | None:
        """None when the bearer token is good, else (status, reason)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 403, "MissingProviderToken"
        cached = self._jwt_cache.get(token)
        if cached is None:
            cached = self._verify(token)
            self._jwt_cache[token] = cached
        problem, iat = cached
        if problem:
            return (429 if problem == "TooManyProviderTokenUpdates" else 403), problem
        if time.time() - iat > TOKEN_MAX_AGE:
            return 403, "ExpiredProviderToken"
        return None

    def _verify(self, token: str) -> tuple[str | None, int]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
                return "InvalidProviderToken", 0
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"],
                                options={"require": ["iss", "iat"], "verify_iat": False, "verify_exp": False})
            iat = int(claims["iat"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return "InvalidProviderToken", 0
        if claims["iss"] != self.team_id:
            return "InvalidProviderToken", 0
        if self._newest_iat is not None and 0 < iat - self._newest_iat < TOKEN_MIN_RENEWAL:
            return "TooManyProviderTokenUpdates", iat
        self._newest_iat = iat if self._newest_iat is None else max(self._newest_iat, iat)
        self.provider_tokens.append({"iat": iat, "first_seen_wall": time.time()})
        return None, iat

    def _reject(self, request: Request, token: str, apns_id: str, status: int, reason: str, *,
                delay: float = 0.0, extra: dict[str, Any] | None = None,
                headers: list[tuple[str, str]] | None = None) -> Response:
        record = self.store.add(token=token,
                                key=request.headers.get("apns-collapse-id") or request.headers.get("apns-id"),
                                ref=None, message_id=None, status=status, reason=reason,
                                received_wall=request.received_wall, received_mono=request.received_mono,
                                connection=request.connection_id, headers=_visible(request.headers), body=request.body,
                                hold=delay)
        body = json.dumps({"reason": reason, **(extra or {})}).encode()
        return Response(status, [("apns-id", apns_id), ("content-type", "application/json"), *(headers or [])],
                        body, delay, record)

    def __call__(self, request: Request) -> Response:
        headers = request.headers
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        token = request.path.removeprefix("/3/device/") if request.path.startswith("/3/device/") else ""
        if request.method != "POST":
            return self._reject(request, token, apns_id, 405, "MethodNotAllowed")
        if not request.path.startswith("/3/device/"):
            return self._reject(request, token, apns_id, 404, "BadPath")
        topic = headers.get("apns-topic")
        if topic is None:
            return self._reject(request, token, apns_id, 400, "MissingTopic")
        if topic != self.topic:
            return self._reject(request, token, apns_id, 400, "TopicDisallowed")
        if headers.get("apns-push-type") not in PUSH_TYPES:
            return self._reject(request, token, apns_id, 400, "InvalidPushType")
        if headers.get("apns-priority", "10") not in {"1", "5", "10"}:
            return self._reject(request, token, apns_id, 400, "BadPriority")
        if not headers.get("apns-expiration", "0").isdigit():
            return self._reject(request, token, apns_id, 400, "BadExpirationDate")
        if "apns-id" in headers and not APNS_ID.match(headers["apns-id"]):
            return self._reject(request, token, apns_id, 400, "BadMessageId")
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return self._reject(request, token, apns_id, 400, "BadCollapseId")
        if not token:
            return self._reject(request, token, apns_id, 400, "MissingDeviceToken")
        if not TOKEN.match(token):
            return self._reject(request, token, apns_id, 400, "BadDeviceToken")
        if len(request.body) > MAX_PAYLOAD:
            return self._reject(request, token, apns_id, 413, "PayloadTooLarge")
        if not request.body:
            return self._reject(request, token, apns_id, 400, "PayloadEmpty")
        try:
            payload = json.loads(request.body)
            if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
                raise ValueError("no aps dictionary")
        except ValueError:
            return self._reject(request, token, apns_id, 400, "PayloadEmpty")
        problem = self._provider_token(headers.get("authorization"))
        if problem:
            return self._reject(request, token, apns_id, problem[0], problem[1])
        decision = self.knobs.decide(token)
        if decision.kind == "unregistered":
            return self._reject(request, token, apns_id, 410, "Unregistered", delay=decision.delay,
                                extra={"timestamp": int(time.time() * 1000)})
        if decision.kind == "throttled":
            return self._reject(request, token, apns_id, 429, "TooManyRequests", delay=decision.delay,
                                headers=[("retry-after", str(decision.retry_after))])
        if decision.kind == "error":
            reason = "ServiceUnavailable" if decision.status == 503 else "InternalServerError"
            return self._reject(request, token, apns_id, decision.status, reason, delay=decision.delay)
        key = headers.get("apns-collapse-id") or headers.get("apns-id")
        record = self.store.add(token=token, key=key, ref=payload.get("ref") if isinstance(payload.get("ref"), str)
                                else None, message_id=link_message_id(payload.get("link")), status=200, reason=None,
                                received_wall=request.received_wall, received_mono=request.received_mono,
                                connection=request.connection_id, headers=_visible(headers), body=request.body,
                                hold=decision.delay)
        if record.outcome == "delivered" and self.knobs.model.receipts:
            self.receipts.add("apns", key)
        return Response(200, [("apns-id", apns_id)], b"", decision.delay, record)


def _visible(headers: dict[str, str]) -> dict[str, str]:
    """The request headers as recorded: all apns-* and content-type; the bearer token only as present/absent."""
    shown = {k: v for k, v in headers.items() if k.startswith("apns-") or k == "content-type"}
    shown["authorization"] = "bearer <provider token>" if "authorization" in headers else "<missing>"
    return shown
