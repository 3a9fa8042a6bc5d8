"""Contract checks of the text and identifier rules the schemas publish: each class of text the system must refuse
is refused, and accepted text comes back trimmed and in NFC. Random fuzzing seldom builds a request whose only fault
is one such character, so each class is asked for here by name (BR-SEC-1, BR-INBOX-1)."""

from __future__ import annotations

import unicodedata

import pytest

from fixtures.api import NewApiClient
from harness.api_client import ApiClient
from harness.identities import Person

pytestmark = pytest.mark.smoke

REFUSED_SUBJECTS = {
    "blank": " \n ",
    "zero-width only": "\u200b\u2060",
    "BEL": "Ring oss\u0007",
    "ESC": "\u001b[31mViktigt",
    "right-to-left override": "Provsvar: \u202elive",
    "isolate": "Dos \u2066100\u2069 mg",
    "noncharacter": "Hej\ufdd0",
}
BLANK = {"blank", "zero-width only"}
FOREIGN_DIGITS = {"Arabic-Indic": 0x660, "full-width": 0xFF10}


@pytest.fixture
def patient_and_staff(new_person, new_staff, new_api_client: NewApiClient) -> tuple[Person, ApiClient, ApiClient]:
    """A patient, and a staff member of the unit the patient has a care relation with (BR-STAFF-1)."""
    person = new_person("adult")
    patient = new_api_client(person)
    unit = patient.get("/inbox/messages").json()["messages"][0]["care_unit"]["id"]
    return person, patient, new_api_client(new_staff(care_unit=unit))


def _send(staff: ApiClient, person: Person, subject: str, body: str = "Hej!") -> int:
    return staff.post("/messages", json={"patient_id": person.id, "subject": subject, "body": body}).status_code


@pytest.mark.req("BR-SEC-1", "BR-INBOX-1")
@pytest.mark.destructive
@pytest.mark.parametrize("kind", sorted(REFUSED_SUBJECTS))
def test_text_against_the_rules_is_refused(patient_and_staff, kind: str) -> None:
    """Fritext som bryter mot textreglerna (tom, styrtecken, riktningstecken) nekas och sparas inte."""
    person, _, staff = patient_and_staff
    text = REFUSED_SUBJECTS[kind]
    assert _send(staff, person, text) == 422, f"a subject with {kind} was accepted"
    if kind in BLANK:
        assert _send(staff, person, "Hej", body=text) == 422, f"a body with {kind} was accepted"
    else:  # a body may hold blank lines, but not these characters anywhere
        assert _send(staff, person, "Hej", body=f"Hej!\n{text}") == 422, f"a body with {kind} was accepted"


@pytest.mark.req("BR-SEC-1", "BR-ID-1")
@pytest.mark.parametrize("digits", sorted(FOREIGN_DIGITS))
def test_personnummer_in_other_digits_is_refused(patient_and_staff, digits: str) -> None:
    """Ett personnummer skrivet med andra siffror än 0–9 nekas."""
    person, _, staff = patient_and_staff
    zero = FOREIGN_DIGITS[digits]
    foreign = "".join(chr(zero + int(c)) if c.isdigit() else c for c in person.personnummer)
    assert staff.post("/patients/lookup", json={"personnummer": person.personnummer}).status_code == 200
    response = staff.post("/patients/lookup", json={"personnummer": foreign})
    assert response.status_code == 422, f"a personnummer in {digits} digits got {response.status_code}"


@pytest.mark.req("BR-INBOX-1")
@pytest.mark.destructive
def test_accepted_text_is_stored_trimmed_and_in_nfc(patient_and_staff) -> None:
    """Godkänd fritext sparas utan inledande och avslutande blanktecken och i Unicode NFC."""
    person, patient, staff = patient_and_staff
    subject = "Återbesök på vårdcentralen"
    response = staff.post("/messages", json={"patient_id": person.id,
                                             "subject": f"  {unicodedata.normalize('NFD', subject)} ",
                                             "body": unicodedata.normalize("NFD", "Välkommen!\n")})
    assert response.status_code == 201, response.text
    message = patient.get(f"/inbox/messages/{response.json()['id']}").json()
    assert (message["subject"], message["body"]) == (subject, "Välkommen!")
