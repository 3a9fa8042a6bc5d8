"""Access to patient data only where the law allows it: staff through their own care unit's care relation (PdL 4
kap. 1 §, BR-STAFF-1), a patient to their own records, a guardian as ombud for own children under 13 (BR-PROXY-1,
PdL 5 kap. 5 §), and never to the journal or the access log as ombud (HFD 2017 ref. 67)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.api_client import ApiClient
from harness.identities import Person, StaffMember

pytestmark = pytest.mark.destructive  # seeds persons and sends messages

NOTE = {"subject": "Kallelse", "body": "Hej! Du är välkommen på ett återbesök."}


@pytest.mark.smoke
@pytest.mark.req("PDL-4-1", "BR-STAFF-1")
def test_staff_reach_a_patient_only_through_their_own_units_care_relation(
        new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
        new_api_client: Callable[..., ApiClient]) -> None:
    """Vårdpersonal når en patient bara genom den egna vårdenhetens vårdrelation."""
    patient = new_person("adult")
    message_id = patient.records["messages"][0]["id"]
    own = new_api_client(new_staff(for_patient=patient))
    lookup = own.post("/patients/lookup", json={"personnummer": patient.personnummer})
    assert lookup.status_code == 200 and lookup.json()["patient_id"] == patient.id, lookup.text
    assert own.post("/messages", json={"patient_id": patient.id, **NOTE}).status_code == 201
    assert own.get(f"/messages/{message_id}").status_code == 200
    refused = []
    for relation in ("same-region-other-unit", "other-region-unit"):
        try:
            staff = new_staff(for_patient=patient, relation=relation)
        except LookupError:
            continue  # the seed has no such unit for this patient
        client = new_api_client(staff)
        answers = {
            "look up": client.post("/patients/lookup", json={"personnummer": patient.personnummer}).status_code,
            "send": client.post("/messages", json={"patient_id": patient.id, **NOTE}).status_code,
            "read": client.get(f"/messages/{message_id}").status_code,
        }
        refused += [f"{relation}: {what} answered {status}" for what, status in answers.items()
                    if status not in (403, 404)]
    assert not refused, "staff without a care relation reached the patient:\n" + "\n".join(refused)


@pytest.mark.req("PDL-5-5", "BR-INBOX-1")
def test_a_patient_reaches_only_their_own_records(new_person: Callable[..., Person],
                                                 new_api_client: Callable[..., ApiClient]) -> None:
    """En patient når bara sina egna meddelanden och bokningar, aldrig någon annans."""
    patient, other = new_person("adult"), new_person("adult")
    app = new_api_client(patient)
    listed = {m["id"] for m in app.get("/inbox/messages").json()["messages"]}
    assert listed == patient.record_ids("messages")
    theirs = next(iter(other.record_ids("messages")))
    assert app.get(f"/inbox/messages/{theirs}").status_code == 404
    assert {b["id"] for b in app.get("/bookings").json()["bookings"]} == patient.record_ids("bookings")
    booking = next(iter(other.record_ids("bookings")))
    assert app.post(f"/bookings/{booking}/cancel").status_code == 404


@pytest.mark.req("BR-PROXY-1", "PDL-5-5")
def test_a_guardian_acts_only_for_own_children_under_13(new_person: Callable[..., Person],
                                                       new_api_client: Callable[..., ApiClient]) -> None:
    """En vårdnadshavare är ombud bara för egna barn under 13 år och ser då barnets uppgifter, inga andras."""
    guardian, stranger = new_person("guardian"), new_person("guardian")
    young, teen = guardian.child("under-13"), guardian.child("13-17")
    as_young = new_api_client(guardian, acting_for=young)
    inbox = as_young.get("/inbox/messages")
    assert inbox.status_code == 200, inbox.text
    assert {m["id"] for m in inbox.json()["messages"]} == young.record_ids("messages")
    bookings = as_young.get("/bookings")
    assert {b["id"] for b in bookings.json()["bookings"]} == young.record_ids("bookings"), \
        "the bookings shown as ombud are not the child's"
    for whom, label in ((teen, "a child of 13 or older"), (stranger.child("under-13"), "someone else's child")):
        refused = new_api_client(guardian, acting_for=whom).get("/inbox/messages")
        assert refused.status_code == 403, f"a guardian acted for {label}: HTTP {refused.status_code}"


@pytest.mark.req("PDL-5-5-OMBUD", "BR-PROXY-1")
def test_an_ombud_never_reads_the_journal_or_the_access_log(new_person: Callable[..., Person],
                                                           new_api_client: Callable[..., ApiClient]) -> None:
    """Ett ombud läser aldrig barnets journal eller logg, inte ens för ett barn under 13 år."""
    guardian = new_person("guardian")
    as_ombud = new_api_client(guardian, acting_for=guardian.child("under-13"))
    journal = as_ombud.get("/journal")
    assert journal.status_code == 403, f"the journal was opened as ombud: HTTP {journal.status_code}"
    extract = as_ombud.get("/audit-extract")
    assert extract.status_code == 403, f"the access log was opened as ombud: HTTP {extract.status_code}"
