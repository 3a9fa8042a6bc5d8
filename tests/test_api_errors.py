"""Bad input never gets a 500 (BR-SEC-1): malformed JSON 400, wrong types and unknown fields 422, big bodies 413,
ids in a wrong format 404/422, and problem+json without stack traces. The OpenAPI documents say all of it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import problem

from harness.sut_process import SutProcess

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]
BODY_OPERATIONS = [("PUT", "/notification-settings"), ("PUT", "/devices/installation-0001"), ("POST", "/consents"),
                   ("POST", "/sso/tickets")]


@pytest.fixture
def client(new_client: NewClient) -> httpx.Client:
    return new_client("adult")[0]


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_malformed_json_is_400(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, f"{API}{path}", content=b'{"push": tru',
                              headers={"Content-Type": "application/json"})
    problem(response, 400)


@pytest.mark.parametrize("body", [
    {"push": "yes", "sms": True, "email": False},  # strict JSON types: no "yes" for a boolean
    {"push": 1, "sms": True, "email": False},
    {"push": False, "sms": True},
    {"push": False, "sms": True, "email": False, "fax": True},  # unknown field
    [], "text", None, 17,
])
def test_wrong_types_and_unknown_fields_are_422(client: httpx.Client, body: Any) -> None:
    body = problem(client.put(f"{API}/notification-settings", json=body), 422)
    assert body["errors"] and all({"field", "reason", "message"} <= e.keys() for e in body["errors"])


def test_validation_errors_do_not_echo_the_input(new_client: NewClient, http: httpx.Client) -> None:
    """A personnummer or token sent in a wrong place is not repeated back (BR-SEC-1)."""
    client, person = new_client("adult")
    sent = client.put(f"{API}/notification-settings",
                      json={"push": person["personnummer"], "sms": True, "email": False})
    assert person["personnummer"] not in problem(sent, 422).__repr__()
    login = http.post("/idp/api/login", json={"personnummer": person["personnummer"] + "0"})
    assert person["personnummer"] not in problem(login, 422).__repr__()


def test_bodies_over_64_kb_are_413(client: httpx.Client) -> None:
    big = {"purpose": "push", "text_version": "1.0", "pad": "x" * 70_000}
    problem(client.post(f"{API}/consents", json=big), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming too
        yield b'{"purpose": "push", "text_version": "1.0", "pad": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    streamed = client.post(f"{API}/consents", content=chunks(), headers={"Content-Type": "application/json"})
    problem(streamed, 413)
    assert client.get(f"{API}/consents").json()["consents"] == []


@pytest.mark.parametrize("bad_id", ["1", "not-a-uuid", "../../etc", "%00", "ä" * 3, "1" * 300,
                                    "00000000-0000-0000-0000-00000000000G", "6F1C1B5E-8C5E-4A57-9D1B-1A2B3C4D5E6F"])
def test_ids_in_a_wrong_format_are_4xx(client: httpx.Client, bad_id: str) -> None:
    for method, path in (("GET", f"/inbox/messages/{bad_id}"), ("POST", f"/bookings/{bad_id}/cancel"),
                         ("DELETE", f"/consents/{bad_id}"), ("DELETE", f"/devices/{bad_id}")):
        response = client.request(method, f"{API}{path}")
        assert response.status_code in (404, 405, 422), (path, response.status_code)
        problem(response, response.status_code)
    if bad_id.isascii():  # header values are ASCII on the wire
        response = client.get(f"{API}/inbox/messages", headers={"X-Acting-For": bad_id})
        problem(response, 422)


def test_unknown_path_and_wrong_method(client: httpx.Client) -> None:
    problem(client.get(f"{API}/no-such-thing"), 404)
    wrong = client.post(f"{API}/notification-settings", json={})
    problem(wrong, 405)
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PUT"}


def test_missing_and_malformed_bearer_tokens_are_401(http: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Bearer " + "a" * 5000}):
        response = http.get(f"{API}/me", headers=headers)
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                             st.sampled_from(["push", "sms", "email", "platform", "token", "app_version", "purpose",
                                              "text_version", "audience", "x"]) | st.text(max_size=8),
                             inner, max_size=5), max_leaves=12),
       operation=st.sampled_from(BODY_OPERATIONS))
def test_random_bodies_never_get_a_server_error(client: httpx.Client, body: Any,
                                                operation: tuple[str, str]) -> None:
    method, path = operation
    response = client.request(method, f"{API}{path}", content=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        problem(response, response.status_code)


def test_logs_carry_no_personnummer_or_token(sut: SutProcess, new_client: NewClient) -> None:
    """Whatever the system logs, never a personnummer or a token (BR-SEC-1, OSL 25 kap. 1 §)."""
    client, person = new_client("guardian")
    client.get(f"{API}/inbox/messages")
    client.get(f"{API}/me", headers={"Authorization": "Bearer " + person["tokens"]["access_token"][:-4] + "AAAA"})
    client.post("/idp/token", data={"grant_type": "refresh_token", "refresh_token": "x" * 40})
    assert sut.log_path is not None
    log = sut.log_path.read_text(encoding="utf-8")
    for secret in (person["personnummer"], person["personnummer"][2:], person["tokens"]["access_token"],
                   person["tokens"]["refresh_token"]):
        assert secret not in log
    assert not re.search(r"\b(19|20)\d{6}[-+]?\d{4}\b", log)


# --- the OpenAPI documents are precise enough to fuzz -------------------------------------------------------------

@pytest.fixture(scope="module")
def documents(sut: SutProcess) -> dict[str, dict[str, Any]]:
    with httpx.Client(timeout=10) as client:
        return {name: client.get(sut.urls[f"{name}_openapi"]).json() for name in ("mobile", "staff")}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_operation_documents_its_problems(documents: dict[str, dict[str, Any]]) -> None:
    for name, document in documents.items():
        assert document["openapi"].startswith("3.1")
        assert document["components"]["securitySchemes"]["bearer"] == {
            **document["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
        for method, path, operation in operations(document):
            if "bulk" in path:
                continue  # the push fan-out's own operations
            assert operation["security"] == [{"bearer": []}], (name, path)
            assert operation.get("operationId"), (name, path)
            responses = operation["responses"]
            assert {"401", "403"} <= responses.keys(), (name, method, path)
            if name == "mobile":
                assert "426" in responses, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in responses, (name, method, path)
            if operation.get("requestBody"):
                assert {"400", "413"} <= responses.keys(), (name, method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (name, path, status)
                elif status != "204":
                    assert "application/json" in response["content"], (name, path, status)


def test_request_bodies_refuse_unknown_fields_and_path_ids_are_uuids(documents: dict[str, dict[str, Any]]) -> None:
    for document in documents.values():
        schemas = document["components"]["schemas"]
        for _method, path, operation in operations(document):
            if "bulk" in path:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            refs = [body] if body and "$ref" in body else (body or {}).get("anyOf", [])
            for ref in refs:
                assert schemas[ref["$ref"].rsplit("/", 1)[1]]["additionalProperties"] is False, path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"].endswith("_id") and \
                        parameter["name"] != "installation_id":
                    assert parameter["schema"]["format"] == "uuid", (path, parameter)
                assert "anyOf" not in parameter["schema"], (path, parameter)  # never 'string or null'


def test_acting_for_header_and_links_are_declared(documents: dict[str, dict[str, Any]]) -> None:
    mobile = documents["mobile"]["paths"]
    acting = [p for p in mobile["/inbox/messages"]["get"]["parameters"] if p["name"] == "X-Acting-For"]
    assert acting and acting[0]["in"] == "header" and acting[0]["schema"]["format"] == "uuid"
    links = mobile["/inbox/messages"]["get"]["responses"]["200"]["links"]
    assert links["GetMessage"]["operationId"] == "getMessage"
    assert "unregisterDevice" in json.dumps(mobile["/devices/{installation_id}"]["put"]["responses"]["201"])
    staff = documents["staff"]["paths"]
    assert "getStaffMessage" in json.dumps(staff["/messages"]["post"]["responses"]["201"]["links"])
    assert staff["/messages"]["post"]["responses"]["429"]["headers"]["Retry-After"]
