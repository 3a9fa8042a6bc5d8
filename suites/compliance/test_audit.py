"""Every read of patient data leaves an audit record that says who read what on whose behalf, and the patient's log
extract shows every record about them (BR-AUDIT-1, PdL 4 kap. 3 § and 8 kap. 5 §, HSLF-FS 2016:40 4 kap. 9-10 §§).

The reads are found in the OpenAPI documents, not listed by hand: every GET operation whose answer reaches a
schema the map (patient_data.yaml) marks as patient data is called as the patient, as a guardian acting for a child
where the operation declares X-Acting-For, and as care staff on the staff API; each call must add a record to the
stored log with the caller as actor, the patient as subject, the caller's role and what was read. A new operation
is checked the day it appears, and a new schema fails the run until it is classified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import allure
import pytest

from harness import compliance
from harness.api_client import ApiClient
from harness.identities import Person, StaffMember

pytestmark = pytest.mark.destructive  # seeds persons and reads their records

# Journalen and the log are never open to an ombud (BR-PROXY-1, PDL 5 kap. 5 §): test_access.py checks the refusal.
NEVER_AS_OMBUD = {"getJournal", "getAuditExtract"}
RECORD_KIND = {"message_id": "messages", "booking_id": "bookings"}


def _path(op: compliance.ReadOperation, whose: Person) -> tuple[str, str | None]:
    """The operation's path with its ids filled from the patient's own seeded records, and the id read."""
    path, resource = op.path, None
    for name in op.parameters:
        kind = RECORD_KIND.get(name)
        if kind is None or not whose.records.get(kind):
            pytest.fail(f"{op.label}: no seeded record fills the path parameter {name!r}; teach test_audit.py how",
                        pytrace=False)
        resource = whose.records[kind][0]["id"]
        path = path.replace("{" + name + "}", resource)
    return path, resource


@pytest.mark.smoke
@pytest.mark.req("BR-AUDIT-1", "PDL-4-3", "HSLF-FS-2016-40-4-9")
def test_every_read_of_patient_data_is_audited_with_actor_subject_role_and_resource(
        documents: dict[str, dict[str, Any]], patient_data_map: compliance.PatientDataMap,
        new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
        new_api_client: Callable[..., ApiClient], audit_log: compliance.AuditLog) -> None:
    """Varje läsning av patientdata i API:erna loggas med vem som läste vad, om vem och i vilken roll."""
    unclassified = {api: patient_data_map.unclassified(doc) for api, doc in documents.items()}
    assert not any(unclassified.values()), (
        f"schemas not classified in suites/compliance/{patient_data_map.file}: {unclassified}")
    operations = [op for api, doc in documents.items()
                  for op in compliance.read_operations(api, doc, patient_data_map)]
    assert {op.api for op in operations} == {"mobile", "staff"}, "no read of patient data found in a document"
    guardian = new_person("guardian")
    child = guardian.child("under-13")
    staff = new_staff(for_patient=guardian)
    callers = {"self": new_api_client(guardian), "ombud": new_api_client(guardian, acting_for=child),
               "staff": new_api_client(staff)}
    missing, rows = [], []
    for op in operations:
        roles = ["staff"] if op.api == "staff" else ["self"] + (
            ["ombud"] if op.acting_for and op.operation_id not in NEVER_AS_OMBUD else [])
        for role in roles:
            whose = child if role == "ombud" else guardian
            actor = staff.id if role == "staff" else guardian.id
            path, resource = _path(op, whose)
            before = audit_log.last_seq()
            response = callers[role].request(op.method.upper(), path)
            if response.status_code != 200:
                missing.append(f"{op.label} as {role}: HTTP {response.status_code}, no read to judge")
                continue
            records = [r for r in audit_log.records(subject_id=whose.id, after_seq=before) if r.actor_id == actor]
            good = [r for r in records if r.role == role and r.action and r.resource_type
                    and (resource is None or r.resource_id == resource)]
            rows.append(f"| {op.label} | {role} | {len(records)} | {good[0].describe() if good else '-'} |")
            if not good:
                found = "; ".join(r.describe() for r in records) or "none"
                missing.append(f"{op.label} as {role}: no audit record with actor, subject, role {role!r} and the "
                               f"resource read (records by the caller about the patient: {found})")
    allure.attach("| operation | role | records | first good record |\n| --- | --- | --- | --- |\n" + "\n".join(rows),
                  name="Audit records per read operation.md", attachment_type=allure.attachment_type.TEXT)
    assert not missing, "reads of patient data without a complete audit record:\n" + "\n".join(missing)


@pytest.mark.req("BR-AUDIT-1", "PDL-8-5", "HSLF-FS-2016-40-4-10")
def test_the_log_extract_shows_every_read_recorded_about_the_patient(
        new_person: Callable[..., Person], new_staff: Callable[..., StaffMember],
        new_api_client: Callable[..., ApiClient], audit_log: compliance.AuditLog) -> None:
    """Loggutdraget visar varje registrerad läsning av patientens uppgifter, med vårdenhet, roll och tid."""
    patient = new_person("adult", audit_lines=3)
    app = new_api_client(patient)
    staff = new_api_client(new_staff(for_patient=patient))
    message_id = patient.records["messages"][0]["id"]
    assert app.get(f"/inbox/messages/{message_id}").status_code == 200
    assert app.get("/bookings").status_code == 200
    assert staff.get(f"/messages/{message_id}").status_code == 200
    stored = audit_log.records(subject_id=patient.id)
    extract = app.get("/audit-extract")
    assert extract.status_code == 200, extract.text
    entries = extract.json()["entries"]

    def key(action: str, resource_id: str | None, role: str, unit: str | None) -> tuple[Any, ...]:
        return action, resource_id, role, unit

    expected = Counter(key(r.action, r.resource_id, r.role, r.care_unit_id) for r in stored)
    shown = Counter(key(e["action"], e["resource_id"], e["role"], (e.get("care_unit") or {}).get("id"))
                    for e in entries)
    assert {r.role for r in stored} >= {"self", "staff"}, "the test's reads were not all stored"
    hidden, foreign = expected - shown, shown - expected
    assert not hidden, f"{sum(hidden.values())} stored read(s) missing from the extract: {sorted(hidden)}"
    assert not foreign, (f"{sum(foreign.values())} extract line(s) not about this patient's stored reads: "
                         f"{sorted(foreign)}")
    for entry in entries:
        assert entry["at"] and entry["actor_name"], f"an extract line without time or reader: {entry}"
        if entry["actor_kind"] == "staff":
            assert entry["care_unit"] and entry["care_unit"]["name"], f"a staff read without its care unit: {entry}"
