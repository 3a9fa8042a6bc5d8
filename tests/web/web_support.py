"""A browserless user of the web e-services: the real login flow over HTTP, pages parsed with selectolax.

Python's cookie jar does not send ``Secure`` cookies over plain http, so the session cookie is carried here
explicitly in a ``Cookie`` header, as a browser on http://127.0.0.1 (a secure origin to Chromium) would send it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

SESSION_COOKIE = "eservice_session"
STATE_COOKIE = "login_state"
APP_UA = "1177-appen/3.2.0 (ios)"
BROWSER_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile"


def set_cookies(response: httpx.Response) -> dict[str, Morsel]:
    """Every cookie a response sets, with its attributes."""
    jar: dict[str, Morsel] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        jar.update(parsed)
    return jar


def pnr_forms(personnummer: str) -> list[str]:
    """The ways a personnummer can be written: 12 digits, 10 digits, with and without the dash."""
    long, short = personnummer, personnummer[2:]
    return [long, short, f"{long[:8]}-{long[8:]}", f"{short[:6]}-{short[6:]}"]


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
        assert len(found) == 1, f"expected one {selector!r}, found {len(found)}"
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
        assert (node.attributes.get("method") or "").lower() == "post"
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
        assert response.status_code == status, (path, response.status_code, response.headers.get("location"),
                                                response.text[:300])
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
    assert start.status_code == 303, start.text[:300]
    state = set_cookies(start)[STATE_COOKIE].value
    idp_page = client.get(start.headers["location"], headers=headers)
    trace.append(idp_page)
    assert idp_page.status_code == 200, idp_page.text[:300]
    page = Page(idp_page)
    action, fields = page.form('[data-testid="idp-login-form"]')
    fields.update({"personnummer": personnummer, "method": "bankid"})
    answer = client.post(action, data=fields, headers=headers)
    trace.append(answer)
    assert answer.status_code == 303, answer.text[:300]
    callback = client.get(answer.headers["location"], headers={**headers, "Cookie": f"{STATE_COOKIE}={state}"})
    trace.append(callback)
    return callback, trace


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def contains_pnr(text: str, personnummer: str) -> bool:
    return any(re.search(rf"(?<!\d){re.escape(form)}(?!\d)", text) for form in pnr_forms(personnummer))
