"""The seed data reads like real life on every page: times a clinic books, care units that fit the patient's age,
children named as their family, the same data from the same seed, and only test personnummer (DESIGN §2)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from personnummer import personnummer
from sqlalchemy import select

from sut import clock, pnr, seed
from sut.config import Settings
from sut.context import Context
from sut.db import Booking, CareUnit, Guardianship, JournalEntry, Message, Person
from sut.runtime import build_context
from sut.webapp.dates import SWEDEN


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A freshly seeded database with a good number of persons of every role besides the initial ones."""
    context = build_context(Settings(), Path(tmp_path_factory.mktemp("seed")))
    rng = random.Random(2026)
    with context.db() as db:
        for role in ("adult", "guardian") * 15:
            seed.new_person(db, role, rng)
    yield context
    context.engine.dispose()


def age(person: Person, today: date) -> int:
    born = person.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def local(moment: datetime) -> datetime:
    return clock.as_utc(moment).astimezone(SWEDEN)


def test_bookings_are_at_clinic_hours_on_weekdays(ctx: Context) -> None:
    with ctx.db() as db:
        bookings = db.scalars(select(Booking)).all()
        assert len(bookings) > 50
        for booking in bookings:
            starts = local(booking.starts_at)
            assert starts.weekday() < 5, starts
            assert time(8, 0) <= starts.time() <= time(16, 30) and starts.minute % 15 == 0, starts
            assert starts > clock.now()
        for message in db.scalars(select(Message)).all():
            sent = local(message.created_at)
            assert time(8, 0) <= sent.time() <= time(16, 30) and sent < clock.now(), sent
        for entry in db.scalars(select(JournalEntry)).all():
            assert local(entry.written_at).weekday() < 5


def test_every_patient_is_seen_where_their_age_belongs(ctx: Context) -> None:
    today = clock.now().date()
    kinds: set[str] = set()
    with ctx.db() as db:
        for person in db.scalars(select(Person)).all():
            units = {db.get(CareUnit, b.care_unit_id).name for b in
                     db.scalars(select(Booking).where(Booking.patient_id == person.id))}
            assert len(units) == 1, person.role
            kind = units.pop().split(" ")[0]
            kinds.add(kind)
            years = age(person, today)
            if kind == "Ungdomsmottagning":
                assert 13 <= years <= 25, (kind, years)
            elif kind == "Barnavårdscentral":
                assert years < 6, (kind, years)
            else:
                assert 6 <= years < 13 or years > 25, (kind, years)
    assert kinds == {"Vårdcentral", "Barnavårdscentral", "Ungdomsmottagning"}


def test_children_are_named_as_their_family(ctx: Context) -> None:
    with ctx.db() as db:
        families = 0
        for guardian_id in set(db.scalars(select(Guardianship.guardian_id))):
            guardian = db.get(Person, guardian_id)
            children = db.scalars(select(Person).join(Guardianship, Guardianship.child_id == Person.id)
                                  .where(Guardianship.guardian_id == guardian_id)).all()
            assert len(children) == 2
            assert {c.family_name for c in children} == {guardian.family_name}
            given = [guardian.given_name, *(c.given_name for c in children)]
            assert len(set(given)) == len(given), "nobody in a family shares a given name"
            assert all(age(guardian, clock.now().date()) - age(c, clock.now().date()) >= 18 for c in children)
            families += 1
        assert families >= 15


def test_the_same_seed_gives_the_same_persons_with_test_numbers(ctx: Context,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    again = build_context(Settings(), Path(tmp_path_factory.mktemp("seed-again")))

    def initial(context: Context) -> list[tuple]:
        with context.db() as db:
            ids = [pid for role in seed.ROLES for pid in context.extras["seed"].get(role, [])]
            views = [seed.person_view(db.get(Person, pid)) for pid in ids]
            times = [local(b.starts_at) for pid in ids
                     for b in db.scalars(select(Booking).where(Booking.patient_id == pid).order_by(Booking.kind))]
        return [tuple(v[k] for k in sorted(v) if k != "id") for v in views] + [tuple(times)]

    try:
        assert initial(ctx) == initial(again)
    finally:
        again.engine.dispose()
    with ctx.db() as db:
        for person in db.scalars(select(Person)).all():
            number = person.personnummer
            assert personnummer.valid(number) and len(number) == 12
            assert int(number[8:11]) in pnr.TEST_SERIALS, "Skatteverket's test range of birth numbers"
