"""Web login through the identity provider, logout, idle expiry and the region-not-joined page (BR-ID-1, BR-ID-2,
BR-REG-1, BR-SEC-1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from web_support import (
    APP_UA,
    BROWSER_UA,
    SESSION_COOKIE,
    STATE_COOKIE,
    Page,
    WebUser,
    contains_pnr,
    login_via_idp,
    query_of,
    set_cookies,
)

E_SERVICE_PAGES = ["/", "/inbox", "/bookings", "/journal", "/settings", "/devices", "/consents", "/acting-for",
                   "/audit-extract", "/my-data", "/video", "/services"]


def test_login_sends_the_browser_to_the_idp_with_state_and_pkce(http: httpx.Client) -> None:
    response = http.get("/login", params={"next": "/inbox"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert urlsplit(location).path == "/idp/authorize"
    query = query_of(location)
    assert query["client_id"] == "web" and query["redirect_uri"] == "/auth/callback"
    assert len(query["state"]) >= 20 and len(query["code_challenge"]) == 43
    state = set_cookies(response)[STATE_COOKIE]
    assert state.value == query["state"]
    assert state["secure"] and state["httponly"] and state["samesite"].lower() == "lax"
    assert state["path"] == "/auth/callback"
    assert "/inbox" not in location, "where to go after login stays on the server"


def test_login_sets_a_secure_session_cookie_and_returns_to_the_page(http: httpx.Client,
                                                                    new_person: Callable[..., dict]) -> None:
    person = new_person("adult")
    callback, _ = login_via_idp(http, person["personnummer"], next_path="/inbox")
    assert callback.status_code == 303 and callback.headers["location"] == "/inbox"
    cookies = set_cookies(callback)
    session = cookies[SESSION_COOKIE]
    assert session["secure"] and session["httponly"] and session["samesite"].lower() == "lax"
    assert session["path"] == "/" and not session["max-age"], "a browser-session cookie, bounded by the idle timeout"
    assert cookies[STATE_COOKIE]["max-age"] == "0", "the login state is used up"
    inbox = http.get("/inbox", headers={"Cookie": f"{SESSION_COOKIE}={session.value}"})
    assert inbox.status_code == 200 and Page(inbox).has("message-list")
    assert inbox.headers["cache-control"] == "no-store"


def test_callback_refuses_a_state_that_does_not_match(http: httpx.Client, new_person: Callable[..., dict]) -> None:
    person = new_person("adult")
    start = http.get("/login")
    state = set_cookies(start)[STATE_COOKIE].value
    idp = Page(http.get(start.headers["location"]))
    action, fields = idp.form('[data-testid="idp-login-form"]')
    answer = http.post(action, data={**fields, "personnummer": person["personnummer"]})
    callback_url = answer.headers["location"]
    # Another browser's state cookie (login CSRF), then none at all: refused, and no session is made.
    for cookie in ({"Cookie": f"{STATE_COOKIE}=someone-elses-state"}, {}):
        refused = http.get(callback_url, headers=cookie)
        assert refused.status_code == 400
        assert Page(refused).one('[data-testid="error-page"]').attributes["data-problem"].endswith("login-state")
        assert SESSION_COOKIE not in set_cookies(refused)
    accepted = http.get(callback_url, headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert accepted.status_code == 303 and SESSION_COOKIE in set_cookies(accepted)
    replay = http.get(callback_url, headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert replay.status_code == 400 and SESSION_COOKIE not in set_cookies(replay)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"])
def test_login_never_continues_to_another_site(http: httpx.Client, new_person: Callable[..., dict],
                                               target: str) -> None:
    callback, _ = login_via_idp(http, new_person("adult")["personnummer"], next_path=target)
    assert callback.status_code == 303 and callback.headers["location"] == "/"


def test_idp_page_shows_a_refusal_accessibly(http: httpx.Client, new_person: Callable[..., dict]) -> None:
    person = new_person("samordningsnummer")
    start = http.get("/login")
    idp = Page(http.get(start.headers["location"]))
    action, fields = idp.form('[data-testid="idp-login-form"]')
    refused = Page(http.post(action, data={**fields, "personnummer": person["personnummer"]}))
    assert refused.status == 403
    error = refused.one('[data-testid="login-error"]')
    assert error.attributes["role"] == "alert" and "logga in" in error.text()  # the reason is not told
    field = refused.one("#personnummer")
    assert field.attributes["aria-invalid"] == "true" and "login-error" in field.attributes["aria-describedby"]
    assert not field.attributes.get("value"), "the refused number is not echoed back"


def test_logout_needs_the_csrf_token_and_ends_the_session(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    start = user.page("/")
    forged = user.post("/logout", {"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert user.get("/").status_code == 200, "a forged logout does not end the session"
    response = user.submit(start, '[data-testid="logout-form"]')
    assert response.status_code == 303 and response.headers["location"] == "/logged-out"
    assert set_cookies(response)[SESSION_COOKIE]["max-age"] == "0"
    assert Page(user.get("/logged-out")).has("logged-out")
    after = user.get("/inbox")
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


def test_a_web_session_ends_after_30_idle_minutes(new_web_user: Callable[..., WebUser],
                                                  advance_clock: Callable[[float], None]) -> None:
    user = new_web_user("adult")
    advance_clock(29 * 60)
    assert user.get("/inbox").status_code == 200, "29 idle minutes: still logged in"
    advance_clock(29 * 60)
    assert user.get("/inbox").status_code == 200, "each page view counts as activity"
    advance_clock(31 * 60)
    expired = user.get("/inbox")
    assert expired.status_code == 303 and expired.headers["location"] == "/login?next=/inbox"
    advance_clock(0)
    assert user.get("/").status_code == 303, "an expired session stays ended"


def test_no_personnummer_in_any_url_or_page_of_the_login_flow(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult", next_path="/inbox")
    pnr = user.person["personnummer"]
    for response in user.trace:
        assert not contains_pnr(str(response.request.url), pnr)
        assert not contains_pnr(response.headers.get("location", ""), pnr)
        assert not contains_pnr(response.text, pnr), response.request.url
    for path in E_SERVICE_PAGES:
        page = user.get(path)
        assert not contains_pnr(page.text, pnr), path


@pytest.mark.parametrize("user_agent", [BROWSER_UA, APP_UA], ids=["browser", "app"])
def test_a_region_that_has_not_joined_gets_only_the_1177_page(new_web_user: Callable[..., WebUser],
                                                              user_agent: str) -> None:
    user = new_web_user("adult-not-joined", user_agent=user_agent, next_path="/inbox")
    assert user.trace[-1].headers["location"] == "/region-not-joined"
    page = user.page("/region-not-joined")
    assert page.has("region-not-joined")
    link = page.one('[data-testid="region-not-joined-link"]')
    assert link.attributes["href"] == "https://www.1177.se/"
    assert link.attributes["target"] == "_blank" and "noopener" in link.attributes["rel"]
    assert link.attributes["data-open-in"] == "external-browser"
    assert not page.has("main-nav"), "no e-service is offered"
    assert page.has("logout-form")
    for path in E_SERVICE_PAGES:
        response = user.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/region-not-joined", path


def test_the_region_page_sends_a_joined_user_to_the_start(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    response = user.get("/region-not-joined")
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_welcome_page_is_not_part_of_a_clean_login(new_web_user: Callable[..., Any]) -> None:
    user = new_web_user("adult")
    assert all(urlsplit(r.headers.get("location", "")).path != "/welcome" for r in user.trace)


def test_unknown_page_is_a_swedish_html_page_for_browsers_and_problem_json_for_clients(http: httpx.Client) -> None:
    page = http.get("/finns-inte", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert 'lang="sv"' in page.text and "Sidan finns inte" in page.text
    api = http.get("/finns-inte", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
