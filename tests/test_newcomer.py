"""A newcomer's first hour: test persons one can find, URLs that answer, an API reference that works offline."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from harness.masking import personnummer_forms
from harness.sut_process import SutProcess
from sut import clock, persons
from sut.__main__ import main
from sut.apidocs import create_apidocs_router
from sut.app import create_app
from sut.auth import OMBUD_MAX_AGE, age_on
from sut.config import Settings
from sut.db import Base
from sut.runtime import build_context
from sut.seed import AGE_PERIOD_YEARS, age_period_start, new_person, seed_base

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- test-persons:start -->", "<!-- test-persons:end -->"
# The fake APNs, FCM, SMS and e-mail providers speak their providers' protocols to the fan-out only (POST over
# HTTP/2 with provider tokens, API keys); like the real services they have no page at their root.
PROVIDER_ENDPOINTS = {"apns", "fcm", "sms", "email"}
Get = Callable[[str], httpx.Response]
API_ROOTS = {"idp": "idp", "mobile_api": "mobile", "staff_api": "staff", "control": "control"}


def asgi_get(app: Any, path: str) -> httpx.Response:
    """GET from an ASGI app in this process (no server, no fan-out)."""
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)
    return asyncio.run(get())


def _html(response: httpx.Response) -> HTMLParser:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    return HTMLParser(response.text)


# --- every URL of the ready line answers something useful ---

def test_every_url_of_the_ready_line_answers(sut: SutProcess) -> None:
    urls = sut.urls
    assert {"idp", "idp_openapi", "mobile_api", "staff_api", "control", "api_reference"} <= urls.keys()
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        for key, url in urls.items():
            if key in PROVIDER_ENDPOINTS:
                continue
            for accept in ("application/json", "text/html"):
                response = client.get(url, headers={"Accept": accept})
                assert 200 <= response.status_code < 300, (key, url, accept, response.status_code)
                if response.headers["content-type"].startswith("application/json"):
                    assert response.json(), (key, accept)
                else:
                    assert HTMLParser(response.text).css_first("h1") is not None, (key, accept)


@pytest.mark.parametrize("key", sorted(API_ROOTS))
def test_an_api_root_lists_its_endpoints_for_programs_and_browsers(sut: SutProcess, key: str) -> None:
    root = sut.urls[key]
    with httpx.Client(timeout=10) as client:
        index = client.get(root)
        assert index.status_code == 200 and index.headers["content-type"] == "application/json"
        body = index.json()
        document = client.get(body["openapi"]).json()
        paths = {urlsplit(root).path + path for path in document["paths"]}
        assert {urlsplit(e["url"]).path for e in body["endpoints"]} == paths
        assert client.get(body["reference"]).status_code == 200
        page = _html(client.get(root + "/", headers={"Accept": "text/html"}))
    shown = {node.text() for node in page.css("[data-testid=endpoints] code")}
    assert {f"{e['method']} {urlsplit(e['url']).path}" for e in body["endpoints"]} == shown
    links = {a.attributes["href"] for a in page.css("a")}
    assert f"/api-reference/{API_ROOTS[key]}" in links and urlsplit(body["openapi"]).path in links


def test_the_control_api_root_is_absent_outside_test_mode(plain_get: Get) -> None:
    assert plain_get("/_sut").status_code == 404
    assert plain_get("/_sut/persons").status_code == 404
    assert plain_get("/api-reference/control").status_code == 404
    assert plain_get("/api/v1").status_code == 200


# --- the API reference ---

@pytest.mark.parametrize("key", ["mobile", "staff", "idp", "control"])
def test_the_reference_shows_every_tag_operation_parameter_and_schema(sut: SutProcess, key: str) -> None:
    root = {"mobile": "/api/v1", "staff": "/staff/v1", "idp": "/idp", "control": "/_sut"}[key]
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        document = client.get(f"{root}/openapi.json").json()
        page = _html(client.get(f"/api-reference/{key}"))
    _assert_complete(page, document)


def _assert_complete(page: HTMLParser, document: dict[str, Any]) -> None:
    headings = {node.text(strip=True) for node in page.css("h2")}
    articles = {node.css_first("h3").attributes["id"]: node for node in page.css("[data-testid=operation]")}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            article = articles[operation["operationId"]]
            assert f"{method.upper()} " in article.css_first("h3").text()
            for tag in operation.get("tags", []):
                assert tag in headings
            names = {node.text() for node in article.css("[data-testid=parameters] dt code")}
            assert {p["name"] for p in operation.get("parameters", [])} <= names, (path, method)
            statuses = {node.text() for node in article.css("[data-testid=responses] dt code")}
            assert set(operation["responses"]) == statuses
    schemas = {node.css_first("h3").attributes["id"]: node for node in page.css("[data-testid=schema]")}
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        props = {node.text() for node in schemas[f"schema-{name}"].css("[data-testid=properties] dt code")}
        assert set(schema.get("properties", {})) == props, name


# A small document with what a partner's document has and ours may not yet: tags with descriptions, examples of
# every kind, header and path parameters, Markdown, and HTML in a description that must stay text.
SAMPLE = FastAPI(title="Exempel-API", version="2", openapi_tags=[
    {"name": "inkorg", "description": "Meddelanden *från* vården. <script>alert(1)</script>"}])


@SAMPLE.get("/messages/{message_id}", tags=["inkorg"], operation_id="getMessage", summary="Ett meddelande",
            responses={200: {"content": {"application/json": {"examples": {
                "läst": {"summary": "Ett läst meddelande", "value": {"id": "m-1", "subject": "Provsvar"}}}}}}})
def _sample(message_id: str, x_acting_for: str | None = None) -> dict:
    return {}


def test_the_reference_shows_examples_and_keeps_html_in_descriptions_as_text() -> None:
    app = FastAPI()
    app.include_router(create_apidocs_router(SimpleNamespace(settings=Settings())))  # type: ignore[arg-type]
    app.mount("/api/v1", SAMPLE)
    page = _html(asgi_get(app, "/api-reference/mobile"))
    _assert_complete(page, SAMPLE.openapi())
    assert page.css_first("#tag-inkorg").text() == "inkorg"
    assert page.css_first("section[data-testid=tag] em").text() == "från"
    assert not page.css("main script") and "&lt;script&gt;" in page.html
    example = json.loads(page.css_first("[data-testid=example]").text())
    assert example == {"id": "m-1", "subject": "Provsvar"} and "Ett läst meddelande" in page.text()


ABSOLUTE = re.compile(r"""https?://[^\s"'<>)]+""")
XML_NAMESPACE = re.compile(r"""xmlns(?::\w+)?=["'][^"']*["']""")
LOADING = "script[src], link[href], img[src], source[src], iframe[src], object[data], embed[src], form[action]"


def test_the_reference_loads_nothing_from_another_host(sut: SutProcess) -> None:
    """Offline and under the CSP: every resource the pages load, and every URL in those resources, is our own.

    Links a reader may follow (``<a href>``) are navigation, not loads; XML namespace names are never fetched."""
    base = sut.urls["base"]
    own = urlsplit(base).netloc
    pages = [f"{base}/api-reference"] + [f"{base}/api-reference/{k}" for k in ("mobile", "staff", "idp", "control")]
    with httpx.Client(timeout=10) as client:
        assets: set[str] = set()
        for url in pages:
            response = client.get(url)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp
            page = _html(response)
            assert not [s for s in page.css("script") if "src" not in s.attributes], "inline script"
            assert not page.css("style") and not page.css("[style]"), "inline style"
            for node in page.css(LOADING):
                target = next(v for k, v in node.attributes.items() if k in {"src", "href", "data", "action"})
                assets.add(urljoin(url, target))
        assert assets, "the pages load their style sheet and script"
        for asset in assets:
            assert urlsplit(asset).netloc == own, asset
            text = XML_NAMESPACE.sub("", client.get(asset).text)
            foreign = [u for u in ABSOLUTE.findall(text) if urlsplit(u).netloc != own]
            assert not foreign, (asset, foreign)


# --- the test persons ---

def test_list_persons_prints_what_the_running_system_seeded(sut: SutProcess,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with httpx.Client(timeout=10) as client:
        running = client.get(sut.urls["control"] + "/persons").json()
    assert main(["--list-persons", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["personnummer"] for p in listed["persons"]] == [p["personnummer"] for p in running]
    roles = {p["role"] for p in running}
    assert roles == {"adult", "adult-not-joined", "guardian", "child-under-13", "child-13-17", "deceased",
                     "samordningsnummer", "protected-identity"}
    assert len(listed["staff"]) == 63 and all(s["hsa_id"] and s["care_unit"] for s in listed["staff"])
    assert main(["--list-persons"]) == 0
    table = capsys.readouterr().out
    for person in running:
        assert person["written"] in table and person["name"] in table
    assert listed["staff"][0]["hsa_id"] in table and listed["staff"][-1]["hsa_id"] in table


def test_the_readme_table_is_the_seed() -> None:
    """The README's persons are those a fresh start seeds; regenerate with ``python -m sut --list-persons
    --markdown`` (the ages count from a four-year period's start, so the numbers change only when it does)."""
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text
    shown = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == persons.markdown(persons.fresh_listing(Settings())).strip()


def test_the_seed_does_not_change_from_day_to_day_within_a_period(monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = []
    for day in (datetime(2025, 3, 1, 9, tzinfo=UTC), datetime(2027, 12, 31, 23, tzinfo=UTC)):
        monkeypatch.setattr(clock, "now", lambda day=day: day)
        seeded.append(persons._fresh.__wrapped__(1177, 17, "uncached"))
    assert [p.personnummer for p in seeded[0].persons] == [p.personnummer for p in seeded[1].persons]
    assert seeded[0] == seeded[1]
    assert age_period_start(date(2027, 12, 31)) == date(2024, 1, 1) == age_period_start(date(2024, 1, 1))
    assert age_period_start(date(2028, 1, 1)) == date(2028, 1, 1)


@pytest.mark.parametrize("seed", range(20))
def test_a_seeded_child_keeps_its_role_to_the_end_of_the_period(seed: int) -> None:
    """BR-PROXY-1 turns on age 13: the start seed's children must stay on their side of it for four years."""
    start = date(2024, 1, 1)
    last = start.replace(year=start.year + AGE_PERIOD_YEARS) - timedelta(days=1)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with sessionmaker(engine)() as db:
        rng = random.Random(seed)
        seed_base(db, joined_regions=17, rng=rng)
        children = new_person(db, "guardian", rng, ages_on=start).children
    for child in children:
        for day in (start, last):
            age = age_on(child.birth_date, day)
            assert (age < OMBUD_MAX_AGE) if child.role == "child-under-13" else (13 <= age <= 17), (child.role, day)


def test_the_persons_are_printed_to_a_terminal_after_the_ready_line() -> None:
    """A person starting the system sees whom to log in as; stdout keeps its one JSON line for programs."""
    terminal, child_end = os.openpty()
    with subprocess.Popen([sys.executable, "-m", "sut", "--test-mode"], stdout=subprocess.PIPE,
                          stderr=child_end, stdin=subprocess.DEVNULL, text=True, start_new_session=True) as proc:
        os.close(child_end)
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            with httpx.Client(timeout=10) as client:
                seeded = client.get(ready["urls"]["control"] + "/persons").json()
            printed = ""
            while seeded[-1]["written"] not in printed or "... och" not in printed:
                readable, _, _ = select.select([terminal], [], [], 60)
                assert readable, f"no test persons on the terminal: {printed!r}"
                printed += os.read(terminal, 65536).decode("utf-8", errors="replace")
            proc.send_signal(signal.SIGTERM)
            rest = proc.stdout.read()
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(terminal)
    assert ready["event"] == "ready" and rest == ""
    for person in seeded:
        assert person["written"] in printed and person["name"] in printed


def test_a_log_file_carries_no_test_person(sut: SutProcess) -> None:
    """Started with stderr to a file (as the harness does), the system writes no personnummer there (BR-SEC-1)."""
    with httpx.Client(timeout=10) as client:
        seeded = client.get(sut.urls["control"] + "/persons").json()
    assert sut.log_path is not None
    log = sut.log_path.read_text(encoding="utf-8")
    assert "Testpersoner" not in log
    assert not [form for p in seeded for form in personnummer_forms(p["personnummer"]) if form in log]


# --- the login page ---

def test_the_login_page_offers_the_test_persons_in_test_mode(sut: SutProcess) -> None:
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        seeded = client.get("/_sut/persons").json()
        page = _html(client.get("/idp/authorize"))
        cards = page.css("[data-testid=test-person]")
        assert [c.css_first("input[name=personnummer]").attributes["value"] for c in cards] == \
            [p["written"] for p in seeded]
        adult = next(c for c in cards if c.attributes["data-role"] == "adult")
        form = {i.attributes["name"]: i.attributes.get("value") or "" for i in adult.css("input")}
        assert adult.css_first("form").attributes["action"] == "/idp/authorize"
        login = client.post("/idp/authorize", data=form)
    assert login.status_code == 303 and login.headers["location"].startswith("/auth/callback?code=")


@pytest.fixture
def plain_get(tmp_path: Path) -> Iterator[Get]:
    """GET from the system outside test mode, in this process (no fan-out: only pages are asked for)."""
    ctx = build_context(Settings(test_mode=False), tmp_path)
    app = create_app(ctx)
    try:
        yield lambda path: asgi_get(app, path)
    finally:
        ctx.engine.dispose()


def test_the_login_page_lists_no_one_outside_test_mode(plain_get: Get) -> None:
    page = _html(plain_get("/idp/authorize"))
    assert page.css_first("[data-testid=idp-login-form]") is not None
    assert page.css("[data-testid=test-persons]") == [] and "Testpersoner" not in page.text()
