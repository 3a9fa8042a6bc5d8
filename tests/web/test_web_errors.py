"""A page that breaks answers with a Swedish 500 page, never a stack trace or JSON, and a logged-in user keeps the
header, menu and logout on it (BR-SEC-1, BR-A11Y-1). The fault is made in-process: a page that raises."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Request
from web_support import BROWSER_UA, SESSION_COOKIE, Page, login_via_idp, set_cookies

from sut.app import create_app
from sut.config import Settings
from sut.db import Person
from sut.runtime import QuietServer, bind, build_context
from sut.webapp.session import WebRoute, visit


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    """The system in this process with one more page, which breaks after the guard; and an adult's personnummer."""
    ctx = build_context(Settings(), Path(tmp_path_factory.mktemp("sut-errors")))
    app = create_app(ctx)
    broken = APIRouter(route_class=WebRoute)

    @broken.get("/broken-page")
    def broken_page(request: Request) -> None:
        with ctx.db() as db:
            visit(ctx, request, db)
            raise RuntimeError("a bug in a page")

    app.include_router(broken)
    with ctx.db() as db:
        personnummer = db.get(Person, ctx.extras["seed"]["adult"][0]).personnummer
    sock = bind("127.0.0.1", 0)
    server = QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server stopped during start"
        thread.join(0.01)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as http:
            yield http, personnummer
    finally:
        server.should_exit = True
        thread.join()
        ctx.engine.dispose()


def test_a_broken_page_is_a_swedish_500_page_in_the_frame(client: tuple[httpx.Client, str]) -> None:
    test_client, personnummer = client
    callback, _ = login_via_idp(test_client, personnummer)
    cookie = set_cookies(callback)[SESSION_COOKIE].value
    response = test_client.get("/broken-page", headers={"User-Agent": BROWSER_UA,
                                                        "Cookie": f"{SESSION_COOKIE}={cookie}"})
    page = Page(response)
    assert page.status == 500 and response.headers["content-type"].startswith("text/html")
    assert page.h1 == "Något gick fel" and "RuntimeError" not in page.html and "a bug in a page" not in page.html
    assert page.has("main-nav") and page.has("logout-form") and page.has("user-name")
    assert response.headers["cache-control"] == "no-store"


def test_a_broken_page_without_a_session_offers_the_login(client: tuple[httpx.Client, str]) -> None:
    test_client, _ = client
    # The guard sends an anonymous browser to login before the page can break.
    assert test_client.get("/broken-page", headers={"User-Agent": BROWSER_UA}).status_code == 303
