"""Synthetic seed data: 21 regions, care units, staff, and test persons in every role (DESIGN §2)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, clock, pnr
from .db import (
    Booking,
    CareRelation,
    CareUnit,
    Consent,
    Device,
    Guardianship,
    JournalEntry,
    Message,
    NotificationSetting,
    Person,
    Region,
    Staff,
    new_id,
)
from .sessions import end_sessions

# The 21 regions by county code. The first `joined_regions` of this order have joined the new app.
REGIONS = [
    ("01", "Region Stockholm"), ("03", "Region Uppsala"), ("04", "Region Sörmland"),
    ("05", "Region Östergötland"), ("06", "Region Jönköpings län"), ("07", "Region Kronoberg"),
    ("08", "Region Kalmar län"), ("10", "Region Blekinge"), ("12", "Region Skåne"), ("13", "Region Halland"),
    ("14", "Västra Götalandsregionen"), ("17", "Region Värmland"), ("18", "Region Örebro län"),
    ("19", "Region Västmanland"), ("20", "Region Dalarna"), ("21", "Region Gävleborg"),
    ("22", "Region Västernorrland"), ("09", "Region Gotland"), ("23", "Region Jämtland Härjedalen"),
    ("24", "Region Västerbotten"), ("25", "Region Norrbotten"),
]
VIDEO_MODES = ("inera", "regional-sso", "external")

GIVEN = ["Åsa", "Björn", "Märta", "Örjan", "Karin", "Lars", "Ingrid", "Nils", "Saga", "Elias", "Maja", "Hugo"]
FAMILY = ["Öberg", "Ågren", "Lindqvist", "Bäckström", "Nilsson", "Sjöberg", "Håkansson", "Ek", "Strand"]
UNIT_KINDS = ["Vårdcentral", "Barnavårdscentral", "Ungdomsmottagning"]
SWEDEN = ZoneInfo("Europe/Stockholm")
# Booked times as a clinic gives them: weekdays, on the quarter hour, the last at 16:30 (Swedish time).
CLINIC_SLOTS = [time(8 + q // 4, 15 * (q % 4)) for q in range(35)]

# Roles the control API can seed; "guardian" comes with one child under 13 and one of 13 to 17.
ROLES = ("adult", "adult-not-joined", "guardian", "deceased", "samordningsnummer", "protected-identity")

# The start seed's persons are listed in the README and on the login page, so their personnummer must not change
# from day to day: their ages count from the first day of a four-year period, and their children's ages leave each
# child in its role (under 13, or 13 to 17: BR-PROXY-1) to the end of the period.
AGE_PERIOD_YEARS = 4


def age_period_start(today: date) -> date:
    """The first day of the four-year period ``today`` falls in (periods begin in years divisible by four)."""
    return date(today.year - today.year % AGE_PERIOD_YEARS, 1, 1)


# What a person's records are by default: every screen has content, and no list has a second page.
MESSAGE_SUBJECTS = ["Provsvar", "Påminnelse om besök", "Svar på din fråga", "Kallelse till återbesök"]
CHILD_MAX_AGE = 17  # a guardian's child is a minor
# Changes the population register (folkbokföringen) can make to a person after seeding.
CHANGES = ("deceased", "moved", "protected-identity", "samordningsnummer")


class SeedError(ValueError):
    """A seed request that cannot be met (an unknown region or unit, no free test number for a birth date)."""


@dataclass(frozen=True)
class RecordCounts:
    """How many records of each kind a seeded person gets, all from their own care unit."""

    messages: int = 3
    bookings: int = 2
    journal_entries: int = 2
    audit_lines: int = 0  # reads of the person's messages by their unit's staff, as the log extract shows them
    devices: int = 0
    consents: int = 0  # push consents, each superseding the one before: the last is active


@dataclass
class Seeded:
    person: Person
    children: list[Person]
    care_unit: str = ""  # the person's own unit (their children's fit their ages)
    # Whose each record is, as the control API hands it to a test's oracle: person id -> kind -> records.
    records: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


PRIVATE_UNITS_FROM = 100  # units made for one seeded person ("new") are numbered from here in their region


def _care_unit_id(region: str, n: int) -> str:
    return f"SE2321000{region}-{n:04d}"


def _unit_kind(age: int) -> str:
    """Where a person of this age is a patient: the child health centre (BVC) until school starts at six, the
    youth clinic from 13 to 25 (ungdomsmottagningar take roughly those ages), the health centre otherwise."""
    if age < 6:
        return "Barnavårdscentral"
    if 13 <= age <= 25:
        return "Ungdomsmottagning"
    return "Vårdcentral"


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _clinic_time(day: date, rng: random.Random, *, weekdays: bool = True) -> datetime:
    """A quarter-hour slot in clinic hours on ``day`` (moved on to Monday from a weekend), in UTC as stored."""
    while weekdays and day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, rng.choice(CLINIC_SLOTS), tzinfo=SWEDEN).astimezone(UTC)


def seed_base(db: Session, *, joined_regions: int, rng: random.Random) -> None:
    for i, (code, name) in enumerate(REGIONS):
        db.add(Region(code=code, name=name, joined=i < joined_regions, video_mode=VIDEO_MODES[i % 3]))
    db.flush()
    for code, name in REGIONS:
        town = name.removeprefix("Region ").removesuffix(" län")
        for n, kind in enumerate(UNIT_KINDS, start=1):
            unit = CareUnit(id=_care_unit_id(code, n), name=f"{kind} {town}", region_code=code)
            db.add(unit)
            db.add(Staff(hsa_id=f"{unit.id}-P{n:03d}", name=f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                         care_unit_id=unit.id))
    db.flush()


def _region(db: Session, joined: bool, rng: random.Random) -> Region:
    regions = db.scalars(select(Region).where(Region.joined == joined).order_by(Region.code)).all()
    if not regions:
        raise ValueError(f"no region with joined={joined} in this seed")
    return rng.choice(regions)


def _birth(rng: random.Random, age: int, today: date) -> date:
    """A birth date that makes the person exactly ``age`` today (not on the birthday itself)."""
    birth = today.replace(year=today.year - age) if not (today.month == 2 and today.day == 29) else \
        today.replace(year=today.year - age, day=28)
    return birth - timedelta(days=rng.randint(1, 300))


def _new_person(db: Session, rng: random.Random, *, role: str, age: int, region: Region,
                coordination: bool = False, birth: date | None = None, ages_on: date | None = None,
                family_name: str | None = None, not_named: frozenset[str] = frozenset(), **extra: Any) -> Person:
    """A person; a child takes a guardian's ``family_name`` and none of the family's given names (``not_named``)."""
    if birth is None:
        birth, number = _drawn_birth(db, rng, age, ages_on or clock.today(), coordination)
    else:
        number = free_number(db, birth, rng, coordination=coordination)
    n = rng.randrange(10_000)
    given = rng.choice([name for name in GIVEN if name not in not_named])
    person = Person(
        personnummer=number, given_name=given, family_name=family_name or rng.choice(FAMILY), birth_date=birth,
        region_code=region.code, address=f"Testgatan {rng.randint(1, 99)}, 123 45 Teststad",
        email=f"testperson{n}@example.invalid",
        phone=f"+46701740{rng.randint(605, 699)}",  # PTS's range of numbers reserved for fiction
        role=role, **extra,
    )
    db.add(person)
    db.flush()
    db.add(NotificationSetting(owner_id=person.id, subject_id=person.id, push=False, sms=True, email=False,
                               updated_at=clock.now()))
    return person


def _drawn_birth(db: Session, rng: random.Random, age: int, today: date, coordination: bool) -> tuple[date, str]:
    """A drawn birth date of ``age`` with a free test number: a date whose 20 numbers are all taken (a test may use
    them up on purpose) is passed over, so only a birth date the caller fixed can run out."""
    for _ in range(50):
        birth = _birth(rng, age, today)
        try:
            return birth, free_number(db, birth, rng, coordination=coordination)
        except SeedError:
            continue
    raise SeedError(f"no birth date of age {age} has a free test number")


def free_number(db: Session, birth: date, rng: random.Random, *, coordination: bool = False) -> str:
    """A test number for ``birth`` that no one has; a date has only 20 (birth numbers 980-999), so a seed that
    asks for more on one date is refused instead of searching for ever."""
    for _ in range(40):
        number = pnr.make(birth, rng, coordination=coordination)
        if db.scalar(select(Person.id).where(Person.personnummer == number)) is None:
            return number
    stem = f"{birth.year:04d}{birth.month:02d}{birth.day + (60 if coordination else 0):02d}"
    taken = set(db.scalars(select(Person.personnummer).where(Person.personnummer.like(f"{stem}%"))))
    free = sorted({pnr.with_serial(birth, serial, coordination=coordination) for serial in pnr.TEST_SERIALS}
                  - taken)
    if not free:
        raise SeedError(f"every test number of the birth date {birth.isoformat()} is taken")
    return rng.choice(free)


def _records(db: Session, rng: random.Random, person: Person, unit: CareUnit,
             counts: RecordCounts = RecordCounts()) -> dict[str, list[dict[str, Any]]]:
    """Care relation, messages (every third read), bookings and journal entries, so every screen has content; all
    at times a clinic works, in the past or the coming weeks. Returns each record's id and care unit."""
    now = clock.now()
    today = now.astimezone(SWEDEN).date()
    db.add(CareRelation(care_unit_id=unit.id, patient_id=person.id))
    made: dict[str, list[dict[str, Any]]] = {"messages": [], "bookings": [], "journal_entries": []}
    subjects = rng.sample(MESSAGE_SUBJECTS, min(counts.messages, len(MESSAGE_SUBJECTS)))
    for i in range(counts.messages):
        subject = subjects[i % len(subjects)]
        # Messages go out any day (reminders and test results are sent by the system), in the day's hours.
        message = Message(id=new_id(), patient_id=person.id, care_unit_id=unit.id, sender_name=unit.name,
                          subject=subject, body=f"Hej! Detta är ett testmeddelande från {unit.name}.",
                          created_at=_clinic_time(today - timedelta(days=i + 1), rng, weekdays=False),
                          read_at=(now - timedelta(days=i)) if i % 3 == 2 else None)
        db.add(message)
        made["messages"].append({"id": message.id, "care_unit": unit.id})
    for j in range(counts.bookings):
        booking = Booking(id=new_id(), patient_id=person.id, care_unit_id=unit.id,
                          starts_at=_clinic_time(today + timedelta(days=7 * (j + 1)), rng),
                          kind="visit" if j % 2 == 0 else "video", status="booked")
        db.add(booking)
        made["bookings"].append({"id": booking.id, "care_unit": unit.id})
    for i in range(counts.journal_entries):
        entry = JournalEntry(id=new_id(), patient_id=person.id, care_unit_id=unit.id,
                             written_at=_clinic_time(today - timedelta(days=30 * (i + 1)), rng),
                             author=f"Leg. läkare {rng.choice(FAMILY)}", text="Besöksanteckning (testdata).")
        db.add(entry)
        made["journal_entries"].append({"id": entry.id, "care_unit": unit.id})
    if counts.devices:
        made["devices"] = _devices(db, rng, person, counts.devices, now)
    if counts.consents:
        made["consents"] = _consents(db, person, counts.consents, now)
    if counts.audit_lines:
        made["audit_lines"] = _audit_lines(db, person, unit, made["messages"], counts.audit_lines)
    return made


def _devices(db: Session, rng: random.Random, person: Person, count: int, now: datetime) -> list[dict[str, Any]]:
    """Registered app installations, iOS and Android in turn, with tokens in each provider's format."""
    from .services import PROVIDERS, fake_push_token  # services imports this module's neighbours: import late

    made = []
    for i in range(count):
        platform = "ios" if i % 2 == 0 else "android"
        device = Device(id=new_id(), person_id=person.id, installation_id=f"seed{rng.getrandbits(128):032x}",
                        platform=platform, provider=PROVIDERS[platform], token=fake_push_token(platform, rng),
                        app_version="3.2.0", active=True, registered_at=now - timedelta(minutes=count - i))
        db.add(device)
        made.append({"id": device.id, "installation_id": device.installation_id, "platform": platform})
    return made


def _consents(db: Session, person: Person, count: int, now: datetime) -> list[dict[str, Any]]:
    """Push consents a day apart, each withdrawn when the next was given (BR-GDPR-1): the newest is active."""
    made = []
    for i in range(count):
        granted = now - timedelta(days=count - i)
        consent = Consent(id=new_id(), person_id=person.id, purpose="push", text_version="1.0", granted_at=granted,
                          withdrawn_at=granted + timedelta(days=1) if i < count - 1 else None)
        db.add(consent)
        made.append({"id": consent.id, "active": consent.withdrawn_at is None})
    return made


def _audit_lines(db: Session, person: Person, unit: CareUnit, messages: list[dict[str, Any]],
                 count: int) -> list[dict[str, Any]]:
    """Reads of the person's messages by the staff of their unit, in the hash-chained log (BR-AUDIT-1)."""
    staff = db.scalar(select(Staff).where(Staff.care_unit_id == unit.id).order_by(Staff.hsa_id))
    if staff is None or not messages:
        raise SeedError("audit lines need a message and a staff member of the person's care unit")
    db.flush()
    made = []
    for i in range(count):
        message_id = messages[i % len(messages)]["id"]
        audit.record(db, actor_kind="staff", actor_id=staff.id, subject_id=person.id, role="staff",
                     action="message.read", resource_type="message", resource_id=message_id, care_unit_id=unit.id)
        made.append({"actor_id": staff.id, "action": "message.read", "resource_id": message_id,
                     "care_unit": unit.id})
    return made


def _unit_for(db: Session, region: Region, person: Person) -> CareUnit:
    """The person's care unit in ``region``, of the kind that fits their age."""
    kind = _unit_kind(_age(person.birth_date, clock.today()))
    unit = db.get(CareUnit, _care_unit_id(region.code, UNIT_KINDS.index(kind) + 1))
    if unit is None:  # seed_base makes every kind in every region
        raise ValueError(f"no {kind} in region {region.code}")
    return unit


def _chosen_unit(db: Session, region: Region, care_unit: str, rng: random.Random) -> CareUnit:
    """An existing unit of ``region`` by id, or ("new") a fresh health centre there with one staff member."""
    if care_unit != "new":
        unit = db.get(CareUnit, care_unit)
        if unit is None or unit.region_code != region.code:
            raise SeedError(f"no care unit {care_unit!r} in region {region.code}")
        return unit
    taken = db.scalar(select(func.count()).select_from(CareUnit).where(CareUnit.region_code == region.code)) or 0
    n = PRIVATE_UNITS_FROM + taken
    town = region.name.removeprefix("Region ").removesuffix(" län")
    unit = CareUnit(id=_care_unit_id(region.code, n), name=f"Vårdcentral {town} {n}",
                    region_code=region.code)
    db.add(unit)
    db.add(Staff(hsa_id=f"{unit.id}-P001", name=f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}", care_unit_id=unit.id))
    db.flush()
    return unit


def _region_by_code(db: Session, code: str) -> Region:
    region = db.get(Region, code)
    if region is None:
        raise SeedError(f"no region with the code {code!r}")
    return region


def new_person(db: Session, role: str, rng: random.Random, *, ages_on: date | None = None,
               region_code: str | None = None, birth_date: date | None = None,
               children: list[date] | None = None, counts: RecordCounts = RecordCounts(),
               care_unit: str | None = None) -> Seeded:
    """Seed one fresh test person of ``role`` (and a guardian's children) with records of their own.

    ``ages_on`` counts ages from the start of an age period (see ``age_period_start``) instead of today.
    ``region_code`` and ``birth_date`` fix what is otherwise drawn; ``children`` gives a guardian's children by
    birth date instead of one under 13 and one of 13 to 17; ``counts`` says how many records each person gets.
    ``care_unit`` is the person's own unit instead of the region's one of its kind: an existing unit's id (in the
    person's region), or "new" for a unit of its own with one staff member, which no other test's persons share
    (so what another test does to a whole unit, such as a bulk send to all its patients, never reaches them)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    region = _region_by_code(db, region_code) if region_code else _region(db, role != "adult-not-joined", rng)
    kwargs: dict[str, Any] = {}
    if role == "deceased":
        kwargs["deceased"] = True
    if role == "protected-identity":
        kwargs["protected_identity"] = True
    # A guardian of a child of up to 17 is at least 35 here, so no parent was a child at the birth.
    age = rng.randint(35, 55) if role == "guardian" else rng.randint(26, 70)
    person = _new_person(db, rng, role=role, age=age, region=region, birth=birth_date,
                         coordination=role == "samordningsnummer", ages_on=ages_on, **kwargs)
    unit = _unit_for(db, region, person) if care_unit is None else _chosen_unit(db, region, care_unit, rng)
    records = {person.id: _records(db, rng, person, unit, counts)}
    kids: list[Person] = []
    if role == "guardian":
        named = {person.given_name}
        if children is None:
            # Counted from a period's start, a child stays under 13 and a teenager 13 to 17 through the period.
            young, teen = (12 - AGE_PERIOD_YEARS, 13) if ages_on else (12, 17)
            wanted: list[tuple[str, int, date | None]] = [
                ("child-under-13", rng.randint(2, young), None), ("child-13-17", rng.randint(13, teen), None)]
        else:
            wanted = [(_child_role(born), 0, born) for born in children]
        for child_role, age, born in wanted:
            child = _new_person(db, rng, role=child_role, age=age, region=region, ages_on=ages_on, birth=born,
                                family_name=person.family_name, not_named=frozenset(named))
            named.add(child.given_name)
            records[child.id] = _records(db, rng, child, _unit_for(db, region, child), counts)
            db.add(Guardianship(guardian_id=person.id, child_id=child.id))
            # The guardian's own channel choices for this child (BR-NOTIF-2).
            db.add(NotificationSetting(owner_id=person.id, subject_id=child.id, push=False, sms=True,
                                       email=False, updated_at=clock.now()))
            kids.append(child)
    db.flush()
    return Seeded(person=person, children=kids, care_unit=unit.id, records=records)


def _child_role(born: date) -> str:
    """A child's role by its age today (the system's date); a guardian's child is a minor, born by today."""
    today = clock.today()
    if born > today or _age(born, today) > CHILD_MAX_AGE:
        raise SeedError(f"a child is born on or before today ({today.isoformat()}) and is at most "
                        f"{CHILD_MAX_AGE}: {born.isoformat()}")
    return "child-under-13" if _age(born, today) < 13 else "child-13-17"


def relate(db: Session, person: Person, *, region_code: str | None = None, care_unit_id: str | None = None,
           messages: int = 1) -> dict[str, Any]:
    """A care relation with a unit (of the kind that fits the person's age, in ``region_code``, or the unit
    named), with ``messages`` from it: a patient of one region may well be a patient in another (PDL 4 kap.)."""
    if care_unit_id:
        unit = db.get(CareUnit, care_unit_id)
        if unit is None:
            raise SeedError(f"no care unit {care_unit_id!r}")
    else:
        unit = _unit_for(db, _region_by_code(db, region_code or person.region_code), person)
    if db.get(CareRelation, (unit.id, person.id)) is not None:
        raise SeedError(f"the person already has a care relation with {unit.id}")
    made = _records(db, random.Random(person.id), person, unit,  # nosec B311 # seeded synthetic test data, not security
                    RecordCounts(messages=messages, bookings=0, journal_entries=0))
    db.flush()
    return {"care_unit": unit.id, "region": unit.region_code, "messages": made["messages"]}


def _staff_view(db: Session, staff: Staff, related: set[str]) -> dict[str, Any]:
    unit = db.get(CareUnit, staff.care_unit_id)
    return {"id": staff.id, "hsa_id": staff.hsa_id, "name": staff.name, "care_unit": staff.care_unit_id,
            "region": unit.region_code if unit else None, "related": staff.care_unit_id in related}


def staff_for(db: Session, person: Person) -> dict[str, Any]:
    """Staff chosen by how their unit stands to the patient, never by the order of HSA ids: of a unit with a
    care relation in the patient's region, of an unrelated unit in that region, of an unrelated unit in another
    region, and of related units in other regions (BR-STAFF-1, PDL 4 kap. 1 §)."""
    related = set(db.scalars(select(CareRelation.care_unit_id).where(CareRelation.patient_id == person.id)))
    rows = db.execute(select(Staff, CareUnit.region_code).join(CareUnit, Staff.care_unit_id == CareUnit.id)
                      .order_by(CareUnit.region_code, CareUnit.id, Staff.hsa_id)).all()
    home = person.region_code
    related_regions = {region for staff, region in rows if staff.care_unit_id in related}

    def first(keep: Any) -> dict[str, Any] | None:
        found = next((staff for staff, region in rows if keep(staff, region)), None)
        return _staff_view(db, found, related) if found is not None else None

    return {
        "own_unit": first(lambda s, r: r == home and s.care_unit_id in related),
        "same_region_other_unit": first(lambda s, r: r == home and s.care_unit_id not in related),
        # A region where no unit has a relation with the patient, so not even a region-wide defect reaches it.
        "other_region_unit": first(lambda s, r: r != home and r not in related_regions),
        "related_other_region": [_staff_view(db, s, related) for s, r in rows
                                 if r != home and s.care_unit_id in related],
    }


def change_person(db: Session, person: Person, change: str, rng: random.Random, *,
                  region_code: str | None = None, joined: bool | None = None) -> None:
    """What the population register can tell about a person after seeding: died, moved (to ``region_code``, or to
    a region that has ``joined`` or not), got protected identity, or is now known by a samordningsnummer. The
    system learns it as data, and a live session is judged against it on its next use (BR-ID-1, BR-ID-2); only
    protected identity ends the person's sessions at once, as the register's message arrives."""
    if change == "deceased":
        person.deceased = True
    elif change == "protected-identity":
        person.protected_identity = True
        # The person may be hiding from someone who holds one of their devices: no session outlives the change
        # (OSL 21 kap. 3 §), and the next login shows no address (BR-ID-1).
        end_sessions(db, person.id, "protected-identity")
    elif change == "samordningsnummer":
        person.personnummer = free_number(db, person.birth_date, rng, coordination=True)
    elif change == "moved":
        if region_code:
            region = _region_by_code(db, region_code)
        else:
            wanted = True if joined is None else joined
            choices = db.scalars(select(Region).where(Region.joined == wanted, Region.code != person.region_code)
                                 .order_by(Region.code)).all()
            if not choices:
                raise SeedError(f"no other region with joined={wanted}")
            region = rng.choice(choices)
        if region.code == person.region_code:
            raise SeedError("the person lives in that region already")
        person.region_code = region.code
    else:
        raise SeedError(f"unknown change {change!r}; changes: {', '.join(CHANGES)}")
    db.flush()


def person_view(person: Person) -> dict[str, Any]:
    """What the control API hands a test about a seeded person (test numbers only, never real data)."""
    return {
        "id": person.id, "personnummer": person.personnummer, "role": person.role,
        "given_name": person.given_name, "family_name": person.family_name,
        "birth_date": person.birth_date.isoformat(), "region": person.region_code,
        "deceased": person.deceased, "protected_identity": person.protected_identity,
    }


def seed_initial(db: Session, *, joined_regions: int, rng: random.Random) -> dict[str, list[str]]:
    """The base data plus two persons of every role, so a person can click through at once.

    A database kept from an earlier run (PostgreSQL, or SQLite in a given --data-dir) keeps its data: only which
    regions have joined follows this run's setting."""
    kept = {region.code: region for region in db.scalars(select(Region))}
    if kept:
        for i, (code, _) in enumerate(REGIONS):
            if code in kept:
                kept[code].joined = i < joined_regions
        return {}
    seed_base(db, joined_regions=joined_regions, rng=rng)
    made: dict[str, list[str]] = {}
    if joined_regions == 0:
        return made
    ages_on = age_period_start(clock.now().date())
    for role in ROLES:
        if role == "adult-not-joined" and joined_regions == len(REGIONS):
            continue
        for _ in range(2):
            made.setdefault(role, []).append(new_person(db, role, rng, ages_on=ages_on).person.id)
    return made
