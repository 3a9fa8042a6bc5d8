"""The data subject's rights against what the system holds: an export complete kind by kind and id by id (GDPR art.
15 and 20), an erasure that removes the app-side data but keeps the health records (art. 17.3, PdL 3 kap.,
Arkivlagen), consent records that show what was agreed and withdrawn (art. 7), privacy by default (art. 25), and a
protected identity's address kept in (OSL 21 kap. 3 §).

What the system holds is taken from the seed and from the control API's table of owners, never from the answer
under test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fixtures.evidence import BROKEN_REQUIREMENTS
from harness import compliance
from harness.api_client import ApiClient
from harness.control import ControlApi
from harness.identities import Person, StaffMember

pytestmark = pytest.mark.destructive  # seeds persons, erases and changes their data

TEXT_VERSION = "2.1"


def owned(control_api: ControlApi, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Whose each id is, read from the system's tables (ids that name nothing are left out)."""
    if not ids:
        return {}
    response = control_api.http.post("/owners", json={"ids": sorted(ids)})
    response.raise_for_status()
    return {row["id"]: row for row in response.json()["records"]}


def breaks(request: pytest.FixtureRequest, *ids: str) -> None:
    """Name what a failure that follows breaks (the test's other requirements are then inconclusive)."""
    request.node.user_properties.append((BROKEN_REQUIREMENTS, ",".join(ids)))


@pytest.mark.smoke
@pytest.mark.req("GDPR-15", "GDPR-20", "BR-GDPR-1")
def test_the_export_holds_every_record_of_every_kind_and_nothing_of_anyone_else(
        new_person: Callable[..., Person], new_care_relation: Callable[..., dict[str, Any]],
        new_api_client: Callable[..., ApiClient], control_api: ControlApi) -> None:
    """Dataexporten innehåller varje post av varje slag som systemet har om personen, och inget om någon annan."""
    person = new_person("guardian", messages=4, bookings=3, journal_entries=3, devices=3, consents=3,
                        audit_lines=2)
    other_region = "25" if person.region != "25" else "01"
    relation = new_care_relation(person, region=other_region, messages=2)
    app = new_api_client(person)
    hidden = person.records["messages"][0]["id"]
    assert app.delete(f"/inbox/messages/{hidden}").status_code == 204  # removed from the inbox, kept in the record
    export = app.get("/export")
    assert export.status_code == 200, export.text
    data = export.json()
    held = {
        "messages": person.record_ids("messages") | {m["id"] for m in relation["messages"]},
        "bookings": person.record_ids("bookings"),
        "journal": person.record_ids("journal_entries"),
        "devices": {d["installation_id"] for d in person.records["devices"]},
        "consents": person.record_ids("consents"),
        "care_relations": {row["care_unit"] for row in person.records["messages"]} | {relation["care_unit"]},
        "children": {child.id for child in person.children},
        "notification_settings": {person.id} | {child.id for child in person.children},
    }
    exported = {
        "messages": {m["id"] for m in data["messages"]}, "bookings": {b["id"] for b in data["bookings"]},
        "journal": {e["id"] for e in data["journal"]}, "devices": {d["installation_id"] for d in data["devices"]},
        "consents": {c["id"] for c in data["consents"]}, "care_relations": {u["id"] for u in data["care_relations"]},
        "children": {c["id"] for c in data["children"]},
        "notification_settings": {s["subject_id"] for s in data["notification_settings"]},
    }
    gaps = {kind: sorted(held[kind] - exported[kind]) for kind in held if held[kind] - exported[kind]}
    extra = {kind: sorted(exported[kind] - held[kind]) for kind in held if exported[kind] - held[kind]}
    assert not gaps, f"the export misses records the system holds: {gaps}"
    assert not extra, f"the export holds records that are not this person's: {extra}"
    assert data["person"]["id"] == person.id and data["person"]["personnummer"] == person.personnummer
    staff_reads = {line["resource_id"] for line in person.records["audit_lines"]}
    assert staff_reads <= {line["resource_id"] for line in data["access_log"]}, "the access log is not exported"
    # Nothing of another person: every record id in the export is this person's in the system's own tables.
    owners = owned(control_api, exported["messages"] | exported["bookings"] | exported["journal"]
                   | exported["consents"] | exported["devices"])
    foreign = sorted(i for i, row in owners.items() if row["owner_id"] != person.id)
    assert not foreign, f"the export holds {len(foreign)} record(s) of another person"


@pytest.mark.req("GDPR-17", "PDL-3-14", "ARK-3", "BR-GDPR-1")
def test_erasure_removes_the_app_data_and_keeps_the_health_records(
        request: pytest.FixtureRequest, new_person: Callable[..., Person],
        new_api_client: Callable[..., ApiClient], control_api: ControlApi, audit_log: compliance.AuditLog) -> None:
    """En radering tar bort enheter, push-token, inställningar och samtycken men behåller journal och meddelanden."""
    person = new_person("adult", devices=2, consents=2, audit_lines=1)
    app = new_api_client(person)
    hidden = person.records["messages"][0]["id"]
    assert app.delete(f"/inbox/messages/{hidden}").status_code == 204
    health = person.record_ids("messages") | person.record_ids("bookings") | person.record_ids("journal_entries")
    app_side = {d["installation_id"] for d in person.records["devices"]} | person.record_ids("consents")
    assert set(owned(control_api, health | app_side)) == health | app_side, "the seed is not all in place"
    logged_before = {r.seq for r in audit_log.records(subject_id=person.id)}
    erased = app.post("/erasure")
    assert erased.status_code == 200, erased.text
    left = owned(control_api, health | app_side)
    app_data_left = sorted(f"{left[i]['kind']} {i}" for i in app_side if i in left)
    settings = app.get("/notification-settings").json()
    if settings["updated_at"] is not None:
        app_data_left.append("the notification settings")
    records_gone = sorted(i for i in health if i not in left)
    logged = {r.seq for r in audit_log.records(subject_id=person.id)}
    if not logged_before <= logged:
        records_gone.append(f"{len(logged_before - logged)} audit record(s)")
    if records_gone:
        breaks(request, "PDL-3-14", "ARK-3", "GDPR-17")
    elif app_data_left:
        breaks(request, "GDPR-17", "BR-GDPR-1")
    assert not records_gone, f"the erasure deleted {len(records_gone)} health record(s) the law keeps: {records_gone}"
    assert not app_data_left, f"the erasure left app data behind: {app_data_left}"
    kept = {row["data"]: row for row in erased.json()["kept"]}
    assert kept["messages"]["count"] == len(person.record_ids("messages")) and kept["messages"]["reason"]


@pytest.mark.req("GDPR-7", "BR-GDPR-1")
def test_a_consent_shows_when_and_to_what_text_and_its_withdrawal_is_kept(
        new_person: Callable[..., Person], new_api_client: Callable[..., ApiClient]) -> None:
    """Ett samtycke visar när det gavs och till vilken textversion, och återkallelsen sparas med sin tid."""
    app = new_api_client(new_person("adult"))
    start = datetime.now(UTC) - timedelta(seconds=5)
    first = app.post("/consents", json={"purpose": "push", "text_version": "2.0"})
    assert first.status_code == 201, first.text
    second = app.post("/consents", json={"purpose": "push", "text_version": TEXT_VERSION})
    assert second.status_code == 201, second.text
    assert app.delete(f"/consents/{second.json()['id']}").status_code == 204
    end = datetime.now(UTC) + timedelta(seconds=5)
    listed = {c["id"]: c for c in app.get("/consents").json()["consents"]}
    assert set(listed) == {first.json()["id"], second.json()["id"]}, "a given or withdrawn consent is not on record"
    for consent, version in ((listed[first.json()["id"]], "2.0"), (listed[second.json()["id"]], TEXT_VERSION)):
        assert consent["text_version"] == version
        assert start <= datetime.fromisoformat(consent["granted_at"]) <= end
        assert consent["withdrawn_at"] and start <= datetime.fromisoformat(consent["withdrawn_at"]) <= end
        assert consent["active"] is False
    exported = {c["id"] for c in app.get("/export").json()["consents"]}
    assert exported == set(listed), "the export leaves out consent records"
    settings = app.get("/notification-settings").json()
    assert settings["has_push_consent"] is False, "a withdrawn consent still counts"


@pytest.mark.req("GDPR-25")
def test_nothing_optional_is_on_by_default(new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
                                          new_api_client: Callable[..., ApiClient], push_control: Any) -> None:
    """Utan egna val är bara sms påslaget: varken push eller e-post, inget samtycke och ingen enhet."""
    person = new_person("adult")
    app = new_api_client(person)
    assert app.get("/consents").json()["consents"] == [] and app.get("/devices").json()["devices"] == []
    expected = {"push": False, "sms": True, "email": False}
    seeded = app.get("/notification-settings").json()
    assert {k: seeded[k] for k in expected} == expected, f"a new person's settings: {seeded}"
    # After an erasure the person has chosen nothing at all: the system's own defaults apply, to the settings
    # shown and to what a new message sets off.
    assert app.post("/erasure").status_code == 200
    chosen_nothing = app.get("/notification-settings").json()
    assert chosen_nothing["updated_at"] is None, "settings survived the erasure"
    assert {k: chosen_nothing[k] for k in expected} == expected, f"the defaults: {chosen_nothing}"
    staff = new_api_client(new_staff(for_patient=person))
    sent = staff.post("/messages", json={"patient_id": person.id, "subject": "Påminnelse", "body": "Hej!"})
    assert sent.status_code == 201, sent.text
    channels = {d["channel"] for d in push_control.settled(expected=1, message_id=sent.json()["id"], timeout=20)}
    assert channels == {"sms"}, f"a person who chose nothing was notified by {sorted(channels)}"


@pytest.mark.req("OSL-21-3", "BR-ID-1")
def test_a_protected_identitys_address_never_leaves_the_backend(new_person: Callable[..., Person],
                                                                new_api_client: Callable[..., ApiClient]) -> None:
    """Adressen för en person med skyddad folkbokföring visas aldrig, varken i profilen eller i exporten."""
    app = new_api_client(new_person("protected-identity"))
    profile = app.get("/me").json()
    assert profile["protected_identity"] is True
    assert profile["address"] is None, "the profile shows a protected address"
    assert app.get("/export").json()["person"]["address"] is None, "the export shows a protected address"

