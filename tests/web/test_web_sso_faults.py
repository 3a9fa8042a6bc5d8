"""The WebView hand-over's faults, each caught: SSO's cookie reaches every page, and an expired web session inside
the app asks the app for SSO again instead of looping through the login page (BR-ID-3).

Faults are switched at run time through the control API and restored afterwards; the tests share one worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from test_web_sso import redeem, ticket_for
from web_support import APP_UA, SESSION_COOKIE, Page, set_cookies

pytestmark = pytest.mark.xdist_group("faults")


def handed_over(http: httpx.Client, app: httpx.Client) -> tuple[str, str]:
    """SSO into the WebView: the session cookie's value and the path a browser sends it for."""
    response = redeem(http, ticket_for(app), "/inbox")
    assert response.status_code == 303, response.text[:300]
    cookie = set_cookies(response)[SESSION_COOKIE]
    return cookie.value, cookie["path"]


def test_sso_cookie_lost_is_caught(http: httpx.Client, new_client: Callable[..., Any],
                                   faults: Callable[..., None]) -> None:
    app, _ = new_client("adult")
    value, path = handed_over(http, app)
    assert path == "/", "the session cookie is sent to every page of the e-services"
    inbox = http.get("/inbox", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={value}"})
    assert inbox.status_code == 200 and Page(inbox).has("message-list")
    faults("sso-cookie-lost")
    _, path = handed_over(http, app)
    assert path == "/sso", "the fault scopes the cookie to /sso, so /inbox never receives it"


def test_webview_login_loop_is_caught(http: httpx.Client, new_client: Callable[..., Any],
                                      faults: Callable[..., None], advance_clock: Callable[[float], None]) -> None:
    def after_expiry() -> httpx.Response:
        app, _ = new_client("adult")
        value, _ = handed_over(http, app)
        advance_clock(31 * 60)
        return http.get("/bookings", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={value}"})

    clean = after_expiry()
    assert clean.status_code == 401 and Page(clean).has("sso-required")
    faults("webview-login-loop")
    faulty = after_expiry()
    assert faulty.status_code == 303 and urlsplit(faulty.headers["location"]).path == "/login", \
        "the fault sends the WebView to the login page"
