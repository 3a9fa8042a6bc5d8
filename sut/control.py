"""The test-only control API under /_sut: seed persons and their records, change them, choose staff, move and
stop the clock, reset, list and switch faults.

It is mounted only in test mode; outside it every /_sut path answers 404 (a test proves it). Its OpenAPI document
is /_sut/openapi.json, rendered in the API reference: every seeding answer names the ids a test needs and whose
each record is, so an oracle can tell own data from another's.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, clock, faults, problems
from .context import Context
from .db import (
    AuditRecord,
    Booking,
    BulkJob,
    CareRelation,
    CareUnit,
    Consent,
    Device,
    ErasureRecord,
    Guardianship,
    JournalEntry,
    Message,
    Person,
    Staff,
)
from .persons import running_listing
from .push.control import create_push_control
from .seed import CHANGES, ROLES, RecordCounts, SeedError, change_person, new_person, person_view, relate, staff_for

MAX_RECORDS = 500  # of each kind per person: twenty pages of the log extract's 25, in about ten seconds
REGION_CODE = Field(pattern=r"^\d{2}$", description="A county code, e.g. 01 for Region Stockholm")
PersonId = Annotated[str, Path(min_length=36, max_length=36, description="The person's id")]
TAGS = [
    {"name": "persons", "description": "Fresh test persons with their records, changed after seeding as the "
                                       "population register would change them."},
    {"name": "staff", "description": "Care staff, chosen by how their care unit stands to a patient."},
    {"name": "clock", "description": "The system's clock: it only moves forward, and it can be stopped so that a "
                                     "time boundary is hit exactly. It is one clock for the whole system."},
    {"name": "faults", "description": "The fault catalogue and the faults switched on."},
    {"name": "system", "description": "Reset and checks of the whole system."},
    {"name": "owners", "description": "Whose each record is: the truth an oracle of ownership judges answers by."},
]
MAX_OWNER_IDS = 2000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Records(Strict):
    """How many records of each kind each seeded person gets (a guardian's children too)."""

    messages: int = Field(3, ge=0, le=MAX_RECORDS)
    bookings: int = Field(2, ge=0, le=MAX_RECORDS)
    journal_entries: int = Field(2, ge=0, le=MAX_RECORDS)
    audit_lines: int = Field(0, ge=0, le=MAX_RECORDS, description="Reads of the person's messages by their care "
                                                                  "unit's staff, in the log extract (needs a message)")
    devices: int = Field(0, ge=0, le=MAX_RECORDS)
    consents: int = Field(0, ge=0, le=MAX_RECORDS, description="Push consents, each superseding the one before")


class SeedRequest(Strict):
    role: Literal[ROLES]  # type: ignore[valid-type]
    region: str | None = Field(None, pattern=r"^\d{2}$", description="The person's region (default: drawn, joined "
                                                                     "or not as the role says)")
    birth_date: date | None = Field(None, description="The person's birth date (default: drawn)")
    children: list[date] | None = Field(
        None, max_length=5, description="A guardian's children by birth date, each at most 17 on the system's date "
                                        "(GET /clock: today); default one under 13 and one of 13 to 17")
    records: Records = Field(default_factory=Records)
    care_unit: str | None = Field(
        None, max_length=40, pattern=r"^(new|SE\d{9}-\d{4})$",
        description="The person's own care unit (default: the region's unit of the kind that fits their age): an "
                    "existing unit's HSA id in the person's region, or \"new\" for a unit of its own with one staff "
                    "member, which no other seeded person shares (a bulk send to all its patients reaches no one "
                    "else's). A guardian's children keep the units that fit their ages.")

    @model_validator(mode="after")
    def _children_for_guardians(self) -> SeedRequest:
        if self.children is not None and self.role != "guardian":
            raise ValueError("only a guardian has children")
        return self


class RecordRef(BaseModel):
    id: str
    care_unit: str = Field(description="The care unit the record comes from")


class DeviceRef(BaseModel):
    id: str
    installation_id: str
    platform: Literal["ios", "android"]


class ConsentRef(BaseModel):
    id: str
    active: bool


class AuditLineRef(BaseModel):
    actor_id: str = Field(description="The staff member who read")
    action: str
    resource_id: str
    care_unit: str


class OwnedRecords(BaseModel):
    """A person's seeded records: each is this person's and no one else's."""

    messages: list[RecordRef] = []
    bookings: list[RecordRef] = []
    journal_entries: list[RecordRef] = []
    devices: list[DeviceRef] = []
    consents: list[ConsentRef] = []
    audit_lines: list[AuditLineRef] = []


class PersonView(BaseModel):
    id: str
    personnummer: str = Field(description="A Skatteverket test number (birth number 980-999)")
    role: str
    given_name: str
    family_name: str
    birth_date: date
    region: str
    deceased: bool
    protected_identity: bool


class SeededChild(PersonView):
    records: OwnedRecords


class SeededPerson(PersonView):
    today: date = Field(description="The system's date when seeded (ages count from it)")
    care_unit: str = Field(description="The person's own care unit (HSA id), where their records come from")
    records: OwnedRecords
    children: list[SeededChild]


class RelationRequest(Strict):
    region: str | None = Field(None, pattern=r"^\d{2}$", description="A region: its unit of the kind that fits the "
                                                                     "person's age")
    care_unit: str | None = Field(None, max_length=40, description="Or the care unit's HSA id")
    messages: int = Field(1, ge=0, le=MAX_RECORDS, description="Messages from the unit")

    @model_validator(mode="after")
    def _one_of(self) -> RelationRequest:
        if (self.region is None) == (self.care_unit is None):
            raise ValueError("give either region or care_unit")
        return self


class Relation(BaseModel):
    patient_id: str
    care_unit: str
    region: str
    messages: list[RecordRef]


class StaffView(BaseModel):
    id: str
    hsa_id: str
    name: str
    care_unit: str
    region: str | None = None
    related: bool | None = Field(None, description="Whether the unit has a care relation with the patient")


class StaffChoice(BaseModel):
    """Staff by how their care unit stands to the patient; null where the seed has no such unit."""

    patient_id: str
    own_unit: StaffView | None = Field(description="Of a unit with a care relation, in the patient's region")
    same_region_other_unit: StaffView | None = Field(description="Of a unit without one, in the patient's region")
    other_region_unit: StaffView | None = Field(description="Of a unit in a region where no unit has a relation")
    related_other_region: list[StaffView] = Field(description="Of units in other regions with a care relation")


class ChangeRequest(Strict):
    change: Literal[CHANGES] = Field(  # type: ignore[valid-type]
        description="deceased, moved, protected-identity or samordningsnummer")
    region: str | None = Field(None, pattern=r"^\d{2}$", description="moved: to this region")
    joined: bool | None = Field(None, description="moved: to some other region that has joined (true, the default) "
                                                  "or not (false)")

    @model_validator(mode="after")
    def _moves_only(self) -> ChangeRequest:
        if self.change != "moved" and (self.region is not None or self.joined is not None):
            raise ValueError("region and joined go with the change 'moved' only")
        return self


class ClockState(BaseModel):
    now: datetime = Field(description="The system's time (UTC)")
    today: date = Field(description="The date in Sweden, which age rules count from")
    frozen: bool
    offset_seconds: float = Field(description="How far the clock is ahead of the real time")


class ClockAdvance(Strict):
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class ClockSetting(Strict):
    frozen: bool = Field(description="true stops the clock (at `at`, or now); false lets it run on from there")
    at: datetime | None = Field(None, description="Where to stop it: now or later, never earlier")


class FaultsRequest(Strict):
    active: list[str]


class FaultView(BaseModel):
    name: str
    component: str
    description: str
    breaks: list[str]


class FaultList(BaseModel):
    active: list[str]
    catalogue: list[FaultView]


class ActiveFaults(BaseModel):
    active: list[str]


class ListedPerson(BaseModel):
    role: str
    name: str
    personnummer: str
    birth_date: str
    region: str
    description: str
    can_log_in: bool
    guardian: str | None
    written: str = Field(description="The number as typed on the login page (ÅÅÅÅMMDD-NNNN)")


class AuditChain(BaseModel):
    intact: bool
    first_broken_seq: int | None


class OwnersRequest(Strict):
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_OWNER_IDS, description="Record, person and staff ids, and installation ids")


class Owned(BaseModel):
    id: str = Field(description="The id asked for")
    kind: Literal["message", "booking", "journal-entry", "device", "consent", "erasure", "bulk-job", "person",
                  "staff"]
    owner_id: str | None = Field(description="Whose it is: the patient (a person is their own), or for a bulk "
                                             "job the staff member who sent it")
    care_unit: str | None = Field(description="The care unit it comes from, or a staff member's unit")


class PersonFacts(BaseModel):
    id: str
    birth_date: date
    guardians: list[str] = Field(description="Ids of the person's guardians")
    care_units: list[str] = Field(description="Units with a care relation with the person")
    protected_identity: bool
    deceased: bool


class AuditRecordView(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    subject_id: str = Field(description="Whose data was read")
    role: str = Field(description="self, ombud or staff")
    action: str
    resource_type: str
    resource_id: str | None
    care_unit_id: str | None


class AuditRecords(BaseModel):
    records: list[AuditRecordView]
    last_seq: int = Field(description="The newest record of the whole log (0 when it is empty): a later call's "
                                      "after_seq")


class Remint(Strict):
    token: str = Field(max_length=4000, description="An access token the system issued (its signature is checked)")
    set: dict[str, str | int] = Field(default_factory=dict, description="Claims to replace, e.g. {\"aud\": \"x\"}")
    shift: dict[Literal["exp", "nbf", "iat"], int] = Field(
        default_factory=dict, description="Seconds to add to time claims, e.g. {\"nbf\": 3600}")
    drop: list[str] = Field(default_factory=list, description="Claims to leave out")


class Reminted(BaseModel):
    token: str


class CrashNext(Strict):
    path: str = Field(pattern=r"^/", max_length=200, description="The next request to this path raises inside the "
                                                                  "app, as an unexpected defect would")


class Owners(BaseModel):
    """Every id that names something, with its owner (an id may name several things, such as an installation id
    two persons chose); ids that name nothing are left out. ``persons`` has the facts of every person named."""

    today: date = Field(description="The system's date in Sweden, which age rules count from")
    records: list[Owned]
    persons: list[PersonFacts]


def _owners(db: Session, ids: list[str]) -> dict:
    """Whose each id is, read from the tables themselves, never from what an API answered."""
    wanted = set(ids)
    found: list[dict] = []
    for model, kind, owner in ((Message, "message", Message.patient_id), (Booking, "booking", Booking.patient_id),
                               (JournalEntry, "journal-entry", JournalEntry.patient_id)):
        for row in db.scalars(select(model).where(model.id.in_(wanted))):
            found.append({"id": row.id, "kind": kind, "owner_id": getattr(row, owner.key),
                          "care_unit": row.care_unit_id})
    for device in db.scalars(select(Device).where(Device.installation_id.in_(wanted))):
        found.append({"id": device.installation_id, "kind": "device", "owner_id": device.person_id,
                      "care_unit": None})
    for consent in db.scalars(select(Consent).where(Consent.id.in_(wanted))):
        found.append({"id": consent.id, "kind": "consent", "owner_id": consent.person_id, "care_unit": None})
    for erasure in db.scalars(select(ErasureRecord).where(ErasureRecord.id.in_(wanted))):
        found.append({"id": erasure.id, "kind": "erasure", "owner_id": erasure.person_id, "care_unit": None})
    for job in db.scalars(select(BulkJob).where(BulkJob.id.in_(wanted))):
        found.append({"id": job.id, "kind": "bulk-job", "owner_id": job.staff_id, "care_unit": job.care_unit_id})
    for staff in db.scalars(select(Staff).where(Staff.id.in_(wanted))):
        found.append({"id": staff.id, "kind": "staff", "owner_id": staff.id, "care_unit": staff.care_unit_id})
    for person in db.scalars(select(Person).where(Person.id.in_(wanted))):
        found.append({"id": person.id, "kind": "person", "owner_id": person.id, "care_unit": None})
    named = {row["owner_id"] for row in found if row["kind"] not in ("bulk-job", "staff")}
    persons = []
    for person in db.scalars(select(Person).where(Person.id.in_(named)).order_by(Person.id)):
        persons.append({
            "id": person.id, "birth_date": person.birth_date, "deceased": person.deceased,
            "protected_identity": person.protected_identity,
            "guardians": sorted(db.scalars(select(Guardianship.guardian_id).where(Guardianship.child_id == person.id))),
            "care_units": sorted(db.scalars(select(CareRelation.care_unit_id)
                                            .where(CareRelation.patient_id == person.id)))})
    return {"today": clock.today(), "records": found, "persons": persons}


def _clock_state() -> ClockState:
    return ClockState(now=clock.now(), today=clock.today(), frozen=clock.is_frozen(),
                      offset_seconds=round(clock.offset().total_seconds(), 3))


def _seeded(seed_records: dict, person: Person) -> dict:
    return {**person_view(person), "records": seed_records.get(person.id, {})}


def create_control(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 reference system: test control API", version="1", docs_url=None, redoc_url=None,
                  openapi_tags=TAGS, description="Test mode only: seeds, changes and clock of the reference system. "
                                                 "Every refusal is problem+json.")
    app.state.ctx = ctx
    problems.install(app)
    rng = random.Random(ctx.settings.seed + 1)  # nosec B311 # seeded synthetic test data, not security

    def person_or_404(db: Session, person_id: str) -> Person:
        person = db.get(Person, person_id)
        if person is None:
            raise problems.Problem(404, "No such person.")
        return person

    @app.post("/persons", status_code=201, response_model=SeededPerson, tags=["persons"], operation_id="seedPerson",
              responses={409: {"description": "The seed cannot be met (unknown region, no free test number)"}})
    def seed_person(body: SeedRequest) -> dict:
        """A fresh person of the given role with records of their own (a guardian comes with children), each
        record named with its id and care unit."""
        counts = RecordCounts(**body.records.model_dump())
        with ctx.db() as db:
            try:
                seeded = new_person(db, body.role, rng, region_code=body.region, birth_date=body.birth_date,
                                    children=body.children, counts=counts, care_unit=body.care_unit)
            except SeedError as exc:
                raise problems.Problem(409, str(exc)) from exc
            return {**_seeded(seeded.records, seeded.person), "today": clock.today(), "care_unit": seeded.care_unit,
                    "children": [_seeded(seeded.records, c) for c in seeded.children]}

    @app.get("/persons", response_model=list[ListedPerson], tags=["persons"], operation_id="listSeededPersons")
    def list_persons() -> list[dict]:
        """The persons seeded at start (as printed and on the login page); those made by POST are its answers."""
        return [{**asdict(p), "written": p.written} for p in running_listing(ctx).persons]

    @app.post("/persons/{person_id}/care-relations", status_code=201, response_model=Relation, tags=["persons"],
              operation_id="addCareRelation",
              responses={404: {"description": "No such person"},
                         409: {"description": "Unknown region or unit, or the relation exists already"}})
    def add_relation(person_id: PersonId, body: RelationRequest) -> dict:
        """A care relation with a unit in any region (the patient's own or another), with messages from it."""
        with ctx.db() as db:
            person = person_or_404(db, person_id)
            try:
                made = relate(db, person, region_code=body.region, care_unit_id=body.care_unit,
                              messages=body.messages)
            except SeedError as exc:
                raise problems.Problem(409, str(exc)) from exc
            return {"patient_id": person.id, **made}

    @app.get("/persons/{person_id}/staff", response_model=StaffChoice, tags=["staff"], operation_id="staffFor",
             responses={404: {"description": "No such person"}})
    def choose_staff(person_id: PersonId) -> dict:
        """Staff of the patient's own unit, of another unit in the same region, of a unit in another region, and
        of related units elsewhere: chosen by relation, never by the order of HSA ids."""
        with ctx.db() as db:
            return {"patient_id": person_id, **staff_for(db, person_or_404(db, person_id))}

    @app.post("/persons/{person_id}/changes", response_model=PersonView, tags=["persons"],
              operation_id="changePerson",
              responses={404: {"description": "No such person"}, 409: {"description": "The change cannot be made"}})
    def change(person_id: PersonId, body: ChangeRequest) -> dict:
        """What the population register tells after seeding: the person died, moved (to a region that has joined
        or not), got protected identity (which ends their sessions at once), or is now known by a
        samordningsnummer. A live session is judged against it on its next use."""
        with ctx.db() as db:
            person = person_or_404(db, person_id)
            try:
                change_person(db, person, body.change, rng, region_code=body.region, joined=body.joined)
            except SeedError as exc:
                raise problems.Problem(409, str(exc)) from exc
            return person_view(person)

    @app.post("/owners", response_model=Owners, tags=["owners"], operation_id="ownersOf")
    def owners_of(body: OwnersRequest) -> dict:
        """Whose each id is (message, booking, journal entry, device by installation id, consent, erasure, bulk
        job, person, staff member), with the facts of each person named: birth date, guardians, the units with a
        care relation, protected identity. An oracle of ownership judges an answer by this, not by the answer."""
        with ctx.db() as db:
            return _owners(db, body.ids)

    @app.get("/staff", response_model=list[StaffView], tags=["staff"], operation_id="listStaff")
    def list_staff(care_unit: str | None = None) -> list[dict]:
        """Every staff member (one per care unit), or those of one unit."""
        with ctx.db() as db:
            query = select(Staff, CareUnit.region_code).join(CareUnit, CareUnit.id == Staff.care_unit_id) \
                .order_by(Staff.hsa_id)
            if care_unit:
                query = query.where(Staff.care_unit_id == care_unit)
            return [{"id": s.id, "hsa_id": s.hsa_id, "name": s.name, "care_unit": s.care_unit_id, "region": region}
                    for s, region in db.execute(query)]

    @app.get("/faults", response_model=FaultList, tags=["faults"], operation_id="listFaults")
    def list_faults() -> dict:
        return {"active": sorted(faults.current()),
                "catalogue": [{"name": f.name, "component": f.component, "description": f.description,
                               "breaks": list(f.breaks)} for f in faults.CATALOGUE.values()]}

    @app.put("/faults", response_model=ActiveFaults, tags=["faults"], operation_id="setFaults",
             responses={422: {"description": "A name outside the catalogue"}})
    def set_faults(body: FaultsRequest) -> dict:
        try:
            active = faults.activate(body.active)
        except faults.UnknownFaultError as exc:
            raise problems.Problem(422, str(exc)) from exc
        return {"active": sorted(active)}

    @app.get("/clock", response_model=ClockState, tags=["clock"], operation_id="getClock")
    def get_clock() -> ClockState:
        """The system's time and date, whether it stands still, and how far ahead of the real time it is."""
        return _clock_state()

    @app.put("/clock", response_model=ClockState, tags=["clock"], operation_id="setClock",
             responses={409: {"description": "`at` is earlier than the system's time"}})
    def set_clock(body: ClockSetting) -> ClockState:
        """Stop the clock (then only /clock/advance moves it, by exactly what it is told) or let it run again."""
        try:
            if body.frozen:
                clock.freeze(body.at)
            elif body.at is not None:
                raise clock.ClockError("`at` goes with frozen: true only")
            else:
                clock.thaw()
        except clock.ClockError as exc:
            raise problems.Problem(409, str(exc)) from exc
        return _clock_state()

    @app.post("/clock/advance", response_model=ClockState, tags=["clock"], operation_id="advanceClock")
    def advance(body: ClockAdvance) -> ClockState:
        """Move the clock forward: for every session, token and ticket of the system at once."""
        clock.advance(body.seconds)
        return _clock_state()

    @app.post("/reset", response_model=ActiveFaults, tags=["system"], operation_id="reset")
    def reset() -> dict:
        """Undo what tests change globally: the clock (back to the real time, running), the faults given at
        start, the rate limits."""
        clock.reset()
        faults.activate(ctx.settings.faults)
        ctx.login_limiter.reset()
        ctx.send_limiter.reset()
        return {"active": sorted(faults.current())}

    @app.post("/tokens/remint", response_model=Reminted, tags=["security"], operation_id="remintToken",
              responses={422: {"description": "Not a token of this system"}})
    def remint(body: Remint) -> dict:
        """The same access token signed again with the system's own key, claims changed as asked: what only a
        holder of the key could make (a wrong audience, an expired or not yet valid token), for the security
        layer to show the APIs refuse it."""
        import jwt

        try:
            claims = jwt.decode(body.token, ctx.keys.private.public_key(), algorithms=["ES256"],
                                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False})
        except jwt.PyJWTError as exc:
            raise problems.Problem(422, f"Not a token of this system ({type(exc).__name__}).") from exc
        claims.update(body.set)
        for claim, seconds in body.shift.items():
            claims[claim] = int(claims[claim]) + seconds
        for claim in body.drop:
            claims.pop(claim, None)
        return {"token": jwt.encode(claims, ctx.keys.private, algorithm="ES256", headers={"kid": ctx.keys.kid})}

    @app.post("/crash-next", status_code=204, tags=["security"], operation_id="crashNext")
    def crash_next(body: CrashNext) -> None:
        """The next request to ``path`` on the APIs raises an unexpected error inside the app, so the security
        layer can see what a defect's answer shows (never a stack trace or a version)."""
        ctx.extras.setdefault("crash_next", set()).add(body.path)

    @app.get("/audit/records", response_model=AuditRecords, tags=["system"], operation_id="listAuditRecords")
    def audit_records(subject_id: str | None = None, actor_id: str | None = None,
                      after_seq: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=5000)) -> dict:
        """The audit log as stored (BR-AUDIT-1): the records after ``after_seq`` about a subject or by an actor,
        oldest first. The truth a test of audit completeness judges the system's reads and the patient's log
        extract by."""
        with ctx.db() as db:
            query = select(AuditRecord).where(AuditRecord.seq > after_seq).order_by(AuditRecord.seq).limit(limit)
            if subject_id:
                query = query.where(AuditRecord.subject_id == subject_id)
            if actor_id:
                query = query.where(AuditRecord.actor_id == actor_id)
            rows = [{"seq": r.seq, "at": r.at, "actor_kind": r.actor_kind, "actor_id": r.actor_id,
                     "subject_id": r.subject_id, "role": r.role, "action": r.action,
                     "resource_type": r.resource_type, "resource_id": r.resource_id,
                     "care_unit_id": r.care_unit_id} for r in db.scalars(query)]
            last = db.scalar(select(func.max(AuditRecord.seq))) or 0
        return {"records": rows, "last_seq": last}

    @app.get("/audit/verify", response_model=AuditChain, tags=["system"], operation_id="verifyAuditChain")
    def audit_verify() -> dict:
        with ctx.db() as db:
            broken = audit.verify_chain(db)
        return {"intact": broken is None, "first_broken_seq": broken}

    app.include_router(create_push_control(ctx))  # /_sut/push: owned by the push fan-out
    return app
