"""Every read of patient data leaves an audit record with actor, subject, role, action, resource and care unit;
the patient can read them (loggutdrag), and the log's hash chain holds (BR-AUDIT-1, PDL 4 kap. 3 §)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


def extract(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get(f"{API}/audit-extract")
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def app_client(base_url: str, personnummer: str) -> httpx.Client:
    """Log a seeded person in through the IdP's direct flow."""
    client = httpx.Client(base_url=base_url, timeout=10, headers={"User-Agent": "1177-appen/3.2.0 (android)"})
    code = client.post("/idp/api/login", json={"personnummer": personnummer}).json()["code"]
    tokens = client.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()
    client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return client


def test_every_read_of_patient_data_is_recorded(new_client: NewClient) -> None:
    client, person = new_client("adult")
    name = f"{person['given_name']} {person['family_name']}"
    message = client.get(f"{API}/inbox/messages").json()["messages"][0]
    client.get(f"{API}/inbox/messages/{message['id']}")
    bookings = client.get(f"{API}/bookings").json()["bookings"]
    journal = client.get(f"{API}/journal").json()["entries"]
    client.get(f"{API}/export")
    entries = extract(client)
    assert all(e["actor_kind"] == "person" and e["actor_name"] == name and e["role"] == "self" for e in entries)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_action.setdefault(entry["action"], []).append(entry)
    assert [(e["resource_id"], e["care_unit"]["id"]) for e in by_action["message.read"]] == [
        (message["id"], message["care_unit"]["id"])]
    assert {e["care_unit"]["id"] for e in by_action["booking.list"]} == {b["care_unit"]["id"] for b in bookings}
    assert sorted(e["resource_id"] for e in by_action["journal.read"]) == sorted(j["id"] for j in journal)
    assert all(e["care_unit"] for e in by_action["journal.read"])
    assert len(by_action["inbox.list"]) == 1 and len(by_action["data.export"]) == 1
    entries_again = extract(client)
    assert entries_again[0]["action"] == "audit.extract"  # reading the log is itself a read, newest first
    assert entries_again[0]["at"] >= entries_again[-1]["at"]


def test_ombud_reads_name_both_actor_and_subject(new_client: NewClient, base_url: str) -> None:
    guardian, person = new_client("guardian")
    young = next(c for c in person["children"] if c["role"] == "child-under-13")
    headers = {"X-Acting-For": young["id"]}
    message = guardian.get(f"{API}/inbox/messages", headers=headers).json()["messages"][0]
    assert guardian.get(f"{API}/inbox/messages/{message['id']}", headers=headers).status_code == 200
    guardian.get(f"{API}/bookings", headers=headers)

    child = app_client(base_url, young["personnummer"])
    try:
        entries = extract(child)
    finally:
        child.close()
    by_guardian = [e for e in entries if e["role"] == "ombud"]
    assert {e["action"] for e in by_guardian} == {"inbox.list", "message.read", "booking.list"}
    assert all(e["actor_name"] == f"{person['given_name']} {person['family_name']}" for e in by_guardian)
    assert [e["resource_id"] for e in by_guardian if e["action"] == "message.read"] == [message["id"]]
    # The guardian's own extract is about the guardian's data only.
    assert all(e["role"] == "self" for e in extract(guardian))


def test_an_extract_shows_only_reads_of_ones_own_data(new_client: NewClient) -> None:
    alice, _ = new_client("adult")
    bob, _ = new_client("adult")
    bobs = bob.get(f"{API}/inbox/messages").json()["messages"][0]["id"]
    bob.get(f"{API}/inbox/messages/{bobs}")
    assert bobs not in [e["resource_id"] for e in extract(alice)]
    assert bobs in [e["resource_id"] for e in extract(bob)]


def test_the_hash_chain_holds(new_client: NewClient, http: httpx.Client) -> None:
    client, _ = new_client("adult")
    client.get(f"{API}/journal")
    client.post(f"{API}/erasure")  # erasure never touches the log
    verdict = http.get("/_sut/audit/verify").json()
    assert verdict == {"intact": True, "first_broken_seq": None}
