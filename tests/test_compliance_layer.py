"""The compliance layer (suites/compliance) catches each fault of the legal duties by the test that checks it, and
the failure names the requirement. Two runs with faults on: within a run the faults break different tests, so the set
of failed tests shows each one caught (the layer passes clean in every release run, nox -s compliance). The
library's own rules (which operations read patient data, what a notification may carry) are unit-tested below."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import ROOT, assert_each_fault_caught, layer_copy

from harness import compliance, gate, traceability

pytest_plugins = ["pytester"]

MODULES = ("test_audit.py", "test_access.py", "test_rights.py", "test_notifications.py")
DATA = ("patient_data.yaml", "notification_content.yaml")
# fault -> (the test that catches it, a requirement its failure must name); one dict per run
RUNS = [
    {
        "audit-skip-message-read": (
            "test_audit.py::test_every_read_of_patient_data_is_audited_with_actor_subject_role_and_resource",
            "PDL-4-3"),
        "journal-as-ombud": ("test_access.py::test_an_ombud_never_reads_the_journal_or_the_access_log",
                             "PDL-5-5-OMBUD"),
        "export-omits-hidden": (
            "test_rights.py::test_the_export_holds_every_record_of_every_kind_and_nothing_of_anyone_else", "GDPR-15"),
        "erasure-deletes-records": (
            "test_rights.py::test_erasure_removes_the_app_data_and_keeps_the_health_records", "PDL-3-14"),
        "consent-withdrawal-deletes": (
            "test_rights.py::test_a_consent_shows_when_and_to_what_text_and_its_withdrawal_is_kept", "GDPR-7"),
        "email-on-by-default": ("test_rights.py::test_nothing_optional_is_on_by_default", "GDPR-25"),
        "protected-address-leak": (
            "test_rights.py::test_a_protected_identitys_address_never_leaves_the_backend", "OSL-21-3"),
        "push-subject-in-payload": (
            "test_notifications.py::test_no_notification_of_the_run_carries_personal_or_health_data", "BR-NOTIF-3"),
        "delivery-retention-skipped": (
            "test_notifications.py::test_delivery_records_are_deleted_when_their_retention_ends_and_the_message_stays",
            "BR-RETENTION-1"),
    },
    {
        "audit-ombud-as-self": (
            "test_audit.py::test_every_read_of_patient_data_is_audited_with_actor_subject_role_and_resource",
            "BR-AUDIT-1"),
        "audit-extract-hides-staff": (
            "test_audit.py::test_the_log_extract_shows_every_read_recorded_about_the_patient", "PDL-8-5"),
        "erasure-keeps-devices": (
            "test_rights.py::test_erasure_removes_the_app_data_and_keeps_the_health_records", "GDPR-17"),
    },
]


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, caught: dict[str, tuple[str, str]],
         *selection: str) -> None:
    layer_copy(pytester, monkeypatch, "compliance", *MODULES)
    for name in DATA:
        (pytester.path / name).write_text((ROOT / "suites" / "compliance" / name).read_text(encoding="utf-8"),
                                          encoding="utf-8")
    run_dir = pytester.path / "run"
    run_dir.mkdir()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-n", "2", "-rf", "--timeout", "600",
        "--run-dir", str(run_dir), "--sut-faults", ",".join(caught), *selection, timeout=1500)
    assert_each_fault_caught(result.stdout.str(), caught)
    # What a CI system reads: the release gate on this run's evidence turns red naming each fault's requirement.
    traceability.trace_run(run_dir, pdf=False)
    failed = {reason["subject"] for reason in gate.evaluate(run_dir, gate.load_policy()).reasons
              if reason["check"] == "requirements"}
    assert {requirement for _, requirement in caught.values()} <= failed, failed

@pytest.mark.slow
def test_the_compliance_layer_catches_each_fault_and_names_the_requirement(pytester: pytest.Pytester,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _run(pytester, monkeypatch, RUNS[0])


@pytest.mark.slow
def test_the_compliance_layer_catches_the_faults_that_share_a_test(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _run(pytester, monkeypatch, RUNS[1], "test_audit.py",
         "test_rights.py::test_erasure_removes_the_app_data_and_keeps_the_health_records")


# --- the library -----------------------------------------------------------------------------------------------------

DOCUMENT = {
    "paths": {
        "/notes": {"get": {"operationId": "listNotes", "responses": {"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/NoteList"}}}}}}},
        "/notes/{note_id}": {"get": {"operationId": "getNote", "parameters": [
            {"name": "note_id", "in": "path"}, {"name": "X-Acting-For", "in": "header"}],
            "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Note"}}}}}}},
        "/me": {"get": {"operationId": "me", "responses": {"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Me"}}}}}}},
    },
    "components": {"schemas": {
        "NoteList": {"properties": {"notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}}},
        "Note": {"properties": {"text": {"type": "string"}}},
        "Me": {"properties": {"name": {"type": "string"}}},
    }},
}


def test_an_operation_reads_patient_data_when_its_answer_reaches_a_patient_data_schema() -> None:
    data_map = compliance.PatientDataMap(frozenset({"Note"}), frozenset({"NoteList", "Me"}))
    found = {op.operation_id: op for op in compliance.read_operations("mobile", DOCUMENT, data_map)}
    assert set(found) == {"listNotes", "getNote"}  # through an array of a container, and directly
    assert found["getNote"].parameters == ("note_id",) and found["getNote"].acting_for
    assert not found["listNotes"].acting_for
    assert compliance.PatientDataMap(frozenset({"Note"}), frozenset()).unclassified(DOCUMENT) == ["Me", "NoteList"]


def test_the_layers_map_classifies_no_schema_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("patient_data: [Note]\nnot_patient_data: [Note, Me]\n", encoding="utf-8")
    with pytest.raises(compliance.ComplianceDataError, match="classified both ways: Note"):
        compliance.load_patient_data_map(path)
    assert compliance.load_patient_data_map(ROOT / "suites" / "compliance" / "patient_data.yaml").patient_data


def test_a_notification_may_carry_fixed_texts_and_opaque_references_only() -> None:
    policy = compliance.load_content_policy(ROOT / "suites" / "compliance" / "notification_content.yaml")
    clean = {"aps": {"alert": {"title": "1177", "body": "Du har ett nytt meddelande i 1177"}},
             "ref": "0b7e9f3c-1d2a-4c5b-9e8f-7a6b5c4d3e2f", "to": "+46701740650",
             "link": "se.1177.appen://inbox/messages/0b7e9f3c-1d2a-4c5b-9e8f-7a6b5c4d3e2f"}
    assert compliance.content_findings(clean, policy) == []
    leaked = {**clean, "aps": {"alert": {"title": "1177", "body": "Du har ett nytt meddelande i 1177: Provsvar"}}}
    (finding,) = compliance.content_findings(leaked, policy)
    assert finding.startswith("/aps/alert/body: free text")
    with_number = {**clean, "ref": "19121212-1212"}
    assert any("a personnummer" in f for f in compliance.content_findings(with_number, policy))
    named = {**clean, "to": "Tolvan Tolvansson <tolvan@example.invalid>"}  # the address itself is not judged...
    assert compliance.content_findings(named, policy) == []
    assert compliance.content_findings(named, policy, known=["Tolvansson"])  # ...but a known name anywhere is
