"""Logins, token issue and rotation, logout, SSO tickets (BR-ID-1..3): shared by the IdP, API and web."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import clock, faults, pnr
from .auth import check_session
from .context import Context
from .db import AppSession, AuthCode, Person, Region, SsoTicket, Staff, UsedRefreshToken
from .problems import Problem
from .security import digest, new_secret, pkce_s256

CODE_TTL = 120
WEB_AUDIENCE = "1177-eservices"
LOGIN_METHODS = ("bankid", "freja")


def find_person_for_login(db: Session, personnummer: str) -> Person:
    """BR-ID-1: a valid personnummer of a living, known person; samordningsnummer are refused."""
    try:
        number = pnr.normalise(personnummer)
    except pnr.InvalidPersonnummer as exc:
        raise Problem(422, "Ange ett giltigt personnummer.", type_="urn:1177:problem:invalid-personnummer") from exc
    if pnr.is_coordination_number(number) and not faults.active("samordningsnummer-login"):
        raise Problem(403, "Inloggning med samordningsnummer stöds inte.",
                      type_="urn:1177:problem:samordningsnummer")
    person = db.scalar(select(Person).where(Person.personnummer == number))
    if person is None:
        raise Problem(403, "Personen kan inte logga in.", type_="urn:1177:problem:unknown-person")
    if person.deceased and not faults.active("deceased-login"):
        raise Problem(403, "Personen kan inte logga in.", type_="urn:1177:problem:deceased")
    return person


def issue_code(db: Session, *, subject_kind: str, subject_id: str, method: str, redirect_uri: str | None = None,
               code_challenge: str | None = None) -> str:
    code = new_secret()
    db.add(AuthCode(hash=digest(code), subject_kind=subject_kind, subject_id=subject_id, method=method,
                    redirect_uri=redirect_uri, code_challenge=code_challenge,
                    expires_at=clock.now() + timedelta(seconds=CODE_TTL)))
    return code


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    refresh_expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in,  # nosec B105 # the OAuth token type, not a secret
                "refresh_token": self.refresh_token, "refresh_expires_in": self.refresh_expires_in}


def _refresh_left(session: AppSession) -> int:
    """Seconds the login has left, rounded up: the refresh token's lifetime, counted from the login."""
    if session.refresh_expires_at is None:
        return 0
    return max(0, math.ceil((clock.as_utc(session.refresh_expires_at) - clock.now()).total_seconds()))


def _refused_refresh(db: Session, session: AppSession, reason: str) -> Problem:
    """The session ends for good (a later login starts a new one); the caller learns only invalid_grant."""
    if session.revoked_at is None:
        session.revoked_at = clock.now()
        session.revoked_reason = reason
    session.refresh_hash = None
    db.commit()
    return Problem(400, "Förnyelsetoken är inte giltig.", error="invalid_grant")


def subject_refusal(db: Session, session: AppSession) -> str | None:
    """Why the session's subject may no longer hold it, or None: the checks of a login, made again on every use
    of a refresh token (BR-ID-1), since the register may have changed since the login; and a person whose region
    has not joined the app has no app session to renew (BR-REG-1)."""
    if session.subject_kind == "staff":
        return None if db.get(Staff, session.subject_id) is not None else "unknown-subject"
    person = db.get(Person, session.subject_id)
    if person is None:
        return "unknown-subject"
    if person.deceased:
        return "deceased"
    if pnr.is_coordination_number(person.personnummer):
        return "samordningsnummer"
    region = db.get(Region, person.region_code)
    if region is None or not region.joined:
        return "region-not-joined"
    return None


def end_sessions(db: Session, person_id: str, reason: str) -> int:
    """End every live session of a person, app and web alike; returns how many ended."""
    ended = 0
    for session in db.scalars(select(AppSession).where(AppSession.subject_kind == "person",
                                                       AppSession.subject_id == person_id,
                                                       AppSession.revoked_at.is_(None))):
        revoke(db, session, reason)
        ended += 1
    db.flush()
    return ended


def _access_token(ctx: Context, session: AppSession, db: Session) -> str:
    claims: dict[str, Any] = {"sub": session.subject_id, "sid": session.id, "kind": session.subject_kind,
                              "amr": [session.method], "acr": "loa3"}
    if session.subject_kind == "staff":
        staff = db.get(Staff, session.subject_id)
        claims["care_unit"] = staff.care_unit_id if staff else None
    return ctx.keys.mint(claims, ctx.settings.access_token_ttl)


def _new_refresh(ctx: Context, session: AppSession) -> str:
    refresh = new_secret()
    session.refresh_hash = digest(refresh)
    session.refresh_expires_at = clock.now() + timedelta(seconds=ctx.settings.refresh_token_ttl)
    return refresh


def exchange_code(ctx: Context, db: Session, code: str, code_verifier: str | None,
                  redirect_uri: str | None) -> TokenSet:
    record = db.get(AuthCode, digest(code))
    now = clock.now()
    if record is None or record.used_at is not None or clock.as_utc(record.expires_at) <= now:
        raise Problem(400, "Inloggningskoden är inte giltig.", error="invalid_grant")
    if record.code_challenge and (not code_verifier or pkce_s256(code_verifier) != record.code_challenge):
        raise Problem(400, "Kodverifieraren (code_verifier) stämmer inte.", error="invalid_grant")
    if record.redirect_uri and redirect_uri != record.redirect_uri:
        raise Problem(400, "Återhoppsadressen (redirect_uri) stämmer inte.", error="invalid_grant")
    # Claimed in one conditional write, so two requests racing with the same code cannot both win.
    claimed = db.execute(update(AuthCode).where(AuthCode.hash == record.hash, AuthCode.used_at.is_(None))
                         .values(used_at=now)).rowcount
    if claimed != 1:
        raise Problem(400, "Inloggningskoden är inte giltig.", error="invalid_grant")
    session = AppSession(subject_kind=record.subject_kind, subject_id=record.subject_id, channel="app",
                         method=record.method, created_at=now, last_seen_at=now)
    db.add(session)
    db.flush()
    refresh = _new_refresh(ctx, session)
    return TokenSet(_access_token(ctx, session, db), refresh, ctx.settings.access_token_ttl, session.id,
                    _refresh_left(session))


def refresh_tokens(ctx: Context, db: Session, refresh_token: str) -> TokenSet:
    """Rotate: each refresh token works once; a reused one revokes the whole session (theft). Every use checks
    the session (revoked, idle) and its subject again, as a login would (BR-ID-1, BR-ID-2); rotation never moves
    the login's end, so a login lasts at most the refresh token's lifetime however active it is."""
    hashed = digest(refresh_token)
    now = clock.now()
    used = db.get(UsedRefreshToken, hashed)
    if used is not None and not faults.active("refresh-token-reuse"):
        session = db.get(AppSession, used.session_id)
        if session and session.revoked_at is None:
            session.revoked_at = now
            session.revoked_reason = "refresh-token-reuse"
            db.commit()
        raise Problem(400, "Förnyelsetoken har redan använts.", error="invalid_grant")
    if used is not None:
        session = db.get(AppSession, used.session_id)
    else:
        session = db.scalar(select(AppSession).where(AppSession.refresh_hash == hashed))
    if (session is None or session.revoked_at is not None or session.refresh_expires_at is None
            or clock.as_utc(session.refresh_expires_at) <= now):
        raise Problem(400, "Förnyelsetoken är inte giltig.", error="invalid_grant")
    try:
        check_session(ctx, db, session.id)
    except Problem as exc:  # idle past the timeout: at the token endpoint that is OAuth's invalid_grant (400)
        raise Problem(400, exc.detail, error="invalid_grant") from None
    refusal = None if faults.active("refresh-skips-person-check") else subject_refusal(db, session)
    if refusal is not None:
        raise _refused_refresh(db, session, refusal)
    if faults.active("refresh-token-reuse"):
        refresh = refresh_token  # the defect: the same refresh token is handed back and keeps working
    else:
        refresh = new_secret()
        # Rotated in one conditional write: of two requests racing with the same refresh token, one wins.
        rotated = db.execute(update(AppSession).where(AppSession.id == session.id, AppSession.refresh_hash == hashed)
                             .values(refresh_hash=digest(refresh))).rowcount
        if rotated != 1:
            raise Problem(400, "Förnyelsetoken har redan använts.", error="invalid_grant")
        db.add(UsedRefreshToken(hash=hashed, session_id=session.id))
        db.refresh(session)
    return TokenSet(_access_token(ctx, session, db), refresh, ctx.settings.access_token_ttl, session.id,
                    _refresh_left(session))


def revoke(db: Session, session: AppSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = clock.now()
        session.revoked_reason = reason
    session.refresh_hash = None


def issue_sso_ticket(ctx: Context, db: Session, session: AppSession, person: Person, audience: str) -> str:
    ticket = new_secret()
    # The defect: a lifetime read as minutes where seconds were meant, doubled for "slow networks".
    ttl = 2 * ctx.settings.sso_ticket_ttl if faults.active("sso-ticket-ttl-long") else ctx.settings.sso_ticket_ttl
    db.add(SsoTicket(hash=digest(ticket), person_id=person.id, app_session_id=session.id, audience=audience,
                     expires_at=clock.now() + timedelta(seconds=ttl)))
    return ticket


def redeem_sso_ticket(ctx: Context, db: Session, ticket: str, audience: str) -> SsoTicket:
    """BR-ID-3: one time only, for its own audience, within its lifetime, from a live app session."""
    record = db.get(SsoTicket, digest(ticket))
    now = clock.now()
    if record is None:
        raise Problem(401, "SSO-biljetten är inte giltig.", type_="urn:1177:problem:sso-ticket")
    if record.used_at is not None and not faults.active("sso-ticket-replay"):
        raise Problem(401, "SSO-biljetten har redan använts.", type_="urn:1177:problem:sso-ticket")
    if clock.as_utc(record.expires_at) <= now:
        raise Problem(401, "SSO-biljetten har gått ut.", type_="urn:1177:problem:sso-ticket")
    if record.audience != audience:
        raise Problem(401, "SSO-biljetten gäller en annan tjänst.", type_="urn:1177:problem:sso-ticket")
    check_session(ctx, db, record.app_session_id, touch=False)
    if faults.active("sso-ticket-replay"):
        record.used_at = now
        return record
    # Claimed in one conditional write, so a ticket replayed concurrently is still used only once.
    claimed = db.execute(update(SsoTicket).where(SsoTicket.hash == record.hash, SsoTicket.used_at.is_(None))
                         .values(used_at=now)).rowcount
    if claimed != 1:
        raise Problem(401, "SSO-biljetten har redan använts.", type_="urn:1177:problem:sso-ticket")
    db.refresh(record)
    return record


def start_web_session(db: Session, person_id: str, method: str,
                      origin_session_id: str | None = None) -> tuple[AppSession, str]:
    """A web session behind an opaque cookie; the cookie value is stored only as its hash. One opened by SSO
    remembers the app session it came from, whose logout ends it (BR-ID-3)."""
    now = clock.now()
    secret = new_secret()
    session = AppSession(subject_kind="person", subject_id=person_id, channel="web", method=method,
                         created_at=now, last_seen_at=now, refresh_hash=digest(secret),
                         origin_session_id=origin_session_id)
    db.add(session)
    db.flush()
    return session, secret


def web_session(ctx: Context, db: Session, cookie: str | None) -> AppSession | None:
    """The live web session behind a cookie, or None (missing, revoked or idle past the timeout)."""
    if not cookie:
        return None
    session = db.scalar(select(AppSession).where(AppSession.refresh_hash == digest(cookie),
                                                 AppSession.channel == "web"))
    if session is None:
        return None
    try:
        return check_session(ctx, db, session.id)
    except Problem:
        return None
