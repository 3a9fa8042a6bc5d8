"""The oracles of ownership and minimisation (harness/oracles.py): whose data an answer holds, judged against the
system's truth, never against the answer; a record the oracle cannot attribute fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

import pytest

from harness import oracles
from harness.oracles import Answer, Caller, Owned, PersonFacts, Truth

TODAY = date(2026, 3, 2)
GUARDIAN, CHILD, TEEN, OTHER = (str(uuid.uuid4()) for _ in range(4))
UNIT, OTHER_UNIT = "SE232100018-0001", "SE232100018-0002"
STAFF_ID = str(uuid.uuid4())
MINE, CHILDS, TEENS, OTHERS = (str(uuid.uuid4()) for _ in range(4))
JOURNAL_OF_CHILD, JOB = str(uuid.uuid4()), str(uuid.uuid4())


class FakeTruth:
    """A system of four persons: a guardian, their child under 13 and of 15, and another patient."""

    def __init__(self, protected: bool = False) -> None:
        self.persons = {
            GUARDIAN: PersonFacts(GUARDIAN, date(1980, 1, 1), care_units=frozenset({UNIT}),
                                  protected_identity=protected),
            CHILD: PersonFacts(CHILD, date(2018, 5, 5), frozenset({GUARDIAN}), frozenset({OTHER_UNIT})),
            TEEN: PersonFacts(TEEN, date(2010, 11, 28), frozenset({GUARDIAN}), frozenset({OTHER_UNIT})),
            OTHER: PersonFacts(OTHER, date(1970, 1, 1), care_units=frozenset({UNIT})),
        }
        self.records = {
            MINE: [Owned(MINE, "message", GUARDIAN, UNIT)], CHILDS: [Owned(CHILDS, "booking", CHILD, OTHER_UNIT)],
            TEENS: [Owned(TEENS, "message", TEEN, OTHER_UNIT)], OTHERS: [Owned(OTHERS, "message", OTHER, UNIT)],
            JOURNAL_OF_CHILD: [Owned(JOURNAL_OF_CHILD, "journal-entry", CHILD, OTHER_UNIT)],
            JOB: [Owned(JOB, "bulk-job", STAFF_ID, UNIT)], STAFF_ID: [Owned(STAFF_ID, "staff", STAFF_ID, UNIT)],
            "inst-mine-0001": [Owned("inst-mine-0001", "device", GUARDIAN, None)],
            **{p: [Owned(p, "person", p, None)] for p in self.persons},
        }
        self.asked: list[set[str]] = []

    def owners(self, ids: Iterable[str]) -> Truth:
        wanted = set(ids)
        self.asked.append(wanted)
        records = {i: rows for i, rows in self.records.items() if i in wanted}
        named = {row.owner_id for rows in records.values() for row in rows} | (wanted & set(self.persons))
        return Truth(TODAY, records, {p: f for p, f in self.persons.items() if p in named})


GUARDIAN_CALLS = Caller(GUARDIAN)
STAFF_CALLS = Caller(STAFF_ID, staff=True, care_unit=UNIT)


def judge(body: object, *, operation: str = "listMessages", acting_for: str | None = None,
          caller: Caller = GUARDIAN_CALLS, status: int = 200, truth: FakeTruth | None = None) -> oracles.Verdict:
    return oracles.judge(caller, Answer(operation, status, body, acting_for), truth or FakeTruth())


def test_own_records_pass_and_are_counted() -> None:
    verdict = judge({"messages": [{"id": MINE, "care_unit": {"id": UNIT, "name": "VC"}}]})
    assert verdict.ok, verdict.problems
    assert verdict.judged["message"] == 1


def test_another_patients_record_fails_naming_where_it_is() -> None:
    verdict = judge({"messages": [{"id": MINE}, {"id": OTHERS}]})
    assert not verdict.ok
    assert "$.messages[1].id" in verdict.problems[0] and "[message]" in verdict.problems[0]
    assert set(verdict.requirements()) == {"BR-INBOX-1", "PDL-5-5"}


def test_a_record_nobody_owns_is_unknown_not_a_pass() -> None:
    verdict = judge({"bookings": [{"id": str(uuid.uuid4())}]}, operation="listBookings")
    assert len(verdict.problems) == 1 and "unknown record" in verdict.problems[0]


def test_acting_for_a_child_under_13_sees_only_the_childs_records() -> None:
    assert judge({"bookings": [{"id": CHILDS}]}, operation="listBookings", acting_for=CHILD).ok
    # The guardian's own record while acting for the child: the list ignored X-Acting-For.
    verdict = judge({"bookings": [{"id": MINE}]}, operation="listBookings", acting_for=CHILD)
    assert not verdict.ok and "not to the child acted for" in verdict.problems[0]


def test_acting_for_a_teen_is_refused_by_the_oracle_whatever_the_records() -> None:
    verdict = judge({"messages": [{"id": TEENS}]}, acting_for=TEEN)
    assert any("[acted-for]" in p for p in verdict.problems)
    assert "OSL-12-3" in verdict.requirements()


def test_journal_entries_to_an_ombud_fail_even_when_they_are_the_childs() -> None:
    verdict = judge({"entries": [{"id": JOURNAL_OF_CHILD}]}, operation="getJournal", acting_for=CHILD)
    assert [p for p in verdict.problems if "ombud" in p]
    assert "PDL-5-5-OMBUD" in verdict.requirements()


def test_acting_for_lists_name_only_own_children_under_13() -> None:
    assert judge({"persons": [{"id": CHILD}]}, operation="listActingFor").ok
    assert not judge({"persons": [{"id": CHILD}, {"id": TEEN}]}, operation="listActingFor").ok
    assert not judge({"persons": [{"id": OTHER}]}, operation="listActingFor").ok
    # The export is the guardian's own data: it names children of every age.
    assert judge({"children": [{"id": CHILD}, {"id": TEEN}]}, operation="exportData").ok


def test_a_protected_identitys_address_never_leaves() -> None:
    assert judge({"id": GUARDIAN, "address": None}, operation="getProfile", truth=FakeTruth(protected=True)).ok
    verdict = judge({"person": {"id": GUARDIAN, "address": "Storgatan 1"}}, operation="exportData",
                    truth=FakeTruth(protected=True))
    assert verdict.problems == ["[address] $.person.address: the address of a person with protected identity left "
                                "the system"]
    assert judge({"id": GUARDIAN, "address": "Storgatan 1"}, operation="getProfile").ok


def test_audit_lines_are_judged_by_the_record_they_name_and_else_by_care_unit() -> None:
    line = {"actor_kind": "staff", "actor_name": "X", "role": "staff", "action": "message.read",
            "resource_type": "message"}
    assert judge({"entries": [{**line, "resource_id": MINE, "care_unit": {"id": UNIT}}]},
                 operation="getAuditExtract").ok
    verdict = judge({"entries": [{**line, "resource_id": OTHERS, "care_unit": {"id": UNIT}}]},
                    operation="getAuditExtract")
    assert not verdict.ok and verdict.judged["audit-line"] == 1
    foreign_unit = {**line, "resource_id": None, "care_unit": {"id": "SE232100001-0001"}}
    assert not judge({"entries": [foreign_unit]}, operation="getAuditExtract").ok


def test_devices_are_judged_by_installation_id() -> None:
    assert judge({"devices": [{"installation_id": "inst-mine-0001"}]}, operation="listDevices").ok
    assert not judge({"devices": [{"installation_id": "inst-someone-else"}]}, operation="listDevices").ok


def test_staff_see_only_patients_of_their_own_unit() -> None:
    assert judge({"id": OTHERS, "patient_id": OTHER}, caller=STAFF_CALLS, operation="getStaffMessage").ok
    verdict = judge({"id": TEENS, "patient_id": TEEN}, caller=STAFF_CALLS, operation="getStaffMessage")
    assert len(verdict.problems) == 2 and {"BR-STAFF-1", "PDL-4-1"} == set(verdict.requirements())
    assert judge({"id": JOB}, caller=STAFF_CALLS, operation="getBulkSend").ok
    assert not judge({"id": JOB}, caller=Caller(STAFF_ID, staff=True, care_unit=OTHER_UNIT),
                     operation="getBulkSend").ok


@pytest.mark.parametrize("status", [204, 403, 404, 500])
def test_only_successful_answers_with_a_body_are_judged(status: int) -> None:
    truth = FakeTruth()
    assert judge({"messages": [{"id": OTHERS}]} if status != 204 else None, status=status, truth=truth).ok
    assert truth.asked == []


def test_tags_follow_from_the_kinds_an_operation_returns() -> None:
    assert oracles.requirements_for("getServices") == ()
    assert set(oracles.requirements_for("listDevices")) == {"BR-NOTIF-1", "GDPR-5-1-c"}
    assert "PDL-5-5-OMBUD" in oracles.requirements_for("getJournal")
    assert set(oracles.requirements_for("getStaffMessage")) == {"BR-STAFF-1", "PDL-4-1"}


def test_coverage_table_counts_records_per_operation_and_kind() -> None:
    coverage = oracles.Coverage()
    coverage.add("listMessages", judge({"messages": [{"id": MINE}]}))
    other = oracles.Coverage()
    other.merge(coverage.as_json())
    other.merge(coverage.as_json())
    table = other.table()
    assert "| listMessages | 2 |" in table
    row = next(line for line in table.splitlines() if line.startswith("| listMessages "))
    assert row.split("|")[3].strip() == "2"  # two messages judged, under the first kind column (message)


def test_the_control_api_says_whose_each_record_is(sut, http) -> None:
    """POST /_sut/owners reads the tables: each seeded record names its person, unknown ids are left out."""
    guardian = http.post("/_sut/persons", json={"role": "guardian", "records": {"devices": 1, "consents": 1}}).json()
    child = guardian["children"][0]
    ids = [guardian["records"]["messages"][0]["id"], child["records"]["bookings"][0]["id"],
           guardian["records"]["devices"][0]["installation_id"], guardian["records"]["consents"][0]["id"],
           child["id"], str(uuid.uuid4())]
    truth = oracles.ControlTruth(sut.urls["control"])
    try:
        found = truth.owners(ids)
    finally:
        truth.close()
    owners = {i: [(row.kind, row.owner_id) for row in rows] for i, rows in found.records.items()}
    assert owners == {ids[0]: [("message", guardian["id"])], ids[1]: [("booking", child["id"])],
                      ids[2]: [("device", guardian["id"])], ids[3]: [("consent", guardian["id"])],
                      ids[4]: [("person", child["id"])]}
    assert guardian["id"] in found.persons[child["id"]].guardians
    assert found.persons[child["id"]].care_units and found.today
