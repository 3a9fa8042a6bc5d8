"""Log in the way the app does: the IdP's login page with PKCE S256, then the code for tokens (BR-ID-1).

``POST /idp/api/login`` is a shortcut for automation; this is the path a person takes: ``GET /idp/authorize``
with a state and a code challenge, the page's form posted with the personnummer, the code read from the redirect
to the app's callback, and the code exchanged together with the verifier (RFC 7636). A test that has the login
under test uses this; the shortcut stays for speed everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .api_client import LoginError, RateLimited, Tokens, describe_exchange
from .masking import register_secret

APP_CLIENT_ID = "app"
APP_CALLBACK = "se.1177.appen://auth/callback"  # the app's own scheme (sut/links.py)
LOGIN_FORM = "idp-login-form"


@dataclass(frozen=True)
class Pkce:
    """A code verifier (RFC 7636 4.1: 43 to 128 characters) and its S256 challenge."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)  # 64 characters
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


class _FormReader(HTMLParser):
    """The login form's action and hidden fields, as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form" and attributes.get("data-testid") == LOGIN_FORM:
            self._inside, self.action = True, attributes.get("action", "")
        elif tag == "input" and self._inside and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def login_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the IdP's login form in ``page``; a page without it is a LoginError."""
    reader = _FormReader()
    reader.feed(page)
    if not reader.action:
        raise LoginError("the identity provider's page has no login form")
    return reader.action, reader.fields


def login_authorize(client: httpx.Client, idp: str, personnummer: str, *, method: str = "bankid",
                    on_rate_limited: RateLimited | None = None) -> Tokens:
    """The app's login: authorize page, form post, code from the callback, token exchange with the verifier."""
    pkce, state = Pkce.new(), secrets.token_urlsafe(16)
    page = client.get(f"{idp}/authorize", params={"client_id": APP_CLIENT_ID, "redirect_uri": APP_CALLBACK,
                                                  "state": state, "code_challenge": pkce.challenge},
                      headers={"Accept": "text/html"})
    if page.status_code != 200:
        raise LoginError(f"the login page did not open: {describe_exchange(page)}")
    action, fields = login_form(page.text)
    if fields.get("code_challenge") != pkce.challenge or fields.get("state") != state:
        raise LoginError("the login form does not carry the state and code challenge it was opened with")
    target = httpx.URL(str(page.url)).join(action)
    form = {**fields, "personnummer": personnummer, "method": method}
    answer = client.post(target, data=form, headers={"Accept": "text/html"})
    if answer.status_code == 429 and on_rate_limited is not None:
        on_rate_limited(float(answer.headers.get("retry-after", "1")))
        answer = client.post(target, data=form, headers={"Accept": "text/html"})
    location = answer.headers.get("location", "")
    if answer.status_code != 303 or not location.startswith(f"{APP_CALLBACK}?"):
        raise LoginError(f"the identity provider refused the login: HTTP {answer.status_code}")
    query = parse_qs(urlsplit(location).query)
    if query.get("state") != [state]:
        raise LoginError("the callback's state is not the one the login began with")
    code = query["code"][0]
    register_secret(code)
    tokens = client.post(f"{idp}/token", data={"grant_type": "authorization_code", "code": code,
                                               "code_verifier": pkce.verifier, "redirect_uri": APP_CALLBACK})
    if tokens.status_code != 200:
        raise LoginError(f"the token exchange failed: {describe_exchange(tokens)}")
    return Tokens.from_json(tokens.json())


def refresh(client: httpx.Client, idp: str, refresh_token: str) -> httpx.Response:
    """One use of a refresh token at the token endpoint; a new token pair is registered with the mask."""
    response = client.post(f"{idp}/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})
    if response.status_code == 200:
        Tokens.from_json(response.json())
    return response


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking the signature: the harness only needs to know when it expires."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
