"""The fake FCM HTTP v1 API over HTTP/2 and TLS, with a Google-style OAuth token endpoint.

``POST /token`` takes a service-account JWT assertion (RS256) and returns a bearer access token;
``POST /v1/projects/{project}/messages:send`` checks that token, the message (one target, a valid registration
token, at most 4 KB) and answers with Google's error JSON: INVALID_ARGUMENT (400), UNREGISTERED (404),
QUOTA_EXCEEDED (429 with retry-after), UNAVAILABLE (503), INTERNAL (500).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .common import link_message_id
from .h2server import Request, Response
from .knobs import Knobs
from .store import Store

TOKEN = re.compile(r"^[A-Za-z0-9_-]{11,64}:APA91b[A-Za-z0-9_-]{60,220}$")
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[a-z0-9-]+)/messages:send$")
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_MESSAGE = 4096
ACCESS_TOKEN_TTL = 3600
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
STATUS_OF = {"INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"), "UNREGISTERED": (404, "NOT_FOUND"),
             "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"), "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
             "UNAVAILABLE": (503, "UNAVAILABLE"), "INTERNAL": (500, "INTERNAL")}


class FakeFcm:
    def __init__(self, config: dict[str, Any], store: Store, knobs: Knobs, receipts: Any) -> None:
        self.project: str = config["fcm_project"]
        self.client_email: str = config["fcm_client_email"]
        self.token_uri: str = config["fcm_token_uri"]
        self.public_key = load_pem_public_key(config["fcm_public_key"].encode())
        self.store, self.knobs, self.receipts = store, knobs, receipts
        self.access_tokens: dict[str, float] = {}  # token -> expiry (wall clock)
        self.tokens_issued = 0

    def __call__(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        match = SEND_PATH.match(request.path)
        if match is None or request.method != "POST":
            return _json(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
        return self._send(request, match["project"])

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "assertion" not in form:
            return _json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(form["assertion"], self.public_key, algorithms=["RS256"], audience=self.token_uri,
                                issuer=self.client_email, options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.PyJWTError as exc:
            return _json(400, {"error": "invalid_grant", "error_description": type(exc).__name__})
        if SCOPE not in str(claims.get("scope", "")).split() or claims["exp"] - claims["iat"] > 3600:
            return _json(400, {"error": "invalid_scope"})
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        self.access_tokens[token] = time.time() + ACCESS_TOKEN_TTL
        self.tokens_issued += 1
        return _json(200, {"access_token": token, "expires_in": ACCESS_TOKEN_TTL - 1, "token_type": "Bearer"})  # nosec B105 # the OAuth token type of the fake gateway

    def _error(self, request: Request, token: str, key: str | None, code: str, message: str, *,
               delay: float = 0.0, headers: list[tuple[str, str]] | None = None) -> Response:
        status, google_status = STATUS_OF[code]
        record = self.store.add(token=token, key=key, ref=None, message_id=None, status=status, reason=code,
                                received_wall=request.received_wall, received_mono=request.received_mono,
                                connection=request.connection_id, headers={}, body=request.body, hold=delay)
        response = _json(status, {"error": {"code": status, "message": message, "status": google_status,
                                            "details": [{"@type": FCM_ERROR, "errorCode": code}]}}, delay, headers)
        response.record = record
        return response

    def _send(self, request: Request, project: str) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        expiry = self.access_tokens.get(bearer) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.time():
            return _json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                         "message": "Request had invalid authentication credentials."}})
        try:
            body = json.loads(request.body)
            message = body["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (ValueError, KeyError, TypeError):
            return self._error(request, "", None, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        token = message.get("token") if isinstance(message.get("token"), str) else ""
        android = message.get("android") if isinstance(message.get("android"), dict) else {}
        key = android.get("collapse_key") if isinstance(android.get("collapse_key"), str) else None
        if project != self.project:
            return self._error(request, token, key, "SENDER_ID_MISMATCH", "SenderId mismatch")
        targets = [t for t in ("token", "topic", "condition") if t in message]
        if len(targets) != 1:
            return self._error(request, token, key, "INVALID_ARGUMENT", "Exactly one of token, topic or condition.")
        if not TOKEN.match(token):
            return self._error(request, token, key, "INVALID_ARGUMENT",
                               "The registration token is not a valid FCM registration token")
        if len(request.body) > MAX_MESSAGE:
            return self._error(request, token, key, "INVALID_ARGUMENT", "Message is too big")
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        if any(not isinstance(v, str) for v in data.values()):
            return self._error(request, token, key, "INVALID_ARGUMENT", "data values must be strings")
        decision = self.knobs.decide(token)
        if decision.kind == "unregistered":
            return self._error(request, token, key, "UNREGISTERED", "Requested entity was not found.",
                               delay=decision.delay)
        if decision.kind == "throttled":
            return self._error(request, token, key, "QUOTA_EXCEEDED", "Quota exceeded for sending messages.",
                               delay=decision.delay, headers=[("retry-after", str(decision.retry_after))])
        if decision.kind == "error":
            code = "UNAVAILABLE" if decision.status == 503 else "INTERNAL"
            return self._error(request, token, key, code, "The service is currently unavailable."
                               if code == "UNAVAILABLE" else "Internal error encountered.", delay=decision.delay)
        record = self.store.add(token=token, key=key, ref=data.get("ref"), message_id=link_message_id(data.get("link")),
                                status=200, reason=None, received_wall=request.received_wall,
                                received_mono=request.received_mono, connection=request.connection_id,
                                headers={"content-type": request.headers.get("content-type", "")}, body=request.body,
                                hold=decision.delay)
        # A retry with the same collapse key gets the same message name back (the idempotent answer): the name is
        # made from the token and key, so nothing needs storing per message.
        seed = f"{token}|{key}" if key else f"{token}|{record.seq}"
        name = f"projects/{self.project}/messages/0:{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
        if record.outcome == "delivered" and self.knobs.model.receipts:
            self.receipts.add("fcm", key)
        response = _json(200, {"name": name}, decision.delay)
        response.record = record
        return response


def _json(status: int, body: dict[str, Any], delay: float = 0.0,
          headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, [("content-type", "application/json; charset=UTF-8"), *(headers or [])],
                    json.dumps(body).encode(), delay)
