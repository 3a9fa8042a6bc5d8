"""A browserless user of the web e-services: the real login flow over HTTP, pages parsed with selectolax.

Python's cookie jar does not send ``Secure`` cookies over plain http, so the session cookie is carried here
explicitly in a ``Cookie`` header, as a browser on http://127.0.0.1 (a secure origin to Chromium) would send it.
Every response of a login is kept (``trace``), so a check can look at each redirect and cookie on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from typing import Any

import httpx
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

SESSION_COOKIE = "eservice_session"
STATE_COOKIE = "login_state"
BROWSER_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile"


class WebFlowError(AssertionError):
    """A page or step of the web e-services did not answer as a user's browser expects."""


def set_cookies(response: httpx.Response) -> dict[str, Morsel]:
    """Every cookie a response sets, with its attributes."""
    jar: dict[str, Morsel] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        jar.update(parsed)
    return jar


class Page:
    """A parsed HTML page and the response it came in."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.html = response.text
        self.tree = HTMLParser(self.html)

    def css(self, selector: str) -> list[Node]:
        return self.tree.css(selector)

    def one(self, selector: str) -> Node:
        found = self.tree.css(selector)
        if len(found) != 1:
            raise WebFlowError(f"{self.response.request.url.path}: expected one {selector!r}, found {len(found)}")
        return found[0]

    def testid(self, name: str) -> list[Node]:
        return self.tree.css(f'[data-testid="{name}"]')

    def has(self, name: str) -> bool:
        return bool(self.testid(name))

    @property
    def title(self) -> str:
        node = self.tree.css_first("title")
        return node.text(strip=True) if node else ""

    @property
    def h1(self) -> str:
        return " ".join(self.one("h1").text(separator=" ", strip=True).split())

    def form_fields(self, form: Node) -> dict[str, str]:
        """What a browser would submit by default: hidden inputs, checked boxes, the form's other values."""
        fields: dict[str, str] = {}
        for node in form.css("input"):
            name = node.attributes.get("name")
            kind = (node.attributes.get("type") or "text").lower()
            if not name or (kind in {"checkbox", "radio"} and "checked" not in node.attributes):
                continue
            fields[name] = node.attributes.get("value") or ("on" if kind == "checkbox" else "")
        return fields

    def form(self, selector: str) -> tuple[str, dict[str, str]]:
        node = self.one(selector)
        if (node.attributes.get("method") or "").lower() != "post":
            raise WebFlowError(f"{selector!r} is not a form that posts")
        return node.attributes["action"] or "", self.form_fields(node)


@dataclass
class WebUser:
    """A logged-in user of the web e-services (a browser or the app's WebView, by user agent)."""

    client: httpx.Client
    person: dict[str, Any]
    cookie: str
    user_agent: str
    trace: list[httpx.Response] = field(default_factory=list)

    def headers(self, cookie: bool = True) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent}
        if cookie and self.cookie:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.cookie}"
        return headers

    def get(self, path: str, *, cookie: bool = True) -> httpx.Response:
        return self.client.get(path, headers=self.headers(cookie))

    def post(self, path: str, data: dict[str, str], *, cookie: bool = True) -> httpx.Response:
        return self.client.post(path, data=data, headers=self.headers(cookie))

    def page(self, path: str, status: int = 200) -> Page:
        response = self.get(path)
        if response.status_code != status:
            raise WebFlowError(f"GET {path}: HTTP {response.status_code}, expected {status} "
                               f"(location {response.headers.get('location')!r}): {response.text[:300]}")
        return Page(response)

    def submit(self, page: Page, selector: str, **fields: str) -> httpx.Response:
        """Post a form of ``page`` as a browser would, with its CSRF token, overriding ``fields``."""
        action, values = page.form(selector)
        values.update(fields)
        return self.post(action, values)


def login_via_idp(client: httpx.Client, personnummer: str, *, next_path: str = "/",
                  user_agent: str = BROWSER_UA) -> tuple[httpx.Response, list[httpx.Response]]:
    """The web login a person clicks through: /login, the IdP's page, its form, /auth/callback.

    Returns the callback's response and every response of the flow, in order.
    """
    headers = {"User-Agent": user_agent}
    trace: list[httpx.Response] = []
    start = client.get("/login", params={"next": next_path}, headers=headers)
    trace.append(start)
    if start.status_code != 303 or STATE_COOKIE not in set_cookies(start):
        raise WebFlowError(f"GET /login: HTTP {start.status_code}, expected 303 with a state cookie")
    state = set_cookies(start)[STATE_COOKIE].value
    idp_page = client.get(start.headers["location"], headers=headers)
    trace.append(idp_page)
    if idp_page.status_code != 200:
        raise WebFlowError(f"the identity provider's page: HTTP {idp_page.status_code}")
    page = Page(idp_page)
    action, fields = page.form('[data-testid="idp-login-form"]')
    fields.update({"personnummer": personnummer, "method": "bankid"})
    answer = client.post(action, data=fields, headers=headers)
    trace.append(answer)
    if answer.status_code != 303:
        raise WebFlowError(f"the login form: HTTP {answer.status_code}, expected 303")
    callback = client.get(answer.headers["location"], headers={**headers, "Cookie": f"{STATE_COOKIE}={state}"})
    trace.append(callback)
    return callback, trace
