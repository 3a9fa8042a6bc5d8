"""Data export (GDPR art. 15 and 20) and erasure with the health-record exception (art. 17.3, PdL 3 kap. 17 §):
BR-GDPR-1. Consent is recorded with time and text version."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


def set_up_push(client: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A device, a push consent and push switched on: everything erasure must remove."""
    installation = str(uuid.uuid4())
    token = secrets.token_hex(32)
    assert client.put(f"{API}/devices/{installation}",
                      json={"platform": "ios", "token": token, "app_version": "3.2.0"}).status_code == 201
    consent = client.post(f"{API}/consents", json={"purpose": "push", "text_version": "2.1"}).json()
    assert client.put(f"{API}/notification-settings",
                      json={"push": True, "sms": False, "email": True}).status_code == 200
    return installation, consent


def test_export_holds_everything_about_the_person(new_client: NewClient) -> None:
    client, person = new_client("guardian")
    installation, consent = set_up_push(client)
    hidden = client.get(f"{API}/inbox/messages").json()["messages"][0]["id"]
    assert client.delete(f"{API}/inbox/messages/{hidden}").status_code == 204

    response = client.get(f"{API}/export")
    assert response.status_code == 200
    data = response.json()
    assert data["person"]["id"] == person["id"] and data["person"]["personnummer"] == person["personnummer"]
    assert {c["id"] for c in data["children"]} == {c["id"] for c in person["children"]}
    assert len(data["messages"]) == 3 and [m["hidden"] for m in data["messages"] if m["id"] == hidden] == [True]
    assert all(m["body"] for m in data["messages"])
    assert len(data["bookings"]) == 2 and len(data["journal"]) == 2
    own = [s for s in data["notification_settings"] if s["subject_id"] == person["id"]]
    assert [(s["push"], s["sms"], s["email"]) for s in own] == [(True, False, True)]
    assert {s["subject_id"] for s in data["notification_settings"]} == {person["id"]} | {
        c["id"] for c in person["children"]}
    assert [d["installation_id"] for d in data["devices"]] == [installation]
    assert [(c["id"], c["text_version"]) for c in data["consents"]] == [(consent["id"], "2.1")]
    assert data["consents"][0]["granted_at"]
    assert data["care_relations"] and data["access_log"]
    assert client.get(f"{API}/export").json()["access_log"][0]["action"] == "data.export"


def test_erasure_removes_push_data_and_keeps_health_records(new_client: NewClient) -> None:
    client, person = new_client("adult")
    set_up_push(client)
    bystander, _ = new_client("adult")
    set_up_push(bystander)

    response = client.post(f"{API}/erasure")
    assert response.status_code == 200
    result = response.json()
    assert result["erased"] == {"devices": 1, "notification_settings": 1, "consents": 1}
    kept = {k["data"]: k for k in result["kept"]}
    assert {k: v["count"] for k, v in kept.items() if k != "audit_records"} == {
        "messages": 3, "bookings": 2, "journal_entries": 2}
    assert kept["audit_records"]["count"] >= 1
    assert all("17.3" in k["reason"] for k in kept.values())  # each kept item says why (GDPR art. 17.3)

    assert client.get(f"{API}/devices").json()["devices"] == []
    assert client.get(f"{API}/consents").json()["consents"] == []
    settings = client.get(f"{API}/notification-settings").json()
    assert (settings["push"], settings["sms"], settings["email"], settings["updated_at"]) == (
        False, True, False, None)
    assert len(client.get(f"{API}/inbox/messages").json()["messages"]) == 3
    assert len(client.get(f"{API}/journal").json()["entries"]) == 2
    export = client.get(f"{API}/export").json()
    assert export["devices"] == export["consents"] == export["notification_settings"] == []
    assert export["person"]["id"] == person["id"]
    # Someone else's data is untouched.
    assert len(bystander.get(f"{API}/devices").json()["devices"]) == 1
    assert bystander.get(f"{API}/notification-settings").json()["push"] is True
