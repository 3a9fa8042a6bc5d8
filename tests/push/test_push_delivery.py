"""The push fan-out end to end: a staff message reaches the fake APNs (HTTP/2 over TLS) and the fake FCM, with
the deep link and without personal data; recipients, channels and bulk sends per BR-NOTIF-1..3, BR-STAFF-1.

Every check reads what the fake gateways received (their inspection API) or what the system stored; nothing of
our own HTTP code is mocked.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import staff_token

from harness.sut_process import SutProcess
from sut.push.control import fcm_token
from sut.push.inspector import GatewayInspector, PushControl, poll, wait_for
from sut.push.payload import SMS_PROXY, SMS_SELF, TEXT_PROXY, TEXT_SELF

API = "/api/v1"
STAFF = "/staff/v1"
DEEP_LINK = re.compile(r"^se\.1177\.appen://inbox/messages/(?P<id>[0-9a-f-]{36})(\?acting_for=(?P<child>[0-9a-f-]{36}))?$")
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


@pytest.fixture
def staff_for(http: httpx.Client, base_url: str, push: PushControl) -> Iterator[Callable[[str], httpx.Client]]:
    """A logged-in staff client of a care unit that has a care relation with the patient."""
    clients: list[httpx.Client] = []

    def make(patient_id: str) -> httpx.Client:
        token = staff_token(http, push.care_staff(patient_id)[0]["hsa_id"])
        client = httpx.Client(base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def send(staff: httpx.Client, patient_id: str, subject: str = "Provsvar", body: str = "Hej!") -> str:
    response = staff.post(f"{STAFF}/messages", json={"patient_id": patient_id, "subject": subject, "body": body})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def private_values(person: dict[str, Any]) -> list[str]:
    """What must never appear in a notification: the person's number and name, in any common spelling."""
    pnr = person["personnummer"]
    return [pnr, pnr[2:], f"{pnr[:8]}-{pnr[8:]}", f"{pnr[2:8]}-{pnr[8:]}", person["given_name"],
            person["family_name"]]


def leaks(secret: str, raw: str) -> bool:
    """``secret`` stands in ``raw`` as a word: a short family name such as "Ek" can occur by chance inside a
    random device token, which is no leak."""
    return re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", raw) is not None


@pytest.mark.req("BR-NOTIF-2", "BR-NOTIF-3", "BR-INBOX-2", "GDPR-5-1-c", "OSL-25-1")
def test_staff_send_reaches_apns_and_fcm_with_deep_link_and_no_personal_data(
        new_client: NewClient, gateways: GatewayInspector, push: PushControl,
        staff_for: Callable[[str], httpx.Client]) -> None:
    client, person = new_client("adult")
    ios, android = secrets.token_hex(32), fcm_token()
    for platform, token in (("ios", ios), ("android", android)):
        registered = client.put(f"{API}/devices/inst-{uuid.uuid4().hex[:12]}",
                                json={"platform": platform, "token": token, "app_version": "3.2.0"})
        assert registered.status_code in (200, 201), registered.text
    assert client.post(f"{API}/consents", json={"purpose": "push", "text_version": "1.0"}).status_code == 201
    settings = client.put(f"{API}/notification-settings", json={"push": True, "sms": False, "email": False})
    assert settings.status_code == 200, settings.text
    staff = staff_for(person["id"])
    unit = staff.get(f"{STAFF}/me").json()["care_unit"]["name"]
    subject, body = f"Provsvar {secrets.token_hex(4)}", f"Ditt blodprov {secrets.token_hex(4)} är klart."
    message_id = send(staff, person["id"], subject, body)

    apns = gateways.wait_device("apns", ios)["deliveries"]
    fcm = gateways.wait_device("fcm", android)["deliveries"]
    assert [d["outcome"] for d in apns] == ["delivered"] and [d["outcome"] for d in fcm] == ["delivered"]
    apns_payload, fcm_message = apns[0]["payload"], fcm[0]["payload"]["message"]
    # BR-INBOX-2: the deep link names the message itself, and it opens for this user.
    for link in (apns_payload["link"], fcm_message["data"]["link"]):
        match = DEEP_LINK.match(link)
        assert match and match["id"] == message_id and match["child"] is None, link
    opened = client.get(f"{API}/inbox/messages/{message_id}")
    assert opened.status_code == 200 and opened.json()["subject"] == subject
    # BR-NOTIF-3: fixed text, an opaque reference, nothing personal, within 4 KB.
    assert apns_payload["aps"]["alert"]["body"] == TEXT_SELF == fcm_message["notification"]["body"]
    assert apns_payload["ref"] == fcm_message["data"]["ref"] and re.fullmatch(r"[0-9a-f-]{36}", apns_payload["ref"])
    for record in (apns[0], fcm[0]):
        raw = json.dumps(record["payload"], ensure_ascii=False)
        for secret in [*private_values(person), subject, body, unit, "Provsvar", "blodprov"]:
            assert not leaks(secret, raw), f"{secret!r} leaked into the {record['headers']} payload"
        assert record["payload_bytes"] <= 4096
    # APNs request headers as Apple requires them; the idempotency key is apns-id and apns-collapse-id.
    headers = apns[0]["headers"]
    assert headers["apns-push-type"] == "alert" and headers["apns-priority"] == "10"
    assert headers["apns-topic"] == "se.inera.1177.app" and headers["apns-expiration"].isdigit()
    assert headers["apns-id"] == headers["apns-collapse-id"] == apns[0]["key"]
    assert headers["authorization"] == "bearer <provider token>"
    assert fcm_message["android"]["collapse_key"] == fcm[0]["key"]
    # No SMS or e-mail: the user turned them off (BR-NOTIF-1).
    rows = push.settled(expected=2, message_id=message_id)
    assert sorted(r["channel"] for r in rows) == ["apns", "fcm"]
    assert {r["state"] for r in rows} <= {"sent", "delivered"}
    assert {r["key"] for r in rows} == {apns[0]["key"], fcm[0]["key"]}
    assert wait_for(lambda: all(r["state"] == "delivered" for r in push.deliveries(message_id=message_id)),
                    what="delivery reports recorded")


@pytest.mark.req("BR-NOTIF-4")
def test_fake_apns_is_http2_over_tls_with_the_runs_own_ca(sut: SutProcess, gateways: GatewayInspector) -> None:
    url = httpx.URL(sut.urls["apns"])
    assert url.scheme == "https"
    context = ssl.create_default_context(cadata=gateways.ca_pem())
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((url.host, url.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=url.host) as tls:
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    strict = ssl.create_default_context()  # the system's trust store: the run's CA is not in it
    with socket.create_connection((url.host, url.port), timeout=5) as raw, pytest.raises(ssl.SSLCertVerificationError):
        strict.wrap_socket(raw, server_hostname=url.host)


@pytest.mark.req("BR-NOTIF-2", "BR-NOTIF-3", "OSL-12-3")
def test_guardian_is_notified_of_a_child_under_13_per_own_settings_not_of_a_teen(
        new_person: Callable[[str], dict[str, Any]], gateways: GatewayInspector, push: PushControl,
        staff_for: Callable[[str], httpx.Client]) -> None:
    guardian = new_person("guardian")
    young, teen = guardian["children"]
    token = push.add_devices(guardian["id"], platform="ios")[0]["token"]
    # The guardian's own choices for each child: push for both (the teen's only as a stale setting).
    push.set_setting(guardian["id"], young["id"], push=True, sms=False, email=False)
    push.set_setting(guardian["id"], teen["id"], push=True, sms=True, email=True)
    # Each child's own care unit sends: a teen is seen at the youth clinic, a young child elsewhere.
    young_message, teen_message = send(staff_for(young["id"]), young["id"]), send(staff_for(teen["id"]), teen["id"])
    device = gateways.wait_device("apns", token)
    assert device["requests"] == 1
    record = device["deliveries"][0]
    assert record["message_id"] == young_message
    assert record["payload"]["aps"]["alert"]["body"] == TEXT_PROXY
    link = DEEP_LINK.match(record["payload"]["link"])
    assert link and link["id"] == young_message and link["child"] == young["id"]
    raw = json.dumps(record["payload"], ensure_ascii=False)
    for secret in private_values(young) + private_values(guardian):
        assert not leaks(secret, raw), secret
    # The teen's message reached the teen's own channels only, never the guardian's (OSL 12 kap. 3 §).
    rows = push.settled(expected=1, message_id=teen_message)
    assert {r["recipient_id"] for r in rows} == {teen["id"]}
    guardian_rows = push.settled(expected=1, message_id=young_message, recipient_id=guardian["id"])
    assert [(r["channel"], r["subject_id"]) for r in guardian_rows] == [("apns", young["id"])]


@pytest.mark.req("BR-NOTIF-1", "BR-NOTIF-2", "BR-NOTIF-3")
def test_sms_and_email_only_where_turned_on(
        new_person: Callable[[str], dict[str, Any]], gateways: GatewayInspector, push: PushControl,
        staff_for: Callable[[str], httpx.Client]) -> None:
    push_only, sms_default, email_too, no_consent = (new_person("adult") for _ in range(4))
    push.add_devices(push_only["id"], platform="android", sms=False)
    push.set_setting(email_too["id"], push=False, sms=True, email=True)
    # Push switched on but no consent given (or it was withdrawn): no push (BR-NOTIF-1, GDPR art. 7).
    push.add_devices(no_consent["id"], platform="ios", consent=False, sms=False, email=True)
    people = (push_only, sms_default, email_too, no_consent)
    messages = {p["id"]: send(staff_for(p["id"]), p["id"]) for p in people}
    channels = {pid: sorted(r["channel"] for r in push.settled(expected=1, message_id=mid))
                for pid, mid in messages.items()}
    assert channels == {push_only["id"]: ["fcm"], sms_default["id"]: ["sms"], email_too["id"]: ["email", "sms"],
                        no_consent["id"]: ["email"]}
    sms_rows = push.deliveries(message_id=messages[sms_default["id"]])
    phone = sms_rows[0]["address"]  # a number from the range set aside for fiction: others may share it
    gateways.wait_device("sms", phone)
    (sms,) = gateways.deliveries("sms", key=sms_rows[0]["key"])
    assert sms["token"] == phone and sms["payload"]["text"] in (SMS_SELF, SMS_PROXY)
    assert sms["headers"]["idempotency-key"] == sms_rows[0]["key"]
    email_row = next(r for r in push.deliveries(message_id=messages[email_too["id"]]) if r["channel"] == "email")
    gateways.wait_device("email", email_row["address"])
    (email,) = gateways.deliveries("email", key=email_row["key"])
    assert email["payload"]["subject"] == "Nytt meddelande i 1177"
    for record, person in ((sms, sms_default), (email, email_too)):
        raw = json.dumps(record["payload"], ensure_ascii=False)
        assert not any(leaks(secret, raw) for secret in private_values(person)), raw


@pytest.mark.req("BR-STAFF-1", "BR-NOTIF-2", "PDL-4-1")
def test_bulk_send_notifies_every_patient_of_the_unit_once(
        http: httpx.Client, base_url: str, gateways: GatewayInspector, push: PushControl) -> None:
    cohort = push.cohort(60, ios_share=0.5)
    code = http.post("/idp/api/staff-login", json={"hsa_id": cohort["staff_hsa_id"]}).json()["code"]
    token = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()["access_token"]
    with httpx.Client(base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {token}"}) as staff:
        created = staff.post(f"{STAFF}/bulk-sends", json={"subject": "Vaccination", "body": "Välkommen!",
                                                          "all_patients": True})
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["total"] == 60 and job["state"] == "running"
        status = poll(lambda: staff.get(job["status_url"]).json(),
                      lambda s: s["state"] == "done" and s["deliveries"]["total"] == 60
                      and s["deliveries"]["queued"] == 0, timeout=20, what="bulk send settled")
        assert status["accepted"] == 60 and status["rejected"] == 0 and status["outbox_pending"] == 0
        assert status["deliveries"]["sent"] + status["deliveries"]["delivered"] == 60
        assert status["by_channel"]["apns"]["total"] == cohort["ios"]
        assert status["by_channel"]["fcm"]["total"] == cohort["android"]
        # Exactly once per device, as the gateways saw it.
        rows = push.deliveries(bulk_job_id=job["job_id"])
        for row in rows:
            device = gateways.device(row["channel"], row["address"])
            assert (device["delivered"], device["duplicates"], device["replays"]) == (1, 0, 0), device
            assert device["deliveries"][0]["key"] == row["key"]
        # Named patients: only those with a care relation get a message (BR-STAFF-1, PDL 4 kap. 1 §).
        named = staff.post(f"{STAFF}/bulk-sends", json={"subject": "Påminnelse", "body": "Hej",
                                                        "patient_ids": [rows[0]["recipient_id"], str(uuid.uuid4())]})
        assert named.status_code == 202
        done = poll(lambda: staff.get(f"{STAFF}/bulk-sends/{named.json()['job_id']}").json(),
                    lambda s: s["state"] == "done", what="named bulk send done")
        assert (done["total"], done["accepted"], done["rejected"]) == (2, 1, 1)
        # Input is checked: one selection, at most 500 named patients, and only one's own unit's jobs.
        assert staff.post(f"{STAFF}/bulk-sends", json={"subject": "x", "body": "y"}).status_code == 422
        assert staff.post(f"{STAFF}/bulk-sends", json={"subject": "x", "body": "y", "all_patients": True,
                                                       "patient_ids": [str(uuid.uuid4())]}).status_code == 422
        assert staff.get(f"{STAFF}/bulk-sends/{uuid.uuid4()}").status_code == 404
    other = http.get("/_sut/staff").json()[0]["hsa_id"]
    code = http.post("/idp/api/staff-login", json={"hsa_id": other}).json()["code"]
    token = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()["access_token"]
    stranger = http.get(f"{STAFF}/bulk-sends/{job['job_id']}", headers={"Authorization": f"Bearer {token}"})
    assert stranger.status_code == 404  # another unit's job does not exist for them
    assert http.get(f"{STAFF}/bulk-sends/{job['job_id']}").status_code == 401


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        series, _, label_text = metric.partition("{")
        found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if series == name and found == wanted:
            return float(value)
    raise AssertionError(f"no {name}{{{wanted}}} in /metrics")


def test_metrics_show_queue_depth_sends_and_latency(
        http: httpx.Client, new_person: Callable[[str], dict[str, Any]], gateways: GatewayInspector,
        push: PushControl, staff_for: Callable[[str], httpx.Client]) -> None:
    before = http.get("/metrics").text
    accepted_before = _metric(before, "push_sends_total", provider="apns", outcome="accepted") \
        if 'push_sends_total{outcome="accepted",provider="apns"}' in before else 0.0
    person = new_person("adult")
    token = push.add_devices(person["id"], platform="ios")[0]["token"]
    send(staff_for(person["id"]), person["id"])
    gateways.wait_device("apns", token)
    push.settled(expected=1, recipient_id=person["id"])
    response = http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _metric(text, "push_sends_total", provider="apns", outcome="accepted") >= accepted_before + 1
    assert _metric(text, "push_enqueue_to_gateway_seconds_count", provider="apns") >= 1
    assert _metric(text, "push_send_duration_seconds_bucket", provider="apns", le="+Inf") >= 1
    for gauge in ("push_outbox_pending", "push_queue_depth", "push_in_flight", "push_retry_waiting"):
        assert _metric(text, gauge) >= 0
    assert _metric(text, "push_deliveries", state="delivered") + _metric(text, "push_deliveries", state="sent") >= 1
