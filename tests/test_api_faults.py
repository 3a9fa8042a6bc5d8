"""Each API-side fault of the catalogue, switched on at run time, is observable; switched off, the clean
behaviour returns. Faults are global to the running system, so these tests run serially in one group."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import FaultSwitch

API = "/api/v1"
STAFF = "/staff/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]

pytestmark = pytest.mark.xdist_group("faults")


@pytest.fixture
def staff_client(http: httpx.Client, base_url: str) -> Iterator[Callable[[str], httpx.Client]]:
    clients: list[httpx.Client] = []

    def make(care_unit: str) -> httpx.Client:
        staff = http.get("/_sut/staff", params={"care_unit": care_unit}).json()[0]
        code = http.post("/idp/api/staff-login", json={"hsa_id": staff["hsa_id"]}).json()["code"]
        token = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()
        client = httpx.Client(base_url=base_url, timeout=10,
                              headers={"Authorization": f"Bearer {token['access_token']}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def inbox(client: httpx.Client) -> list[dict[str, Any]]:
    return client.get(f"{API}/inbox/messages").json()["messages"]


def read_actions(client: httpx.Client, message_id: str) -> list[str]:
    return [e["action"] for e in client.get(f"{API}/audit-extract").json()["entries"]
            if e["resource_id"] == message_id and e["action"] == "message.read"]


def test_protected_address_leak(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("protected-identity")
    assert client.get(f"{API}/me").json()["address"] is None
    faults.on("protected-address-leak")
    assert client.get(f"{API}/me").json()["address"]  # the defect: skyddad folkbokföring leaks
    faults.off()
    assert client.get(f"{API}/me").json()["address"] is None


def test_region_not_joined_served(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("adult-not-joined")
    assert client.get(f"{API}/services").json()["region_joined"] is False
    assert client.get(f"{API}/inbox/messages").status_code == 403
    faults.on("region-not-joined-served")
    assert client.get(f"{API}/services").json()["services"]  # the defect: the in-app catalogue
    assert client.get(f"{API}/inbox/messages").status_code == 200
    faults.off()
    assert client.get(f"{API}/services").json()["redirect"]["url"] == "https://www.1177.se/"
    assert client.get(f"{API}/inbox/messages").status_code == 403


def test_idor_message(new_client: NewClient, faults: FaultSwitch) -> None:
    alice, _ = new_client("adult")
    bob, _ = new_client("adult")
    theirs = inbox(bob)[0]
    assert alice.get(f"{API}/inbox/messages/{theirs['id']}").status_code == 404
    faults.on("idor-message")
    leaked = alice.get(f"{API}/inbox/messages/{theirs['id']}")
    assert leaked.status_code == 200 and leaked.json()["subject"] == theirs["subject"]  # the defect
    faults.off()
    assert alice.get(f"{API}/inbox/messages/{theirs['id']}").status_code == 404


def test_journal_as_ombud(new_client: NewClient, faults: FaultSwitch) -> None:
    client, person = new_client("guardian")
    young = next(c["id"] for c in person["children"] if c["role"] == "child-under-13")
    headers = {"X-Acting-For": young}
    assert client.get(f"{API}/journal", headers=headers).status_code == 403
    faults.on("journal-as-ombud")
    assert client.get(f"{API}/journal", headers=headers).json()["entries"]  # the defect
    faults.off()
    assert client.get(f"{API}/journal", headers=headers).status_code == 403


def test_ombud_teen(new_client: NewClient, faults: FaultSwitch) -> None:
    client, person = new_client("guardian")
    teen = next(c["id"] for c in person["children"] if c["role"] == "child-13-17")
    headers = {"X-Acting-For": teen}
    assert client.get(f"{API}/inbox/messages", headers=headers).status_code == 403
    faults.on("ombud-teen")
    assert len(client.get(f"{API}/inbox/messages", headers=headers).json()["messages"]) == 3  # the defect
    assert teen in [p["id"] for p in client.get(f"{API}/acting-for").json()["persons"]]
    faults.off()
    assert client.get(f"{API}/inbox/messages", headers=headers).status_code == 403
    assert teen not in [p["id"] for p in client.get(f"{API}/acting-for").json()["persons"]]


def test_audit_skip_message_read(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("adult")
    first, second, third = (m["id"] for m in inbox(client))
    client.get(f"{API}/inbox/messages/{first}")
    assert read_actions(client, first) == ["message.read"]
    faults.on("audit-skip-message-read")
    assert client.get(f"{API}/inbox/messages/{second}").status_code == 200
    assert read_actions(client, second) == []  # the defect: a read of patient data without a trace
    faults.off()
    client.get(f"{API}/inbox/messages/{third}")
    assert read_actions(client, third) == ["message.read"]


def test_erasure_deletes_records(new_client: NewClient, faults: FaultSwitch) -> None:
    clean, _ = new_client("adult")
    assert clean.post(f"{API}/erasure").status_code == 200
    assert len(inbox(clean)) == 3
    faulty, _ = new_client("adult")
    faults.on("erasure-deletes-records")
    assert faulty.post(f"{API}/erasure").json()["erased"].get("messages") == 3
    assert inbox(faulty) == []  # the defect: health records gone, against GDPR art. 17.3 and PdL
    faults.off()
    again, _ = new_client("adult")
    assert again.post(f"{API}/erasure").status_code == 200 and len(inbox(again)) == 3


def test_device_reregister_duplicates(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("adult")

    def register(installation: str) -> None:
        body = {"platform": "ios", "token": secrets.token_hex(32), "app_version": "3.2.0"}
        assert client.put(f"{API}/devices/{installation}", json=body).status_code in (200, 201)

    clean = str(uuid.uuid4())
    register(clean)
    register(clean)
    assert len(client.get(f"{API}/devices").json()["devices"]) == 1
    faults.on("device-reregister-duplicates")
    faulty = str(uuid.uuid4())
    register(faulty)
    register(faulty)
    devices = client.get(f"{API}/devices").json()["devices"]
    assert [d["installation_id"] for d in devices].count(faulty) == 2  # the defect: two live tokens, two pushes
    faults.off()
    fixed = str(uuid.uuid4())
    register(fixed)
    register(fixed)
    assert [d["installation_id"] for d in client.get(f"{API}/devices").json()["devices"]].count(fixed) == 1


def test_min_version_ignored(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("adult", user_agent="1177-appen/2.0.0 (android)")
    assert client.get(f"{API}/me").status_code == 426
    faults.on("min-version-ignored")
    assert client.get(f"{API}/me").status_code == 200  # the defect: an unsupported app is served
    faults.off()
    assert client.get(f"{API}/me").status_code == 426


def care_unit_of(client: httpx.Client) -> str:
    return inbox(client)[0]["care_unit"]["id"]


def test_staff_any_patient(new_client: NewClient, staff_client: Callable[[str], httpx.Client],
                           faults: FaultSwitch) -> None:
    patient, person = new_client("adult")
    unit = care_unit_of(patient)
    stranger = staff_client(f"{unit[:-4]}{(int(unit[-4:]) % 3) + 1:04d}")  # same region, no care relation
    body = {"patient_id": person["id"], "subject": "Erbjudande", "body": "Hej"}
    assert stranger.post(f"{STAFF}/messages", json=body).status_code == 403
    faults.on("staff-any-patient")
    assert stranger.post(f"{STAFF}/messages", json=body).status_code == 201  # the defect
    faults.off()
    assert stranger.post(f"{STAFF}/messages", json=body).status_code == 403
    assert [m["subject"] for m in inbox(patient)].count("Erbjudande") == 1


def test_unicode_name_500_and_stacktrace_leak(new_client: NewClient, staff_client: Callable[[str], httpx.Client],
                                              faults: FaultSwitch) -> None:
    patient, person = new_client("adult")
    staff = staff_client(care_unit_of(patient))
    body = {"patient_id": person["id"], "subject": "Kallelse till återbesök på vårdcentralen", "body": "Hälsningar"}
    assert staff.post(f"{STAFF}/messages", json=body).status_code == 201
    faults.on("unicode-name-500")
    broken = staff.post(f"{STAFF}/messages", json=body)
    assert broken.status_code == 500  # the defect: å, ä, ö break the send
    assert "traceback" not in broken.json() and "Traceback" not in broken.text
    faults.on("unicode-name-500", "stacktrace-leak")
    leaked = staff.post(f"{STAFF}/messages", json=body)
    assert leaked.status_code == 500 and "UnicodeEncodeError" in "".join(leaked.json()["traceback"])  # the defect
    faults.off()
    assert staff.post(f"{STAFF}/messages", json=body).status_code == 201
    assert [m["subject"] for m in inbox(patient)].count(body["subject"]) == 2
