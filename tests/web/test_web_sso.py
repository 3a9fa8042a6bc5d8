"""Single sign-on from the app into the web e-services, and SSO renewal instead of a login loop (BR-ID-3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from web_support import APP_UA, BROWSER_UA, SESSION_COOKIE, Page, WebUser, query_of, set_cookies

WEB_AUDIENCE = "1177-eservices"


def ticket_for(app: httpx.Client, audience: str = WEB_AUDIENCE) -> str:
    response = app.post("/api/v1/sso/tickets", json={"audience": audience})
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


def app_login(http: httpx.Client, personnummer: str) -> str:
    """The app's direct login: a code, then an access token."""
    code = http.post("/idp/api/login", json={"personnummer": personnummer, "method": "bankid"})
    assert code.status_code == 200, code.text
    tokens = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code.json()["code"]})
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["access_token"]


def redeem(http: httpx.Client, ticket: str, next_path: str = "/inbox", user_agent: str = APP_UA) -> httpx.Response:
    return http.post("/sso", data={"ticket": ticket, "next": next_path}, headers={"User-Agent": user_agent})


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text[:300]
    page = Page(response)
    assert page.one('[data-testid="error-page"]').attributes["data-problem"] == "urn:1177:problem:sso-ticket"
    assert SESSION_COOKIE not in set_cookies(response)


def test_a_ticket_opens_the_web_session_in_the_webview(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, person = new_client("adult")
    response = redeem(http, ticket_for(app), "/inbox")
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    session = set_cookies(response)[SESSION_COOKIE]
    assert session["secure"] and session["httponly"] and session["samesite"].lower() == "lax"
    inbox = Page(http.get("/inbox", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={session.value}"}))
    assert inbox.status == 200 and inbox.has("message-list")
    assert person["given_name"] in inbox.one('[data-testid="user-name"]').text()


def test_a_ticket_works_once(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    ticket = ticket_for(app)
    assert redeem(http, ticket).status_code == 303
    assert_refused(redeem(http, ticket))


def test_an_expired_ticket_is_refused(http: httpx.Client, new_client: Callable[..., Any],
                                      advance_clock: Callable[[float], None]) -> None:
    app, _ = new_client("adult")
    ticket = ticket_for(app)
    advance_clock(61)
    assert_refused(redeem(http, ticket))


def test_a_ticket_for_another_service_is_refused(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, person = new_client("adult")
    ticket = ticket_for(app, f"regional:{person['region']}:services")
    assert_refused(redeem(http, ticket))


def test_made_up_and_missing_tickets_are_refused(http: httpx.Client) -> None:
    assert_refused(redeem(http, "not-a-ticket"))
    assert_refused(http.post("/sso", data={"next": "/"}, headers={"User-Agent": APP_UA}))


def test_a_ticket_is_never_taken_from_the_url(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    ticket = ticket_for(app)
    response = http.get("/sso", params={"ticket": ticket, "next": "/"}, headers={"User-Agent": APP_UA})
    assert response.status_code == 405 and SESSION_COOKIE not in set_cookies(response)
    assert redeem(http, ticket).status_code == 303, "the ticket was not spent by the refused GET"


def test_a_ticket_of_a_logged_out_app_session_is_refused(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    ticket = ticket_for(app)
    assert app.post("/api/v1/session/logout").status_code == 204
    assert_refused(redeem(http, ticket))


def test_sso_cannot_send_the_webview_elsewhere(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    response = redeem(http, ticket_for(app), "https://evil.example/")
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_sso_replaces_an_older_web_session(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    first = set_cookies(redeem(http, ticket_for(app)))[SESSION_COOKIE].value
    second = http.post("/sso", data={"ticket": ticket_for(app), "next": "/"},
                       headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={first}"})
    assert second.status_code == 303
    assert set_cookies(second)[SESSION_COOKIE].value != first
    old = http.get("/", headers={"User-Agent": BROWSER_UA, "Cookie": f"{SESSION_COOKIE}={first}"})
    assert old.status_code == 303, "the replaced session no longer works"


def test_an_expired_web_session_in_the_app_asks_for_sso_not_login(http: httpx.Client,
                                                                  new_client: Callable[..., Any],
                                                                  advance_clock: Callable[[float], None]) -> None:
    app, person = new_client("adult")
    cookie = set_cookies(redeem(http, ticket_for(app)))[SESSION_COOKIE].value
    in_app = {"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert http.get("/bookings", headers=in_app).status_code == 200
    advance_clock(31 * 60)
    expired = http.get("/bookings", headers=in_app)
    assert expired.status_code == 401
    page = Page(expired)
    assert page.has("sso-required")
    renew = page.one('[data-testid="sso-renew"]').attributes["href"]
    assert renew.startswith("se.1177.appen://sso/renew?") and query_of(renew)["next"] == "/bookings"
    assert not page.css('a[href^="/login"]'), "no way back into the login page from inside the app"
    # The app's own session idled out too, so the app logs in again; then it renews the web session.
    assert app.post("/api/v1/sso/tickets", json={"audience": WEB_AUDIENCE}).status_code == 401
    app.headers["Authorization"] = f"Bearer {app_login(http, person['personnummer'])}"
    renewed = redeem(http, ticket_for(app), query_of(renew)["next"])
    assert renewed.status_code == 303 and renewed.headers["location"] == "/bookings"
    again = {"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={set_cookies(renewed)[SESSION_COOKIE].value}"}
    assert http.get("/bookings", headers=again).status_code == 200


def test_an_expired_web_session_in_a_browser_goes_to_login(new_web_user: Callable[..., WebUser],
                                                           advance_clock: Callable[[float], None]) -> None:
    user = new_web_user("adult")
    advance_clock(31 * 60)
    response = user.get("/bookings")
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"
    assert query_of(response.headers["location"])["next"] == "/bookings"


def test_a_ticket_posted_from_another_site_is_refused(http: httpx.Client, new_client: Callable[..., Any]) -> None:
    app, _ = new_client("adult")
    ticket = ticket_for(app)
    response = http.post("/sso", data={"ticket": ticket, "next": "/"},
                         headers={"User-Agent": APP_UA, "Origin": "https://evil.example"})
    assert response.status_code == 403 and SESSION_COOKIE not in set_cookies(response)
    same_site = http.post("/sso", data={"ticket": ticket, "next": "/"},
                          headers={"User-Agent": APP_UA, "Origin": str(http.base_url).rstrip("/")})
    assert same_site.status_code == 303, "the refused post did not spend the ticket"


def test_logging_out_of_the_app_ends_its_webview_session(http: httpx.Client, new_client: Callable[..., Any],
                                                         advance_clock: Callable[[float], None]) -> None:
    app, _ = new_client("adult")
    other_app, _ = new_client("adult")
    cookie = set_cookies(redeem(http, ticket_for(app)))[SESSION_COOKIE].value
    other = set_cookies(redeem(http, ticket_for(other_app)))[SESSION_COOKIE].value
    in_app = {"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert http.get("/inbox", headers=in_app).status_code == 200
    assert app.post("/api/v1/session/logout").status_code == 204
    ended = http.get("/inbox", headers=in_app)
    assert ended.status_code == 401 and Page(ended).has("sso-required")
    assert http.get("/inbox", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={other}"}).status_code == 200
    # The app's own idle timeout is not a logout: the web session keeps its own 30 minutes.
    advance_clock(20 * 60)
    assert http.get("/", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={other}"}).status_code == 200
    advance_clock(20 * 60)
    assert other_app.get("/api/v1/me").status_code == 401, "the idle app session has ended"
    assert http.get("/", headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}={other}"}).status_code == 200
