"""HTTP as clients expect it (BR-SEC-1): HEAD on every GET route, 415 for a body in the wrong media type, JSON
syntax errors with their line and column, a favicon, a Swedish page for an oversized web form, and validation
errors in Swedish."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from support import problem

from sut import problems
from sut.app import create_app
from sut.config import Settings
from sut.runtime import build_context

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]
# Headers whose value may differ from one request to the next, whatever the method.
VOLATILE = {"date", "set-cookie", "location", "content-length"}
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _get_paths(routes: list[Any], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                yield f"{prefix}{route.path}/logo.svg"
            else:
                yield from _get_paths(route.app.routes, prefix + route.path)
        elif hasattr(route, "effective_route_contexts"):  # an included router (FastAPI resolves them lazily)
            for context in route.effective_route_contexts():
                if "GET" in (getattr(context.original_route, "methods", None) or ()):
                    yield prefix + context.path
        elif "GET" in (getattr(route, "methods", None) or ()):
            yield prefix + route.path


@pytest.fixture(scope="module")
def get_routes(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Every GET route of the whole application, the mounted APIs, IdP, control API and static files included."""
    ctx = build_context(Settings(test_mode=True, joined_regions=0), tmp_path_factory.mktemp("routes"))
    try:
        paths = sorted(set(_get_paths(create_app(ctx).routes)))
    finally:
        ctx.engine.dispose()
    assert {"/", "/api/v1/me", "/api/v1/openapi.json", "/idp/authorize", "/favicon.ico"} <= set(paths)
    return paths


def _fill(path: str) -> str:
    return PARAM.sub(lambda m: "installation-0001" if m[1] == "installation_id" else str(uuid.uuid4()), path)


def test_head_answers_every_get_route_as_get_without_the_body(get_routes: list[str], new_client: NewClient) -> None:
    client, _ = new_client("adult")
    mismatches = []
    for path in get_routes:
        url = _fill(path)
        got, head = client.get(url), client.head(url)
        got_headers = {k: v for k, v in got.headers.items() if k not in VOLATILE}
        head_headers = {k: v for k, v in head.headers.items() if k not in VOLATILE}
        if head.status_code != got.status_code or head_headers != got_headers or head.content:
            mismatches.append(f"{path}: GET {got.status_code}, HEAD {head.status_code}")
        elif ("content-length" in got.headers) != ("content-length" in head.headers):
            mismatches.append(f"{path}: Content-Length on one of GET and HEAD only")
    assert not mismatches, mismatches


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/static/logo.svg", "/favicon.ico"])
def test_head_on_a_fixed_document_has_its_length(http: httpx.Client, path: str) -> None:
    got, head = http.get(path), http.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))


BODY_OPERATIONS = [("PUT", f"{API}/notification-settings"), ("POST", f"{API}/consents"),
                   ("PUT", f"{API}/devices/installation-0001"), ("POST", f"{API}/sso/tickets"),
                   ("POST", "/idp/api/login")]


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize("kwargs", [
    {"content": b'{"push": true}', "headers": {"Content-Type": "text/plain"}},
    {"data": {"push": "true"}},  # a form post
    {"content": b'{"push": true}', "headers": {"Content-Type": ""}},
], ids=["text/plain", "form", "no content type"])
def test_a_body_in_another_media_type_is_415(new_client: NewClient, method: str, path: str,
                                             kwargs: dict[str, Any]) -> None:
    client, _ = new_client("adult")
    body = problem(client.request(method, path, **kwargs), 415)
    assert "application/json" in body["detail"]


def test_json_to_the_token_endpoint_is_415(http: httpx.Client) -> None:
    problem(http.post("/idp/token", json={"grant_type": "refresh_token", "refresh_token": "x"}), 415)


def test_every_operation_with_a_body_documents_415(http: httpx.Client) -> None:
    for api in ("api/v1", "staff/v1"):
        for path, item in http.get(f"/{api}/openapi.json").json()["paths"].items():
            for method, operation in item.items():
                if "requestBody" in operation:
                    assert "415" in operation["responses"], f"{method.upper()} /{api}{path}"


def test_a_json_syntax_error_is_400_with_line_and_column(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    sent = client.put(f"{API}/notification-settings", content=b'{\n  "push": true,\n  "sms": tru\n}',
                      headers={"Content-Type": "application/json"})
    body = problem(sent, 400)
    assert (body["line"], body["column"]) == (3, 10)
    assert "rad 3, kolumn 10" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["body"]  # not a field named after a character offset


def test_the_favicon_is_the_logo_and_pages_name_it(http: httpx.Client) -> None:
    icon = http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content == (Path(__file__).parent.parent / "sut" / "static" / "logo.svg").read_bytes()
    page = http.get("/idp/authorize")
    assert '<link rel="icon" href="/static/logo.svg" type="image/svg+xml">' in page.text


def test_an_oversized_web_form_gets_a_swedish_page(http: httpx.Client) -> None:
    form = {"personnummer": "x" * 70_000, "method": "bankid"}
    page = http.post("/idp/authorize", data=form, headers={"Accept": "text/html"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="sv">' in page.text and "för stort" in page.text
    without_accept = http.post("/idp/authorize", data=form, headers={"Accept": "*/*"})  # a form post is a browser
    assert without_accept.status_code == 413 and without_accept.headers["content-type"].startswith("text/html")


def test_an_oversized_api_body_is_still_problem_json(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    body = problem(client.post(f"{API}/consents", json={"purpose": "push", "pad": "x" * 70_000}), 413)
    assert "större än" in body["detail"]


def test_validation_errors_are_swedish_with_their_machine_reasons(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    sent = client.put(f"{API}/notification-settings", json={"push": "ja", "sms": True, "fax": True})
    errors = {e["field"]: e for e in problem(sent, 422)["errors"]}
    assert {f: e["reason"] for f, e in errors.items()} == {"push": "bool_type", "email": "missing",
                                                           "fax": "extra_forbidden"}
    assert errors["push"]["message"] == "Ska vara true eller false."
    assert errors["email"]["message"] == "Uppgiften saknas."
    assert errors["fax"]["message"] == "Uppgiften är inte tillåten här."


@pytest.mark.parametrize(("error", "message"), [
    ({"type": "string_too_long", "ctx": {"max_length": 40}}, "Får vara högst 40 tecken."),
    ({"type": "literal_error", "ctx": {"expected": "'bankid' or 'freja'"}}, "Ska vara 'bankid' eller 'freja'."),
    ({"type": "value_error", "msg": "Value error, something in English"}, "Värdet är inte giltigt."),
    ({"type": "string_too_short", "ctx": {}}, "Värdet är inte giltigt."),  # context missing: still Swedish
])
def test_each_error_type_reads_in_swedish(error: dict[str, Any], message: str) -> None:
    assert problems.swedish(error) == message


def test_no_english_detail_on_common_errors(new_client: NewClient, http: httpx.Client) -> None:
    client, _ = new_client("adult")
    english = re.compile(r"\b(the|is|not|should|required|input|valid)\b", re.IGNORECASE)
    for response in (client.get(f"{API}/nothing-here"), client.delete(f"{API}/me"),
                     http.get(f"{API}/me"), client.get(f"{API}/inbox/messages/not-a-uuid")):
        body = response.json()
        texts = [body["detail"], *(e["message"] for e in body.get("errors", []))]
        assert not [t for t in texts if english.search(t)], texts
