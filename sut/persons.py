"""The start seed's test persons and staff, listed for people: at start in test mode, by
``python -m sut --list-persons``, by ``GET /_sut/persons``, in the README and on the login page in test mode.

Every one is synthetic, with a Skatteverket test number (birth number 980-999), so they may be shown; the harness
masks personnummer in its evidence all the same.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, TextIO

from fastapi import Request
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from . import clock
from .config import Settings
from .context import Context
from .db import Base, CareUnit, Guardianship, Person, Region, Staff
from .seed import age_period_start, seed_initial

# What each role means for someone trying the system (the business rules behind them in DESIGN §2).
ROLE_TEXT = {
    "adult": "Vuxen i en region som har anslutit sig till appen",
    "adult-not-joined": "Vuxen i en region som inte har anslutit sig: skickas vidare till 1177.se (BR-REG-1)",
    "guardian": "Vårdnadshavare: kan vara ombud för sitt barn under 13 år (BR-PROXY-1)",
    "child-under-13": "Barn under 13 år till {guardian}",
    "child-13-17": "Barn 13–17 år till {guardian}, som inte kan vara ombud för barnet (BR-PROXY-1)",
    "deceased": "Avliden: kan inte logga in (BR-ID-1)",
    "samordningsnummer": "Samordningsnummer: kan inte logga in (BR-ID-1)",
    "protected-identity": "Skyddad folkbokföring: adressen lämnar aldrig systemet (BR-ID-1)",
}
CANNOT_LOG_IN = frozenset({"deceased", "samordningsnummer"})
SHOWN_STAFF = 3  # staff lines printed at start; the rest with --list-persons


@dataclass(frozen=True)
class TestPerson:
    role: str
    name: str
    personnummer: str  # 12 digits, as stored
    birth_date: str
    region: str
    description: str
    can_log_in: bool
    guardian: str | None  # the guardian's personnummer, for a child

    @property
    def written(self) -> str:
        """ÅÅÅÅMMDD-NNNN: how a person types it on the login page."""
        return f"{self.personnummer[:8]}-{self.personnummer[8:]}"


@dataclass(frozen=True)
class TestStaff:
    hsa_id: str
    name: str
    care_unit: str
    region: str


def _person(person: Person, region: str, guardian: Person | None = None) -> TestPerson:
    guardian_name = f"{guardian.given_name} {guardian.family_name}" if guardian is not None else ""
    text = ROLE_TEXT.get(person.role, person.role).format(guardian=guardian_name)
    return TestPerson(role=person.role, name=f"{person.given_name} {person.family_name}",
                      personnummer=person.personnummer, birth_date=person.birth_date.isoformat(), region=region,
                      description=text, can_log_in=person.role not in CANNOT_LOG_IN,
                      guardian=guardian.personnummer if guardian is not None else None)


def seeded_persons(db: Session, made: dict[str, list[str]]) -> list[TestPerson]:
    """The persons ``seed_initial`` made (its answer), in role order, each guardian followed by the children."""
    regions = {r.code: r.name for r in db.scalars(select(Region))}
    listing: list[TestPerson] = []
    for ids in made.values():
        for person_id in ids:
            person = db.get(Person, person_id)
            if person is None:
                continue
            listing.append(_person(person, regions[person.region_code]))
            children = db.scalars(select(Person).join(Guardianship, Guardianship.child_id == Person.id)
                                  .where(Guardianship.guardian_id == person.id).order_by(Person.birth_date.desc()))
            listing.extend(_person(child, regions[child.region_code], person) for child in children)
    return listing


def staff_members(db: Session) -> list[TestStaff]:
    rows = db.execute(select(Staff, CareUnit, Region).join(CareUnit, Staff.care_unit_id == CareUnit.id)
                      .join(Region, CareUnit.region_code == Region.code).order_by(Staff.hsa_id))
    return [TestStaff(hsa_id=s.hsa_id, name=s.name, care_unit=u.name, region=r.name) for s, u, r in rows]


@dataclass(frozen=True)
class Listing:
    persons: tuple[TestPerson, ...]
    staff: tuple[TestStaff, ...]

    def as_json(self) -> dict[str, Any]:
        return {"persons": [asdict(p) for p in self.persons], "staff": [asdict(s) for s in self.staff]}


@lru_cache(maxsize=4)
def _fresh(seed: int, joined_regions: int, period: str) -> Listing:
    """What a fresh start seeds, made in a private in-memory database (``period`` keys the cache only)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    try:
        Base.metadata.create_all(engine)
        with sessionmaker(engine)() as db:
            made = seed_initial(db, joined_regions=joined_regions, rng=random.Random(seed))  # nosec B311 # seeded synthetic test data, not security
            db.flush()
            return Listing(persons=tuple(seeded_persons(db, made)), staff=tuple(staff_members(db)))
    finally:
        engine.dispose()


def fresh_listing(settings: Settings) -> Listing:
    """The test persons and staff that a fresh start with ``settings`` seeds (the same seed, the same period)."""
    return _fresh(settings.seed, settings.joined_regions, age_period_start(clock.now().date()).isoformat())


def running_listing(ctx: Context) -> Listing:
    """The running system's own: what it seeded at start, or, on a database kept from an earlier run, those of a
    fresh start's persons that the database holds."""
    if "test_persons" not in ctx.extras:
        with ctx.db() as db:
            made = ctx.extras.get("seed") or {}
            if made:
                persons = tuple(seeded_persons(db, made))
            else:
                fresh = fresh_listing(ctx.settings).persons
                held = set(db.scalars(select(Person.personnummer)
                                      .where(Person.personnummer.in_([p.personnummer for p in fresh]))))
                persons = tuple(p for p in fresh if p.personnummer in held)
            ctx.extras["test_persons"] = Listing(persons=persons, staff=tuple(staff_members(db)))
    return ctx.extras["test_persons"]


def login_choices(request: Request) -> tuple[TestPerson, ...]:
    """The persons the login page offers to click: in test mode only, never on a production-like system."""
    ctx: Context | None = getattr(request.app.state, "ctx", None)
    if ctx is None or not ctx.settings.test_mode:
        return ()
    return running_listing(ctx).persons


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in rows)


def text_table(listing: Listing, *, staff_limit: int | None = None) -> str:
    """Aligned columns for a terminal: the persons, then the staff (all, or the first ``staff_limit``)."""
    persons = [("ROLL", "PERSONNUMMER", "NAMN", "REGION", "OM PERSONEN")]
    persons += [(p.role, p.written, p.name, p.region, p.description) for p in listing.persons]
    staff = [("HSA-ID", "NAMN", "VÅRDENHET", "REGION")]
    shown = listing.staff if staff_limit is None else listing.staff[:staff_limit]
    staff += [(s.hsa_id, s.name, s.care_unit, s.region) for s in shown]
    text = "Testpersoner (logga in med personnumret):\n" + _columns(persons)
    text += "\nPersonal (logga in med HSA-id, POST /idp/api/staff-login):\n" + _columns(staff)
    if len(shown) < len(listing.staff):
        text += f"... och {len(listing.staff) - len(shown)} till: python -m sut --list-persons\n"
    return text


def markdown(listing: Listing) -> str:
    """The README's tables (between its test-persons markers): persons in full, staff folded away."""
    lines = ["| role | personnummer | name | region | about (as the login page says it) |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{p.role}` | {p.written} | {p.name} | {p.region} | {p.description} |" for p in listing.persons]
    lines += ["", f"<details><summary>Staff: {len(listing.staff)} test users, one per care unit</summary>", "",
              "| HSA id | name | care unit | region |", "| --- | --- | --- | --- |"]
    lines += [f"| {s.hsa_id} | {s.name} | {s.care_unit} | {s.region} |" for s in listing.staff]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def print_listing(listing: Listing, *, as_json: bool = False, as_markdown: bool = False,
                  out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        out.write(json.dumps(listing.as_json(), ensure_ascii=False, indent=2) + "\n")
    elif as_markdown:
        out.write(markdown(listing))
    else:
        out.write(text_table(listing))


def announce(ctx: Context, out: TextIO | None = None) -> None:
    """At start in test mode, after the ready line: the persons and a few staff on stderr (stdout keeps its one
    JSON line for the programs that start the system), when it is a terminal: a log file never carries a
    personnummer, not even a test number (BR-SEC-1), so a log scan stays exact."""
    out = out or sys.stderr
    if not out.isatty():
        return
    out.write(text_table(running_listing(ctx), staff_limit=SHOWN_STAFF))
    out.flush()
