"""X-Acting-For is honoured by the operations that declare it and refused by every other (BR-PROXY-1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import FaultSwitch, problem

API = "/api/v1"
NOT_FOR_OMBUD = "urn:1177:problem:not-for-ombud"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


def _children(person: dict[str, Any]) -> dict[str, str]:
    return {c["role"]: c["id"] for c in person["children"]}


def _own_state(client: httpx.Client) -> dict[str, Any]:
    export = client.get(f"{API}/export").json()
    return {k: export[k] for k in ("notification_settings", "devices", "consents")}


def _operations(http: httpx.Client) -> list[tuple[str, str, str, bool]]:
    found = []
    for api in ("api/v1", "staff/v1"):
        for path, item in http.get(f"/{api}/openapi.json").json()["paths"].items():
            for method, operation in item.items():
                declared = any(p["name"].lower() == "x-acting-for" for p in operation.get("parameters", []))
                found.append((api, method.upper(), path, declared))
    return found


def test_a_guardian_acting_for_a_child_cannot_erase_or_export_their_own_data(new_client: NewClient) -> None:
    client, guardian = new_client("guardian")
    children = _children(guardian)
    assert client.put(f"{API}/devices/installation-0001", json={
        "platform": "ios", "token": "ab" * 32, "app_version": "3.2.0"}).status_code == 201
    before = _own_state(client)
    for child in children.values():
        problem(client.post(f"{API}/erasure", headers={"X-Acting-For": child}), 403, NOT_FOR_OMBUD)
        problem(client.get(f"{API}/export", headers={"X-Acting-For": child}), 403, NOT_FOR_OMBUD)
    assert _own_state(client) == before


def test_every_operation_without_the_header_declared_refuses_it(http: httpx.Client, new_client: NewClient,
                                                                 new_person: Callable[[str], dict]) -> None:
    """Walks both OpenAPI documents: an undeclared header is a 403 before anything else happens."""
    client, guardian = new_client("guardian")
    young = _children(guardian)["child-under-13"]
    operations = _operations(http)
    assert {(m, p) for _, m, p, declared in operations if declared} == {
        ("GET", "/inbox/messages"), ("GET", "/inbox/messages/{message_id}"),
        ("POST", "/inbox/messages/{message_id}/read"), ("DELETE", "/inbox/messages/{message_id}"),
        ("GET", "/bookings"), ("POST", "/bookings/{booking_id}/cancel"), ("GET", "/journal"),
        ("GET", "/notification-settings"), ("PUT", "/notification-settings")}
    for api, method, path, declared in operations:
        if declared:
            continue
        url = "/" + api + path.replace("{", "").replace("}", "")  # any id: the header is refused first
        response = client.request(method, url, headers={"X-Acting-For": young}, json={})
        body = problem(response, 403, NOT_FOR_OMBUD)
        assert "ombud" in body["detail"], (method, path)
        refused = http.get(f"/{api}/openapi.json").json()["paths"][path][method.lower()]["responses"]["403"]
        assert NOT_FOR_OMBUD in refused["description"], (method, path)


def test_journal_is_never_open_to_an_ombud(new_client: NewClient) -> None:
    client, guardian = new_client("guardian")
    problem(client.get(f"{API}/journal", headers={"X-Acting-For": _children(guardian)["child-under-13"]}), 403,
            "urn:1177:problem:journal-not-for-ombud")


def test_fault_acting_for_ignored_erases_the_guardians_own_settings(new_client: NewClient,
                                                                    faults: FaultSwitch) -> None:
    client, guardian = new_client("guardian")
    teen = _children(guardian)["child-13-17"]
    assert client.put(f"{API}/devices/installation-0002", json={
        "platform": "ios", "token": "cd" * 32, "app_version": "3.2.0"}).status_code == 201
    faults.on("acting-for-ignored")
    response = client.post(f"{API}/erasure", headers={"X-Acting-For": teen})
    assert response.status_code == 200  # the defect: the guardian's own data erased while "acting for" a teen
    assert _own_state(client)["devices"] == []


@pytest.mark.parametrize("header", ["", "not-a-uuid"])
def test_any_value_of_the_header_is_refused_where_undeclared(new_client: NewClient, header: str) -> None:
    client, _ = new_client("adult")
    problem(client.post(f"{API}/erasure", headers={"X-Acting-For": header}), 403, NOT_FOR_OMBUD)
