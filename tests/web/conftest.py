"""Fixtures for the tests of the web e-services: logged-in web users, fault and clock switches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import reset_keeping_faults
from web_support import BROWSER_UA, SESSION_COOKIE, WebUser, login_via_idp, set_cookies


@pytest.fixture(autouse=True)
def _fresh_login_limit(http: httpx.Client) -> None:
    """The IdP allows 20 logins a minute per address (BR-SEC-1) and every test here logs in from 127.0.0.1: start
    each test with a fresh limit (and clock) through the control API, keeping the faults that are switched on."""
    reset_keeping_faults(http)


@pytest.fixture
def web_login(base_url: str) -> Iterator[Callable[..., WebUser]]:
    """Log a seeded person in to the web e-services through the IdP's page, as a browser or the app."""
    clients: list[httpx.Client] = []

    def login(person: dict[str, Any], *, user_agent: str = BROWSER_UA, next_path: str = "/") -> WebUser:
        client = httpx.Client(base_url=base_url, timeout=10, follow_redirects=False)
        clients.append(client)
        callback, trace = login_via_idp(client, person["personnummer"], next_path=next_path, user_agent=user_agent)
        assert callback.status_code == 303, callback.text[:300]
        cookie = set_cookies(callback)[SESSION_COOKIE].value
        return WebUser(client=client, person=person, cookie=cookie, user_agent=user_agent, trace=trace)

    yield login
    for client in clients:
        client.close()


@pytest.fixture
def new_web_user(new_person: Callable[[str], dict[str, Any]],
                 web_login: Callable[..., WebUser]) -> Callable[..., WebUser]:
    """A fresh person of a role, logged in to the web e-services."""

    def make(role: str = "adult", *, user_agent: str = BROWSER_UA, next_path: str = "/") -> WebUser:
        return web_login(new_person(role), user_agent=user_agent, next_path=next_path)

    return make


@pytest.fixture
def advance_clock(http: httpx.Client) -> Iterator[Callable[[float], None]]:
    """Move the system's clock forward; reset it (and the rest the control API resets) afterwards."""
    moved: list[float] = []  # the clock only moves forward; the control API's reset brings it back

    def advance(seconds: float) -> None:
        response = http.post("/_sut/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        moved.append(seconds)

    yield advance
    if moved:
        reset_keeping_faults(http)
