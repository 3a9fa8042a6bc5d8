"""The web layer's state lives in the database: a login under way, whom one acts for and the app session behind an
SSO web session all survive a restart of the system on the same database (BR-ID-1, BR-ID-3, BR-PROXY-1).

App access tokens do not survive by design (the signing key is made anew at each start): the app refreshes them,
as it would after any expiry. Web sessions are opaque cookies checked in the database, and do.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import app_tokens
from web_support import APP_UA, BROWSER_UA, SESSION_COOKIE, STATE_COOKIE, Page, WebUser, login_via_idp, set_cookies

from harness.sut_process import SutProcess

WEB_AUDIENCE = "1177-eservices"
LOGIN_TTL = 600


class RestartableSystem:
    """The reference system on its own SQLite file, stopped and started again on that file at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = folder / "x.sqlite3"
        self.starts = 0
        self.proc: SutProcess | None = None
        self.clients: list[httpx.Client] = []

    def start(self) -> None:
        self.starts += 1
        self.proc = SutProcess(env={"SUT_DATABASE_URL": f"sqlite:///{self.database}"},
                               log_path=self.folder / f"sut-{self.starts}.log").start()

    def restart(self) -> None:
        """Stop and start again on the same database: every address changes, nothing in memory is kept."""
        self.stop()
        self.start()

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.proc is not None:
            self.proc.stop()

    def client(self, **headers: str) -> httpx.Client:
        assert self.proc is not None
        client = httpx.Client(base_url=self.proc.urls["base"], timeout=10, follow_redirects=False, headers=headers)
        self.clients.append(client)
        return client

    def new_person(self, role: str) -> dict[str, Any]:
        response = self.client().post("/_sut/persons", json={"role": role})
        assert response.status_code == 201, response.text
        return response.json()

    def rows(self, query: str) -> list[tuple]:
        with sqlite3.connect(self.database) as conn:
            return conn.execute(query).fetchall()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RestartableSystem]:
    own = RestartableSystem(tmp_path)
    own.start()
    yield own
    own.stop()


def begin_login(client: httpx.Client, personnummer: str, next_path: str) -> tuple[str, str]:
    """/login and the IdP's page, up to the redirect back with a code: the state cookie and the callback URL."""
    start = client.get("/login", params={"next": next_path})
    assert start.status_code == 303, start.text[:300]
    state = set_cookies(start)[STATE_COOKIE].value
    action, fields = Page(client.get(start.headers["location"])).form('[data-testid="idp-login-form"]')
    answer = client.post(action, data={**fields, "personnummer": personnummer, "method": "bankid"})
    assert answer.status_code == 303, answer.text[:300]
    return state, answer.headers["location"]


def test_a_login_begun_before_a_restart_is_finished_after_it(system: RestartableSystem) -> None:
    person = system.new_person("adult")
    state, callback_url = begin_login(system.client(), person["personnummer"], "/inbox")
    (stored,) = system.rows("SELECT state_hash, verifier_salt, next_path FROM web_logins")
    assert stored[0] == hashlib.sha256(state.encode()).hexdigest(), "the state is stored only as its hash"
    assert not any(state in value for value in stored)
    system.restart()
    client = system.client()
    finished = client.get(callback_url, headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert finished.status_code == 303 and finished.headers["location"] == "/inbox", finished.text[:300]
    cookie = set_cookies(finished)[SESSION_COOKIE].value
    assert client.get("/inbox", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}).status_code == 200
    replay = client.get(callback_url, headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert replay.status_code == 400 and SESSION_COOKIE not in set_cookies(replay), "a login is finished once"
    assert system.rows("SELECT count(*) FROM web_logins") == [(0,)]


def test_an_expired_login_is_refused_and_cleaned_up(system: RestartableSystem) -> None:
    person = system.new_person("adult")
    client = system.client()
    stale = client.get("/login")
    client.get("/login")  # never finished
    assert system.rows("SELECT count(*) FROM web_logins") == [(2,)]
    assert client.post("/_sut/clock/advance", json={"seconds": LOGIN_TTL + 1}).status_code == 200
    # Finished too late (with a fresh code from the IdP): refused, and the login is gone.
    state = set_cookies(stale)[STATE_COOKIE].value
    action, fields = Page(client.get(stale.headers["location"])).form('[data-testid="idp-login-form"]')
    answer = client.post(action, data={**fields, "personnummer": person["personnummer"], "method": "bankid"})
    late = client.get(answer.headers["location"], headers={"Cookie": f"{STATE_COOKIE}={state}"})
    assert late.status_code == 400 and SESSION_COOKIE not in set_cookies(late)
    assert Page(late).one('[data-testid="error-page"]').attributes["data-problem"].endswith("login-state")
    assert system.rows("SELECT count(*) FROM web_logins") == [(1,)]
    # The next login clears away the one never finished.
    fresh_state, _ = begin_login(client, person["personnummer"], "/")
    assert system.rows("SELECT state_hash FROM web_logins") == [(hashlib.sha256(fresh_state.encode()).hexdigest(),)]


def test_acting_for_a_child_and_the_forms_survive_a_restart(system: RestartableSystem) -> None:
    guardian = system.new_person("guardian")
    callback, _ = login_via_idp(system.client(), guardian["personnummer"])
    cookie = set_cookies(callback)[SESSION_COOKIE].value
    user = WebUser(client=system.client(), person=guardian, cookie=cookie, user_agent=BROWSER_UA)
    switch = user.page("/acting-for")
    child_id = switch.one('[data-testid="acting-for-child"]').attributes["value"]
    assert user.submit(switch, '[data-testid="acting-for-form"]', subject=child_id).status_code == 303
    child_name = user.page("/").one('[data-testid="acting-for-name"]').text(strip=True)
    rendered_before = user.page("/acting-for")
    system.restart()
    user.client = system.client()
    for path in ("/", "/inbox"):
        assert user.page(path).one('[data-testid="acting-for-name"]').text(strip=True) == child_name, path
    assert user.get("/journal").status_code == 403, "still acting as ombud: no journal"
    # A form rendered before the restart still posts: its CSRF token is not tied to the process.
    back = user.submit(rendered_before, '[data-testid="acting-for-form"]', subject="self")
    assert back.status_code == 303, back.text[:300]
    assert not user.page("/").has("acting-for-banner")


def test_logging_out_of_the_app_after_a_restart_ends_its_webview_session(system: RestartableSystem) -> None:
    sessions: list[tuple[str, str]] = []  # the app's refresh token, its WebView's cookie
    for _ in range(2):
        app = system.client(**{"User-Agent": APP_UA})
        tokens = app_tokens(app, system.new_person("adult")["personnummer"])
        app.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        ticket = app.post("/api/v1/sso/tickets", json={"audience": WEB_AUDIENCE}).json()["ticket"]
        opened = app.post("/sso", data={"ticket": ticket, "next": "/"})
        assert opened.status_code == 303, opened.text[:300]
        sessions.append((tokens["refresh_token"], set_cookies(opened)[SESSION_COOKIE].value))
    system.restart()
    web = system.client(**{"User-Agent": APP_UA})
    (refresh, cookie), (_, other) = sessions
    assert web.get("/inbox", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}).status_code == 200
    # The access token died with the old signing key; the refresh token is checked in the database and works.
    app = system.client(**{"User-Agent": APP_UA})
    renewed = app.post("/idp/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert renewed.status_code == 200, renewed.text
    app.headers["Authorization"] = f"Bearer {renewed.json()['access_token']}"
    assert app.post("/api/v1/session/logout").status_code == 204
    ended = web.get("/inbox", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert ended.status_code == 401 and Page(ended).has("sso-required")
    assert web.get("/inbox", headers={"Cookie": f"{SESSION_COOKIE}={other}"}).status_code == 200, \
        "another app's WebView session goes on"


def test_a_flood_of_started_logins_is_refused_not_stored(tmp_path: Path) -> None:
    """Logins in progress are bounded: past the limit /login answers 429 with Retry-After and stores nothing more;
    once one finishes or expires there is room again (BR-SEC-1)."""
    with SutProcess(log_path=tmp_path / "sut.log", env={"SUT_MAX_PENDING_WEB_LOGINS": "3"}) as proc, \
            httpx.Client(base_url=proc.urls["base"], timeout=10) as client:
        started = [client.get("/login", headers={"User-Agent": BROWSER_UA}) for _ in range(3)]
        assert [r.status_code for r in started] == [303, 303, 303]
        refused = client.get("/login", headers={"User-Agent": BROWSER_UA, "Accept": "text/html"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert 'lang="sv"' in refused.text  # the browser gets a page, not a stack trace
        assert client.post("/_sut/clock/advance", json={"seconds": 601}).status_code == 200
        assert client.get("/login", headers={"User-Agent": BROWSER_UA}).status_code == 303
