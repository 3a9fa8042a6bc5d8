"""ASGI middleware for every response: body size limit, security headers (BR-SEC-1), HEAD for every GET."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import faults
from .links import APP_SCHEME
from .templating import render

FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")
API_PREFIXES = ("/api/", "/staff/", "/idp/api/", "/idp/token", "/_sut/", "/push/")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    f"form-action 'self' {APP_SCHEME}:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    b"strict-transport-security": b"max-age=31536000; includeSubDomains",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
    b"cross-origin-opener-policy": b"same-origin",
    b"x-frame-options": b"DENY",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in SECURITY_HEADERS]
                headers += list(SECURITY_HEADERS.items())
                if not faults.active("missing-csp"):
                    headers.append((b"content-security-policy", CSP.encode()))
                if path.startswith(("/api/", "/staff/", "/idp/", "/_sut/")):
                    headers.append((b"cache-control", b"no-store"))
                    origin = dict(scope.get("headers", [])).get(b"origin")
                    if origin and faults.active("cors-any-origin"):  # the defect: every site may read the answers
                        headers += [(b"access-control-allow-origin", origin),
                                    (b"access-control-allow-credentials", b"true")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse bodies over the limit with 413 problem+json, by header and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if wants_html(scope):
            kb = self.max_bytes // 1024
            page = render(Request(scope), "error.html", status=413, title="Det du skickade är för stort",
                          text=f"Vi kan ta emot högst {kb} kB. Korta texten och försök igen.",
                          problem_type="about:blank")
            page.headers["Connection"] = "close"  # the rest of the body is not read
            await page(scope, receive, send)
            return
        body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                           "detail": f"Innehållet är större än {self.max_bytes} byte."}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await self._refuse(scope, receive, send)
                return
        if length is not None:
            # The server holds the body to its Content-Length, so the header check above is enough.
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body here, up to the limit, and answer 413 ourselves. Raising from
        # inside the app's receive would be turned into a 400 by FastAPI's body parsing.
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def client_address(scope_or_request: Any) -> str:
    client = getattr(scope_or_request, "client", None)
    return client.host if client else "unknown"


def wants_html(scope: Scope) -> bool:
    """A browser: it asks for HTML, or posts a web form outside the APIs. API clients get problem+json."""
    headers = dict(scope.get("headers", []))
    if b"text/html" in headers.get(b"accept", b""):
        return True
    is_form = headers.get(b"content-type", b"").lower().startswith(FORM_TYPES)
    return is_form and not scope.get("path", "").startswith(API_PREFIXES)


class HeadAsGet:
    """HEAD is answered as GET would be, headers and all, without the body (RFC 9110 9.3.2), for every GET route;
    FastAPI's own routes take only the methods they name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
