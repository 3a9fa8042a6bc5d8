"""HTTP clients for the harness: log in through the identity provider, call the APIs, keep every exchange.

Every request and response is recorded so a failing test can attach them, masked, with a cURL line that
reproduces the request once a fresh token is exported (``export TOKEN=...``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from .masking import mask, mask_headers, register_secret

APP_USER_AGENT = "1177-appen/3.2.0 (ios)"
# Headers a cURL line leaves out: httpx adds them, curl adds its own.
_CURL_SKIP = {"host", "content-length", "accept-encoding", "connection"}


class LoginError(RuntimeError):
    """The identity provider refused a login the test expected to work."""


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokens:
        """Tokens from the IdP; each is registered with the mask at once, so no report can show it."""
        tokens = cls(data["access_token"], data["refresh_token"], int(data.get("expires_in", 0)))
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        return tokens


def curl_line(request: httpx.Request) -> str:
    """A runnable cURL command for ``request``; the bearer token becomes ``$TOKEN``, other secrets are masked."""
    parts = ["curl", "-sS", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() in _CURL_SKIP:
            continue
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            parts += ["-H", '"Authorization: Bearer ${TOKEN}"']
            continue
        (pair,) = mask_headers([(name, value)])
        parts += ["-H", shlex.quote(f"{pair[0]}: {pair[1]}")]
    body = request.content
    if body:
        parts += ["--data-binary", shlex.quote(mask(body.decode("utf-8", errors="replace")))]
    parts.append(shlex.quote(str(request.url)))
    return mask(" ".join(parts))


def describe_exchange(response: httpx.Response) -> str:
    """Request and response as text, masked: what a reader needs to see what went wrong."""
    request = response.request
    lines = [f"{request.method} {request.url}"]
    lines += [f"{k}: {v}" for k, v in mask_headers(request.headers.items())]
    if request.content:
        lines += ["", _pretty(request.content)]
    lines += ["", f"HTTP {response.status_code} {response.reason_phrase}"]
    lines += [f"{k}: {v}" for k, v in mask_headers(response.headers.items())]
    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    if body:
        lines += ["", _pretty(body)]
    return mask("\n".join(lines))


def _pretty(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)[:20000]
    except ValueError:
        return text[:20000]


@dataclass
class Exchange:
    response: httpx.Response
    label: str

    @property
    def request(self) -> httpx.Request:
        return self.response.request


@dataclass
class Recorder:
    """Every exchange of the clients of one test, in order."""

    exchanges: list[Exchange] = field(default_factory=list)

    def hook(self, label: str):
        def on_response(response: httpx.Response) -> None:
            response.read()
            self.exchanges.append(Exchange(response, label))

        return on_response


class ApiClient(httpx.Client):
    """An httpx client for one caller (a person, a person acting for a child, staff, or nobody)."""

    def __init__(self, base_url: str, *, label: str, recorder: Recorder | None = None,
                 user_agent: str = APP_USER_AGENT, timeout: float = 15.0, **kwargs: Any) -> None:
        hooks = {"response": [recorder.hook(label)]} if recorder else {}
        super().__init__(base_url=base_url, timeout=timeout, follow_redirects=False,
                         headers={"User-Agent": user_agent, "Accept": "application/json"}, event_hooks=hooks,
                         **kwargs)
        self.label = label
        self.tokens: Tokens | None = None
        self.subject: Any = None  # the person or staff member this client acts as

    def use_token(self, access_token: str | None) -> None:
        if access_token is None:
            self.headers.pop("Authorization", None)
        else:
            self.headers["Authorization"] = f"Bearer {access_token}"

    @contextmanager
    def acting_for(self, person_id: str | None) -> Iterator[ApiClient]:
        """Send ``X-Acting-For`` inside the block (BR-PROXY-1: switching whom one acts for is explicit)."""
        before = self.headers.get("X-Acting-For")
        if person_id is None:
            self.headers.pop("X-Acting-For", None)
        else:
            self.headers["X-Acting-For"] = person_id
        try:
            yield self
        finally:
            if before is None:
                self.headers.pop("X-Acting-For", None)
            else:
                self.headers["X-Acting-For"] = before


def _token_exchange(client: httpx.Client, idp: str, code: str) -> Tokens:
    response = client.post(f"{idp}/token", data={"grant_type": "authorization_code", "code": code})
    if response.status_code != 200:
        raise LoginError(f"the token exchange failed: {describe_exchange(response)}")
    return Tokens.from_json(response.json())


RateLimited = Callable[[float], None]


def _post_login(client: httpx.Client, url: str, payload: dict[str, str], on_rate_limited: RateLimited | None,
                ) -> httpx.Response:
    """The login call; a 429 (BR-SEC-1 login rate limit) is handed to ``on_rate_limited`` once, then retried."""
    response = client.post(url, json=payload)
    if response.status_code == 429 and on_rate_limited is not None:
        on_rate_limited(float(response.headers.get("retry-after", "1")))
        response = client.post(url, json=payload)
    return response


def login_person(client: httpx.Client, idp: str, personnummer: str, *, method: str = "bankid",
                 on_rate_limited: RateLimited | None = None) -> Tokens:
    """The direct IdP flow: ``POST /idp/api/login`` for a code, then the token endpoint (BR-ID-1)."""
    response = _post_login(client, f"{idp}/api/login", {"personnummer": personnummer, "method": method},
                           on_rate_limited)
    if response.status_code != 200:
        raise LoginError(f"the identity provider refused the login: {describe_exchange(response)}")
    register_secret(response.json()["code"])
    return _token_exchange(client, idp, response.json()["code"])


def login_staff(client: httpx.Client, idp: str, hsa_id: str, *, on_rate_limited: RateLimited | None = None,
                ) -> Tokens:
    """Simulated SITHS card login of a staff member (scoped to their care unit)."""
    response = _post_login(client, f"{idp}/api/staff-login", {"hsa_id": hsa_id}, on_rate_limited)
    if response.status_code != 200:
        raise LoginError(f"the identity provider refused the staff login: {describe_exchange(response)}")
    register_secret(response.json()["code"])
    return _token_exchange(client, idp, response.json()["code"])
