"""Notifications leave the protected channel, so they carry nothing personal: every delivery the fake APNs, FCM,
SMS and e-mail gateways recorded in the run is scanned (BR-NOTIF-3, GDPR art. 5.1 c, 32 and 44, OSL 25 kap. 1 §,
HSLF-FS 2016:40's exemption for unprotected notices); push goes only to those who consented; each notice reaches
exactly those entitled to it on the channels they chose (BR-NOTIF-1, BR-NOTIF-2, OSL 12 kap. 3 §); and a delivery
record, which holds the token, phone number or e-mail address a notice went to, is deleted when its retention ends
(BR-RETENTION-1, GDPR art. 5.1 e), while the message itself is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import allure
import httpx
import pytest

from fixtures.sut import LiveTarget
from harness import compliance
from harness.api_client import ApiClient, login_staff
from harness.control import ControlApi
from harness.identities import Person, StaffMember

pytestmark = pytest.mark.destructive  # seeds persons and sends notifications

HERE = Path(__file__).resolve().parent
GATEWAYS = ("apns", "fcm", "sms", "email")
PAGE = 1000
RETENTION_DAYS = 30  # BR-RETENTION-1


def every_delivery(gateways: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every request each fake gateway recorded since the system started, page by page."""
    for gateway in GATEWAYS:
        offset = 0
        while True:
            page = gateways.deliveries(gateway, offset=offset, limit=PAGE)
            for delivery in page:
                yield gateway, delivery
            if len(page) < PAGE:
                break
            offset += PAGE


@pytest.fixture(scope="module")
def content_policy() -> compliance.ContentPolicy:
    return compliance.load_content_policy(HERE / "notification_content.yaml")


@pytest.mark.smoke
@pytest.mark.req("BR-NOTIF-3", "GDPR-5-1-c", "GDPR-32", "GDPR-44", "OSL-25-1", "HSLF-FS-2016-40-3-16")
def test_no_notification_of_the_run_carries_personal_or_health_data(
        new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
        new_api_client: Callable[..., ApiClient], push_control: Any, gateways: Any,
        content_policy: compliance.ContentPolicy) -> None:
    """Ingen avisering i körningen (push, sms, e-post) bär personnummer, namn, ämne, text eller vårdenhet."""
    guardian = new_person("guardian")
    child = guardian.child("under-13")
    push_control.add_devices(guardian.id, count=2, platform="mixed", sms=True, email=True)
    push_control.set_setting(guardian.id, child.id, push=True, sms=True, email=True)
    known: list[str] = []
    sent = []
    for patient in (guardian, child):
        subject = f"Provsvar klamydia för {patient.given_name} {patient.family_name}"
        body = f"Hej {patient.given_name}! Ditt provsvar från vårdcentralen är klart."
        known += [subject, body, patient.given_name, patient.family_name, patient.personnummer]
        staff = new_api_client(new_staff(for_patient=patient))
        response = staff.post("/messages", json={"patient_id": patient.id, "subject": subject, "body": body})
        assert response.status_code == 201, response.text
        sent.append(response.json()["id"])
    own = push_control.settled(expected=4, message_id=sent[0], timeout=30)  # 2 devices, SMS and e-mail
    proxy = push_control.settled(expected=1, message_id=sent[1], timeout=30)
    refs = {d["key"] for d in own + proxy}
    assert {d["channel"] for d in own} == {"apns", "fcm", "sms", "email"}, own
    findings, counts = [], dict.fromkeys(GATEWAYS, 0)
    ours = 0
    for gateway, delivery in every_delivery(gateways):
        counts[gateway] += 1
        ours += delivery["key"] in refs
        size = delivery.get("payload_bytes", 0)
        if gateway in ("apns", "fcm") and size > content_policy.max_push_bytes:
            findings.append(f"{gateway} #{delivery['seq']}: {size} bytes, over {content_policy.max_push_bytes}")
        for finding in compliance.content_findings(delivery["payload"], content_policy, known=known):
            findings.append(f"{gateway} #{delivery['seq']} (message {delivery.get('message_id')}): {finding}")
    allure.attach(json.dumps({"deliveries_scanned": counts, "of_this_test": ours, "findings": len(findings)},
                             indent=2), name="Notifications scanned.json", attachment_type=allure.attachment_type.JSON)
    assert ours >= len(refs), f"only {ours} of this test's {len(refs)} deliveries reached the gateways"
    assert not findings, (f"{len(findings)} finding(s) in {sum(counts.values())} deliveries:\n"
                          + "\n".join(findings[:30]))


@pytest.mark.req("HSLF-FS-2016-40-3-16", "BR-NOTIF-1")
def test_push_goes_only_to_a_person_who_consented(new_person: Callable[..., Person],
                                                  new_staff: Callable[..., StaffMember],
                                                  new_api_client: Callable[..., ApiClient],
                                                  push_control: Any) -> None:
    """Push skickas bara till den som samtyckt; utan samtycke går aviseringen med sms."""
    person = new_person("adult")
    push_control.add_devices(person.id, count=1, platform="ios", consent=False, push=True, sms=True)
    staff = new_api_client(new_staff(for_patient=person))
    sent = staff.post("/messages", json={"patient_id": person.id, "subject": "Kallelse", "body": "Hej!"})
    assert sent.status_code == 201, sent.text
    channels = {d["channel"] for d in push_control.settled(expected=1, message_id=sent.json()["id"], timeout=20)}
    assert channels == {"sms"}, f"without a consent the notice went by {sorted(channels)}"


@pytest.mark.req("BR-NOTIF-1", "BR-NOTIF-2", "OSL-12-3")
def test_each_notice_reaches_exactly_those_entitled_on_the_channels_they_chose(
        new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
        new_api_client: Callable[..., ApiClient], push_control: Any) -> None:
    """Varje avisering går bara till den som har rätt till den (patienten, vårdnadshavare för barn under 13) och
    bara i de kanaler mottagaren valt, en gång per kanal."""
    guardian = new_person("guardian")
    young, teen = guardian.child("under-13"), guardian.child("13-17")
    push_control.add_devices(guardian.id, count=1, platform="ios", sms=False)
    # What the guardian chose: push only for their own messages (the phone number is known, SMS is off), push and
    # SMS for the young child, push for the teen (whose messages a guardian may no longer see: OSL 12 kap. 3 §).
    chosen = {guardian.id: {"apns"}, young.id: {"apns", "sms"}, teen.id: set()}
    push_control.set_setting(guardian.id, None, push=True, sms=False, email=False)
    push_control.set_setting(guardian.id, young.id, push=True, sms=True, email=False)
    push_control.set_setting(guardian.id, teen.id, push=True, sms=False, email=False)
    entitled = {guardian.id: {guardian.id}, young.id: {young.id, guardian.id}, teen.id: {teen.id}}
    problems, table = [], []
    for patient in (guardian, young, teen):
        staff = new_api_client(new_staff(for_patient=patient))
        sent = staff.post("/messages", json={"patient_id": patient.id, "subject": "Kallelse", "body": "Hej!"})
        assert sent.status_code == 201, sent.text
        # every recipient's rows are made in one go; the teen's and the child's own channels settle with them
        rows = push_control.settled(expected=1, message_id=sent.json()["id"], timeout=30)
        for row in rows:
            table.append({"subject": patient.id, "recipient": row["recipient_id"], "channel": row["channel"]})
            if row["recipient_id"] not in entitled[patient.id]:
                problems.append(f"a message to {patient.id} was notified to {row['recipient_id']} by {row['channel']}, "
                                "who may not see it")
        to_guardian = sorted(row["channel"] for row in rows if row["recipient_id"] == guardian.id)
        if guardian.id in entitled[patient.id] and to_guardian != sorted(chosen[patient.id]):
            problems.append(f"the guardian chose {sorted(chosen[patient.id])} for messages to {patient.id} and got "
                            f"{to_guardian}")
    allure.attach(json.dumps(table, indent=2), name="Notices and recipients.json",
                  attachment_type=allure.attachment_type.JSON)
    assert not problems, "\n".join(problems)


@pytest.mark.req("BR-RETENTION-1", "GDPR-5-1-e", "ARK-10")
def test_delivery_records_are_deleted_when_their_retention_ends_and_the_message_stays(
        private_target: LiveTarget, stopped_clock: ControlApi, api_recorder: Any) -> None:
    """Leveransposter med token, telefonnummer och e-postadress raderas efter 30 dagar; meddelandet finns kvar."""
    from sut.push.inspector import PushControl

    urls = private_target.urls
    person = stopped_clock.seed_person("adult")
    staff = stopped_clock.staff_for(person).get("own-unit")
    with httpx.Client(base_url=urls["base"], timeout=30) as http, \
            ApiClient(urls["staff_api"], label="staff", recorder=api_recorder) as client:
        push = PushControl(http)
        push.add_devices(person.id, count=1, platform="android", sms=True, email=True)
        client.use_token(login_staff(client, urls["idp"], staff.hsa_id).access_token)
        sent = client.post("/messages", json={"patient_id": person.id, "subject": "Påminnelse", "body": "Hej!"})
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["id"]
        rows = push.settled(expected=3, message_id=message_id, timeout=30)
        assert {r["channel"] for r in rows} == {"fcm", "sms", "email"}

        def purge_after(seconds: float) -> list[dict[str, Any]]:
            stopped_clock.advance(seconds)
            response = http.post("/_sut/push/retention")
            assert response.status_code == 200, response.text
            return push.deliveries(message_id=message_id)

        kept = purge_after((RETENTION_DAYS - 1) * 86400)
        assert len(kept) == 3, f"deleted before the retention period ended: {3 - len(kept)} of 3"
        left = purge_after(86400 + 60)
        assert left == [], f"{len(left)} delivery record(s) with their addresses kept past {RETENTION_DAYS} days"
        owners = stopped_clock.http.post("/owners", json={"ids": [message_id]}).json()["records"]
        assert [row["kind"] for row in owners] == ["message"], "the message itself went with its delivery records"
