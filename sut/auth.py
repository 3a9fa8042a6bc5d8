"""Who is calling: bearer tokens for the app and staff, cookies for the web, acting-for for ombud (BR-ID-2,
BR-PROXY-1), and the app's user agent and minimum version (BR-REG-3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import Request
from fastapi.dependencies.utils import get_flat_params
from sqlalchemy.orm import Session

from . import clock, faults
from .context import Context
from .db import AppSession, Guardianship, Person, Staff
from .problems import NOT_FOR_OMBUD, Problem
from .security import TokenError

ACTING_FOR_HEADER = "x-acting-for"
APP_UA = re.compile(r"1177-appen/(?P<version>\d+(?:\.\d+){0,2}) \((?P<platform>ios|android)\)")
OMBUD_MAX_AGE = 13  # a guardian acts for children under 13 only (BR-PROXY-1)


@dataclass(frozen=True)
class AppClient:
    version: str
    platform: str


def app_client(user_agent: str | None) -> AppClient | None:
    """The app declares itself as '1177-appen/<version> (<ios|android>)' (BR-REG-3); None for a browser."""
    match = APP_UA.search(user_agent or "")
    return AppClient(match["version"], match["platform"]) if match else None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def require_supported_app(ctx: Context, request: Request) -> AppClient | None:
    client = app_client(request.headers.get("user-agent"))
    if client and not faults.active("min-version-ignored"):
        minimum = ctx.settings.min_app_version[client.platform]
        if _version_tuple(client.version) < _version_tuple(minimum):
            raise Problem(426, f"Den här versionen av appen stöds inte längre. Uppdatera till {minimum} eller senare.",
                          type_="urn:1177:problem:app-update-required", minimum_version=minimum,
                          platform=client.platform)
    return client


def age_on(birth: date, day: date) -> int:
    if faults.active("ombud-age-off-by-one"):
        # The defect: the birthday itself not yet counted, so a child is a year younger on it.
        return day.year - birth.year - ((day.month, day.day) <= (birth.month, birth.day))
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass
class Principal:
    session: AppSession
    person: Person | None = None
    staff: Staff | None = None

    @property
    def actor_id(self) -> str:
        return self.session.subject_id


@dataclass
class Subject:
    """Whose data a request concerns, and in which role the caller acts (BR-PROXY-1, BR-AUDIT-1)."""

    person: Person
    role: str  # self, ombud


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Du behöver logga in.", headers={"WWW-Authenticate": 'Bearer realm="1177"'})
    return token.strip()


def check_session(ctx: Context, db: Session, session_id: str, *, touch: bool = True) -> AppSession:
    """A live session: not revoked, not idle past the timeout (BR-ID-2). Touching it counts as activity."""
    session = db.get(AppSession, session_id)
    now = clock.now()
    if session is None or session.revoked_at is not None:
        raise Problem(401, "Du är utloggad. Logga in igen.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    idle = now - clock.as_utc(session.last_seen_at)
    # The defect idle-timeout-off-by-minutes: five minutes' grace added "for clock skew".
    limit = ctx.settings.idle_timeout + (300 if faults.active("idle-timeout-off-by-minutes") else 0)
    if idle > timedelta(seconds=limit) and not faults.active("session-never-expires"):
        session.revoked_at = now
        session.revoked_reason = "idle-timeout"
        db.commit()
        raise Problem(401, "Du har loggats ut eftersom du inte har varit aktiv på en stund. Logga in igen.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if touch:
        session.last_seen_at = now
    return session


def authenticate(ctx: Context, db: Session, request: Request, *, kind: str) -> Principal:
    try:
        claims = ctx.keys.verify(bearer(request))
    except TokenError as exc:
        raise Problem(401, "Inloggningen gäller inte längre. Logga in igen.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    if claims.get("kind") != kind:
        raise Problem(403, "Inloggningen gäller inte för den här tjänsten.")
    session = check_session(ctx, db, claims["sid"])
    if session.subject_id != claims["sub"]:
        raise Problem(401, "Inloggningen gäller inte längre. Logga in igen.")
    if kind == "person":
        person = db.get(Person, claims["sub"])
        if person is None:
            raise Problem(401, "Inloggningen gäller inte längre. Logga in igen.")
        return Principal(session=session, person=person)
    staff = db.get(Staff, claims["sub"])
    if staff is None:
        raise Problem(401, "Inloggningen gäller inte längre. Logga in igen.")
    return Principal(session=session, staff=staff)


def resolve_subject(db: Session, person: Person, acting_for: str | None) -> Subject:
    """Self, or a child under 13 of whom the caller is guardian; anyone else is refused (BR-PROXY-1)."""
    if not acting_for or acting_for == person.id:
        return Subject(person=person, role="self")
    child = db.get(Person, acting_for)
    link = db.get(Guardianship, (person.id, acting_for)) if child else None
    if child is None or link is None:
        raise Problem(403, "Du kan inte vara ombud för den här personen.", type_="urn:1177:problem:not-ombud")
    if age_on(child.birth_date, clock.today()) >= OMBUD_MAX_AGE and not faults.active("ombud-teen"):
        raise Problem(403, "Som vårdnadshavare kan du bara vara ombud för barn under 13 år.",
                      type_="urn:1177:problem:not-ombud")
    return Subject(person=child, role="ombud")


def declares_acting_for(route: object) -> bool:
    """Whether an operation takes ``X-Acting-For``: it does when it declares the header as a parameter."""
    dependant = getattr(route, "dependant", None)
    return dependant is not None and any(
        (field.alias or "").lower() == ACTING_FOR_HEADER for field in get_flat_params(dependant))


def refuse_undeclared_acting_for(request: Request) -> None:
    """BR-PROXY-1: an operation honours ``X-Acting-For`` or refuses it, never quietly acts for the caller.

    Installed for every operation of an API, so a new operation cannot forget: without the header declared, the
    request would otherwise read, change or erase the guardian's own data while the app shows the child's."""
    if ACTING_FOR_HEADER not in request.headers or faults.active("acting-for-ignored"):
        return
    if not declares_acting_for(request.scope.get("route")):
        raise Problem(403, "Det här kan du inte göra som ombud. Byt till dig själv och försök igen.",
                      type_=NOT_FOR_OMBUD)
