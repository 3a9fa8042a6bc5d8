"""Oracles of ownership and minimisation: whose data an API answer holds, judged against the system's own truth.

schemathesis judges status codes, schemas and authentication; it cannot tell whose messages came back. These
oracles can: every id in an answer (any UUID anywhere in the body, and every installation id) is looked up in the
control API (``POST /_sut/owners``), which reads the tables, never the answer. Each record must then be

- the caller's own, or the child's the caller acts for in this request (X-Acting-For) and may act for: an own
  child under 13 on the system's date, counted here, not by the system (BR-PROXY-1, OSL 12 kap. 3 §);
- for staff, a record of a patient with whom the staff member's own unit has a care relation (PDL 4 kap. 1 §);

and nothing may come back that the role may not see: a protected identity's address (OSL 21 kap. 3 §), journal
entries to an ombud (PDL 5 kap. 5 §), a bulk job of another unit. A record the oracle cannot attribute is a
failure ("unknown record"), not a pass. Free of pytest; the API layer runs it on every case it makes.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import httpx

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
ID_KEYS = ("installation_id",)  # ids that are not UUIDs but name a record all the same
OMBUD_AGE = 13  # BR-PROXY-1: a guardian acts for own children under 13

# What the oracle checks for each kind of record, and the requirement each check verifies. A test carries the
# requirements of the kinds its operation's answers hold (OPERATION_KINDS), and no other.
KIND_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "message": ("BR-INBOX-1", "PDL-5-5"),
    "booking": ("PDL-5-5",),
    "journal-entry": ("PDL-5-5", "PDL-5-5-OMBUD"),
    "device": ("BR-NOTIF-1", "GDPR-5-1-c"),
    "consent": ("BR-GDPR-1",),
    "audit-line": ("BR-AUDIT-1", "PDL-8-5"),
    "erasure": ("BR-GDPR-1",),
    "person": ("BR-PROXY-1",),
    "address": ("BR-ID-1", "OSL-21-3"),
    "acted-for": ("BR-PROXY-1", "OSL-12-3"),
    "staff-message": ("BR-STAFF-1", "PDL-4-1"),
    "patient": ("BR-STAFF-1", "PDL-4-1"),
    "bulk-job": ("BR-STAFF-1",),
}
# Every operation of the two documents and the kinds its answers hold, as the API documents them: the oracles'
# declared coverage, and one fuzzing test per operation and mode. An operation with no kinds holds no personal
# records (catalogue, SSO tickets, answers without a body); a test proves the live documents list no other.
OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "mobile": {
        "getProfile": ("person", "address"),
        "listActingFor": ("person",),
        "getServices": (),
        "getStart": ("acted-for",),
        "listMessages": ("message", "acted-for"),
        "getMessage": ("message", "acted-for"),
        "hideMessage": (),
        "markMessageRead": (),
        "listBookings": ("booking", "acted-for"),
        "cancelBooking": ("booking", "acted-for"),
        "getJournal": ("journal-entry", "acted-for"),
        "getVideoMeetings": ("booking",),
        "getNotificationSettings": ("person", "acted-for"),
        "updateNotificationSettings": ("person", "acted-for"),
        "registerDevice": ("device",),
        "unregisterDevice": (),
        "listDevices": ("device",),
        "listConsents": ("consent",),
        "grantConsent": ("consent",),
        "withdrawConsent": (),
        "createSsoTicket": (),
        "logout": (),
        "getAuditExtract": ("audit-line", "message"),
        "exportData": ("message", "booking", "journal-entry", "device", "consent", "audit-line", "person",
                       "address"),
        "requestErasure": ("erasure",),
    },
    "staff": {
        "getStaffProfile": (),
        "lookupPatient": ("patient",),
        "sendMessage": ("staff-message", "patient"),
        "getStaffMessage": ("staff-message", "patient"),
        "createBulkSend": ("bulk-job",),
        "getBulkSend": ("bulk-job",),
    },
}
OPERATION_KINDS: dict[str, tuple[str, ...]] = {op: kinds for ops in OPERATIONS.values() for op, kinds in ops.items()}
EXPORT_OPERATION = "exportData"  # the one answer that rightly names a guardian's children of every age


def requirements_for(operation: str) -> tuple[str, ...]:
    """The requirements the oracles verify on an operation's answers (none for an operation without records)."""
    return tuple(dict.fromkeys(r for kind in OPERATION_KINDS.get(operation, ()) for r in KIND_REQUIREMENTS[kind]))


# --- the truth --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Owned:
    id: str
    kind: str
    owner_id: str | None
    care_unit: str | None


@dataclass(frozen=True)
class PersonFacts:
    id: str
    birth_date: date
    guardians: frozenset[str] = frozenset()
    care_units: frozenset[str] = frozenset()
    protected_identity: bool = False

    def age_on(self, today: date) -> int:
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass
class Truth:
    """What the system holds about a set of ids: whose each is, and the facts of each person named."""

    today: date
    records: dict[str, list[Owned]] = field(default_factory=dict)
    persons: dict[str, PersonFacts] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        records: dict[str, list[Owned]] = defaultdict(list)
        for row in data["records"]:
            records[row["id"]].append(Owned(row["id"], row["kind"], row.get("owner_id"), row.get("care_unit")))
        persons = {p["id"]: PersonFacts(p["id"], date.fromisoformat(p["birth_date"]), frozenset(p["guardians"]),
                                        frozenset(p["care_units"]), bool(p["protected_identity"]))
                   for p in data["persons"]}
        return cls(date.fromisoformat(data["today"]), dict(records), persons)


class TruthSource(Protocol):
    def owners(self, ids: Iterable[str]) -> Truth: ...


class ControlTruth:
    """The truth from the embedded target's control API (``POST /_sut/owners``)."""

    def __init__(self, control_url: str, *, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=control_url, timeout=timeout)

    def owners(self, ids: Iterable[str]) -> Truth:
        response = self.http.post("/owners", json={"ids": sorted(set(ids))})
        response.raise_for_status()
        return Truth.from_json(response.json())

    def close(self) -> None:
        self.http.close()


# --- what an answer holds ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Found:
    """An id in an answer and where: ``$.messages[2].id``."""

    value: str
    path: str
    key: str


def found_ids(body: Any, path: str = "$", key: str = "") -> Iterator[Found]:
    """Every UUID anywhere in the body, and every value of an id key that is not a UUID (installation ids)."""
    if isinstance(body, dict):
        for name, value in body.items():
            yield from found_ids(value, f"{path}.{name}", name)
    elif isinstance(body, list):
        for n, value in enumerate(body):
            yield from found_ids(value, f"{path}[{n}]", key)
    elif isinstance(body, str) and (UUID.match(body) or key in ID_KEYS):
        yield Found(body, path, key)


def _addresses(body: Any, path: str = "$") -> Iterator[str]:
    """Paths of every address given (not null) in the body."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "address" and value not in (None, ""):
                yield f"{path}.address"
            yield from _addresses(value, f"{path}.{name}")
    elif isinstance(body, list):
        for n, value in enumerate(body):
            yield from _addresses(value, f"{path}[{n}]")


def _audit_lines(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """The log extract's lines (``entries`` of /audit-extract, ``access_log`` of the export), with their paths."""
    if not isinstance(body, dict):
        return []
    lines = []
    for key in ("entries", "access_log"):
        rows = body.get(key)
        if isinstance(rows, list):
            lines += [(f"$.{key}[{n}]", row) for n, row in enumerate(rows)
                      if isinstance(row, dict) and "actor_kind" in row]
    return lines


# --- judging ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """Who asked: a person (by id) or a staff member (by id, scoped to a care unit)."""

    id: str
    staff: bool = False
    care_unit: str | None = None


@dataclass(frozen=True)
class Answer:
    """One request and its answer, as the oracle needs them."""

    operation: str
    status: int
    body: Any
    acting_for: str | None = None  # the X-Acting-For the request sent

    @classmethod
    def from_response(cls, operation: str, response: httpx.Response) -> Answer:
        try:
            body = response.json() if "json" in response.headers.get("content-type", "") else None
        except ValueError:
            body = None
        return cls(operation, response.status_code, body, response.request.headers.get("x-acting-for"))


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    judged: Counter[str] = field(default_factory=Counter)  # kind -> records judged

    @property
    def ok(self) -> bool:
        return not self.problems

    def requirements(self) -> tuple[str, ...]:
        """The requirements the problems break: those of the kinds named in them."""
        kinds = [k for k in KIND_REQUIREMENTS if any(f"[{k}]" in p for p in self.problems)]
        return tuple(dict.fromkeys(r for k in kinds for r in KIND_REQUIREMENTS[k]))


def judge(caller: Caller, answer: Answer, truth: TruthSource) -> Verdict:
    """Every record in a 2xx answer belongs where it may, and nothing comes back that the role may not see."""
    verdict = Verdict()
    if not 200 <= answer.status < 300 or answer.body is None:
        return verdict
    found = list(found_ids(answer.body))
    subject = answer.acting_for if (answer.acting_for and not caller.staff) else caller.id
    facts = truth.owners({f.value for f in found} | {caller.id, subject})
    problem = verdict.problems.append
    if caller.staff:
        _judge_staff(caller, answer, found, facts, verdict)
        return verdict
    me = facts.persons.get(caller.id)
    if answer.acting_for:
        child = facts.persons.get(subject)
        verdict.judged["acted-for"] += 1
        if child is None or caller.id not in child.guardians or child.age_on(facts.today) >= OMBUD_AGE:
            problem(f"[acted-for] answered 2xx as ombud for {subject[:8]}..., whom the caller may not act for "
                    "(not an own child under 13)")
    if me is not None and me.protected_identity:
        for where in _addresses(answer.body):
            verdict.judged["address"] += 1
            problem(f"[address] {where}: the address of a person with protected identity left the system")
    elif me is not None:
        verdict.judged["address"] += sum(1 for _ in _addresses(answer.body))
    for item in found:
        rows = facts.records.get(item.value, [])
        if not rows:
            problem(f"[unknown] {item.path}: unknown record {item.value[:8]}...: the system holds nothing by that id")
            continue
        kind = _kind(item, rows)
        verdict.judged[kind] += 1
        if any(_person_may_see(caller, subject, answer, row, facts) for row in rows):
            continue
        owner = rows[0].owner_id or "?"
        problem(f"[{kind}] {item.path}: {rows[0].kind} {item.value[:8]}... belongs to {owner[:8]}..., not to "
                f"{'the child acted for' if subject != caller.id else 'the caller'}")
    for where, line in _audit_lines(answer.body):
        if line.get("resource_id"):
            continue  # judged above, by the record it names
        verdict.judged["audit-line"] += 1
        unit = (line.get("care_unit") or {}).get("id")
        whose = facts.persons.get(subject)
        if unit is not None and (whose is None or unit not in whose.care_units):
            problem(f"[audit-line] {where}: a line from care unit {unit}, which has no care relation with the "
                    "caller: another patient's access")
    if answer.acting_for and answer.operation == "getJournal" and verdict.judged["journal-entry"]:
        problem("[journal-entry] $.entries: journal entries were shown to an ombud (never as ombud)")
    return verdict


def _kind(item: Found, rows: list[Owned]) -> str:
    """The kind a record is counted under: a log line's record is an audit line."""
    if item.key == "resource_id":
        return "audit-line"
    kinds = {row.kind for row in rows}
    return next(iter(kinds)) if len(kinds) == 1 else "device" if "device" in kinds else sorted(kinds)[0]


def _person_may_see(caller: Caller, subject: str, answer: Answer, row: Owned, facts: Truth) -> bool:
    if row.kind == "person":
        if row.id in (caller.id, subject):
            return True
        # Anyone else named must be an own child the caller may act for (under 13: the acting-for list, the start
        # screen's counts); only the export names the children of every age, as the guardian's own data.
        child = facts.persons.get(row.id)
        own_child = child is not None and caller.id in child.guardians
        return own_child and (answer.operation == EXPORT_OPERATION or child.age_on(facts.today) < OMBUD_AGE)
    if row.kind in ("staff", "bulk-job"):
        return False
    return row.owner_id == subject


def _judge_staff(caller: Caller, answer: Answer, found: list[Found], facts: Truth, verdict: Verdict) -> None:
    """Staff see only their own unit's patients (PDL 4 kap. 1 §) and their own unit's bulk jobs."""
    for item in found:
        rows = facts.records.get(item.value, [])
        if not rows:
            verdict.problems.append(f"[unknown] {item.path}: unknown record {item.value[:8]}...: the system holds "
                                    "nothing by that id")
            continue
        row = rows[0]
        if row.kind == "staff":
            verdict.judged["staff"] += 1
            if row.id != caller.id:
                verdict.problems.append(f"[patient] {item.path}: another staff member's id")
            continue
        if row.kind == "bulk-job":
            verdict.judged["bulk-job"] += 1
            if row.care_unit != caller.care_unit:
                verdict.problems.append(f"[bulk-job] {item.path}: a bulk send of another care unit")
            continue
        kind = "patient" if row.kind == "person" else "staff-message" if row.kind == "message" else row.kind
        verdict.judged[kind] += 1
        patient = facts.persons.get(row.owner_id or "")
        if patient is None or caller.care_unit not in patient.care_units:
            verdict.problems.append(
                f"[{kind}] {item.path}: {row.kind} {item.value[:8]}... of a patient with whom the staff member's "
                f"unit ({caller.care_unit}) has no care relation")


# --- coverage ---------------------------------------------------------------------------------------------------

@dataclass
class Coverage:
    """Operations x record kinds the oracles judged, with how many records of each."""

    cells: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    answers: Counter[str] = field(default_factory=Counter)

    def add(self, operation: str, verdict: Verdict) -> None:
        self.answers[operation] += 1
        self.cells[operation].update(verdict.judged)

    def merge(self, data: dict[str, Any]) -> None:
        for operation, kinds in data.get("cells", {}).items():
            self.cells[operation].update(kinds)
        self.answers.update(data.get("answers", {}))

    def as_json(self) -> dict[str, Any]:
        return {"cells": {op: dict(kinds) for op, kinds in self.cells.items()}, "answers": dict(self.answers)}

    def table(self) -> str:
        """A Markdown table: each operation, its answers judged, and the records of each kind judged."""
        operations = sorted(set(self.answers) | set(self.cells) | set(OPERATION_KINDS))
        kinds = [k for k in KIND_REQUIREMENTS if any(self.cells[op][k] for op in operations)
                 or any(k in OPERATION_KINDS.get(op, ()) for op in operations)]
        head = "| operation | answers | " + " | ".join(kinds) + " |"
        rows = [head, "| --- | ---: | " + " | ".join("---:" for _ in kinds) + " |"]
        for op in operations:
            declared = OPERATION_KINDS.get(op, ())
            cells = [str(self.cells[op][k]) if self.cells[op][k] else ("0" if k in declared else "") for k in kinds]
            rows.append(f"| {op} | {self.answers[op]} | " + " | ".join(cells) + " |")
        return "\n".join(rows) + "\n"
