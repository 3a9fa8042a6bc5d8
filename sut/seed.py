"""Synthetic seed data: 21 regions, care units, staff, and test persons in every role (DESIGN §2)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock, pnr
from .db import (
    Booking,
    CareRelation,
    CareUnit,
    Guardianship,
    JournalEntry,
    Message,
    NotificationSetting,
    Person,
    Region,
    Staff,
)

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


@dataclass
class Seeded:
    person: Person
    children: list[Person]


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
    birth = birth or _birth(rng, age, ages_on or clock.now().date())
    while True:
        number = pnr.make(birth, rng, coordination=coordination)
        if db.scalar(select(Person.id).where(Person.personnummer == number)) is None:
            break
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


def _records(db: Session, rng: random.Random, person: Person, unit: CareUnit) -> None:
    """Care relation, messages (one read), bookings and journal entries, so every screen has content; all at
    times a clinic works, in the past or the coming weeks."""
    now = clock.now()
    today = now.astimezone(SWEDEN).date()
    db.add(CareRelation(care_unit_id=unit.id, patient_id=person.id))
    subjects = ["Provsvar", "Påminnelse om besök", "Svar på din fråga", "Kallelse till återbesök"]
    for i, subject in enumerate(rng.sample(subjects, 3)):
        # Messages go out any day (reminders and test results are sent by the system), in the day's hours.
        db.add(Message(patient_id=person.id, care_unit_id=unit.id, sender_name=unit.name, subject=subject,
                       body=f"Hej! Detta är ett testmeddelande från {unit.name}.",
                       created_at=_clinic_time(today - timedelta(days=i + 1), rng, weekdays=False),
                       read_at=(now - timedelta(days=i)) if i == 2 else None))
    for days, kind in ((7, "visit"), (14, "video")):
        db.add(Booking(patient_id=person.id, care_unit_id=unit.id,
                       starts_at=_clinic_time(today + timedelta(days=days), rng), kind=kind, status="booked"))
    for i in range(2):
        db.add(JournalEntry(patient_id=person.id, care_unit_id=unit.id,
                            written_at=_clinic_time(today - timedelta(days=30 * (i + 1)), rng),
                            author=f"Leg. läkare {rng.choice(FAMILY)}", text="Besöksanteckning (testdata)."))


def _unit_for(db: Session, region: Region, person: Person) -> CareUnit:
    """The person's care unit in their region, of the kind that fits their age."""
    kind = _unit_kind(_age(person.birth_date, clock.now().date()))
    unit = db.get(CareUnit, _care_unit_id(region.code, UNIT_KINDS.index(kind) + 1))
    if unit is None:  # seed_base makes every kind in every region
        raise ValueError(f"no {kind} in region {region.code}")
    return unit


def new_person(db: Session, role: str, rng: random.Random, *, ages_on: date | None = None) -> Seeded:
    """Seed one fresh test person of ``role`` (and a guardian's two children) with records of their own.

    ``ages_on`` counts ages from the start of an age period (see ``age_period_start``) instead of today."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    region = _region(db, role != "adult-not-joined", rng)
    kwargs: dict[str, Any] = {}
    if role == "deceased":
        kwargs["deceased"] = True
    if role == "protected-identity":
        kwargs["protected_identity"] = True
    # A guardian of a child of up to 17 is at least 35 here, so no parent was a child at the birth.
    age = rng.randint(35, 55) if role == "guardian" else rng.randint(26, 70)
    person = _new_person(db, rng, role=role, age=age, region=region,
                         coordination=role == "samordningsnummer", ages_on=ages_on, **kwargs)
    _records(db, rng, person, _unit_for(db, region, person))
    children: list[Person] = []
    if role == "guardian":
        named = {person.given_name}
        # Counted from a period's start, a child stays under 13 and a teenager 13 to 17 through the period.
        young, teen = (12 - AGE_PERIOD_YEARS, 13) if ages_on else (12, 17)
        for child_role, age in (("child-under-13", rng.randint(2, young)), ("child-13-17", rng.randint(13, teen))):
            child = _new_person(db, rng, role=child_role, age=age, region=region, ages_on=ages_on,
                                family_name=person.family_name, not_named=frozenset(named))
            named.add(child.given_name)
            _records(db, rng, child, _unit_for(db, region, child))
            db.add(Guardianship(guardian_id=person.id, child_id=child.id))
            # The guardian's own channel choices for this child (BR-NOTIF-2).
            db.add(NotificationSetting(owner_id=person.id, subject_id=child.id, push=False, sms=True,
                                       email=False, updated_at=clock.now()))
            children.append(child)
    db.flush()
    return Seeded(person=person, children=children)


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
