"""The identity provider: simulated BankID / Freja eID for patients, SITHS for staff (BR-ID-1, BR-ID-2).

A person can click through the login page; automation uses the direct flow (``POST /idp/api/login``), which
returns the same one-time authorization code. Codes are exchanged at ``/idp/token`` (PKCE S256 supported).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, faults, pnr, problems
from .context import Context
from .db import Person, Staff
from .links import app_link
from .middleware import client_address
from .problems import Problem
from .security import digest
from .sessions import LOGIN_METHODS, exchange_code, find_person_for_login, issue_code, refresh_tokens
from .templating import render

# Where an authorization code may be sent: the app's own scheme, and the web e-services' callback.
REDIRECTS = {"app": (app_link("auth/callback"),), "web": ("/auth/callback",)}
PNR_PATTERN = r"^(\d{2})?\d{6}[-+]?\d{4}$"
# BR-ID-1: every refused login looks the same from outside, so no one learns whether a number belongs to a
# person, a deceased person or a samordningsnummer; the reason goes to the audit log only.
LOGIN_REFUSED = "urn:1177:problem:login-refused"
LOGIN_REFUSED_DETAIL = "Det gick inte att logga in med det här personnumret."
NOT_A_NUMBER_DETAIL = "Skriv ditt personnummer med 10 eller 12 siffror."


class DirectLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personnummer: str = Field(pattern=PNR_PATTERN, max_length=13,
                              description="A personnummer, 10 or 12 digits, with or without separator")
    method: Literal["bankid", "freja"] = "bankid"
    code_challenge: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{43}$")


class StaffLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hsa_id: str = Field(min_length=5, max_length=40, pattern=r"^[A-Za-z0-9-]+$")


class CodeResponse(BaseModel):
    code: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until the login ends: rotation does not extend it")


def _too_many(wait: float) -> Problem:
    return Problem(429, "För många inloggningsförsök. Vänta en stund och försök igen.",
                   headers={"Retry-After": str(int(wait))})


def _limit(ctx: Context, request: Request, identity: str) -> None:
    """BR-SEC-1: at most N attempts a minute for one identity (no login prompt spam against one person)."""
    try:
        key = pnr.normalise(identity)  # one person, however the number is written
    except pnr.InvalidPersonnummer:
        key = identity.strip()
    wait = ctx.login_limiter.hit(f"identity:{digest(key)}")
    if wait is not None:
        raise _too_many(wait)


def _refused(ctx: Context, request: Request, exc: Problem) -> Problem:
    """BR-SEC-1: refused attempts count per client address, so guessing and enumeration end in 429.

    Successful logins do not count here: many people share one address (NAT), and only failures are guessing."""
    wait = ctx.login_limiter.hit(f"refused:{client_address(request)}")
    return _too_many(wait) if wait is not None else exc


def _login(ctx: Context, db: Session, request: Request, personnummer: str) -> Person:
    """The person a login is for, or one and the same refusal whatever the reason (BR-ID-1)."""
    try:
        return find_person_for_login(db, personnummer)
    except Problem as exc:
        reason = exc.type.rpartition(":")[2]
        try:
            number = pnr.normalise(personnummer)
        except pnr.InvalidPersonnummer:
            number = None
        person = db.scalar(select(Person).where(Person.personnummer == number)) if number else None
        audit.record(db, actor_kind="person", actor_id="unknown", subject_id=person.id if person else "unknown",
                     role="self", action="login.refused", resource_type="login", resource_id=reason)
        if faults.active("login-reveals-reason"):
            raise _refused(ctx, request, exc) from None
        raise _refused(ctx, request, Problem(403, LOGIN_REFUSED_DETAIL, type_=LOGIN_REFUSED)) from None


def create_idp(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 reference identity provider", version="1", docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    problems.install(app)

    @app.get("/authorize", include_in_schema=False)
    def authorize_page(request: Request, client_id: str = "web", redirect_uri: str = "/auth/callback",
                       state: str = "", code_challenge: str = "") -> Response:
        if redirect_uri not in REDIRECTS.get(client_id, ()):
            raise Problem(400, "Okänd klient eller återhoppsadress.")
        hidden = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                  "code_challenge": code_challenge}
        return render(request, "idp_login.html", hidden=hidden, error=None)

    @app.post("/authorize", include_in_schema=False)
    def authorize_submit(request: Request, personnummer: Annotated[str, Form()] = "",
                         method: Annotated[str, Form()] = "bankid", client_id: Annotated[str, Form()] = "web",
                         redirect_uri: Annotated[str, Form()] = "/auth/callback",
                         state: Annotated[str, Form()] = "",
                         code_challenge: Annotated[str, Form(max_length=128)] = "") -> Response:  # RFC 7636 4.2
        if redirect_uri not in REDIRECTS.get(client_id, ()) or method not in LOGIN_METHODS:
            raise Problem(400, "Okänd klient, återhoppsadress eller inloggningsmetod.")
        hidden = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                  "code_challenge": code_challenge}
        _limit(ctx, request, personnummer)
        if not re.fullmatch(PNR_PATTERN, personnummer.strip()):
            return render(request, "idp_login.html", status=422, hidden=hidden, error=NOT_A_NUMBER_DETAIL)
        with ctx.db() as db:
            try:
                person = _login(ctx, db, request, personnummer)
            except Problem as refusal:
                return render(request, "idp_login.html", status=refusal.status, hidden=hidden, error=refusal.detail)
            code = issue_code(db, subject_kind="person", subject_id=person.id, method=method,
                              redirect_uri=redirect_uri, code_challenge=code_challenge or None)
        query = urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=303)

    @app.post("/api/login", response_model=CodeResponse, responses={
        403: {"description": "Refused, with one answer whatever the reason (unknown, deceased, samordningsnummer, "
                             f"reservnummer or an invalid number): {LOGIN_REFUSED}"},
        422: {"description": "Not a personnummer at all (10 or 12 digits)"}, 429: {"description": "Too many attempts"}})
    def direct_login(body: DirectLogin, request: Request) -> CodeResponse:
        """Direct flow for automation: the same checks as the login page, answered with a code."""
        _limit(ctx, request, body.personnummer)
        with ctx.db() as db:
            person = _login(ctx, db, request, body.personnummer)
            code = issue_code(db, subject_kind="person", subject_id=person.id, method=body.method,
                              code_challenge=body.code_challenge)
        return CodeResponse(code=code)

    @app.post("/api/staff-login", response_model=CodeResponse,
              responses={403: {"description": "Unknown staff member"}})
    def staff_login(body: StaffLogin, request: Request) -> CodeResponse:
        """Simulated SITHS card login of a staff member, scoped to their care unit."""
        _limit(ctx, request, body.hsa_id)
        with ctx.db() as db:
            staff = db.scalar(select(Staff).where(Staff.hsa_id == body.hsa_id))
            if staff is None:
                raise _refused(ctx, request, Problem(403, "Det gick inte att logga in med det här HSA-id:t."))
            code = issue_code(db, subject_kind="staff", subject_id=staff.id, method="siths")
        return CodeResponse(code=code)

    @app.post("/token", response_model=TokenResponse, responses={400: {"description": "invalid_grant"}})
    def token(grant_type: Annotated[Literal["authorization_code", "refresh_token"], Form()],
              code: Annotated[str | None, Form(max_length=200)] = None,
              code_verifier: Annotated[str | None, Form(max_length=200)] = None,
              redirect_uri: Annotated[str | None, Form(max_length=200)] = None,
              refresh_token: Annotated[str | None, Form(max_length=200)] = None) -> JSONResponse:
        with ctx.db() as db:
            if grant_type == "authorization_code":
                if not code:
                    raise Problem(400, "Koden saknas (code).", error="invalid_request")
                tokens = exchange_code(ctx, db, code, code_verifier, redirect_uri)
            else:
                if not refresh_token:
                    raise Problem(400, "Förnyelsetoken saknas (refresh_token).", error="invalid_request")
                tokens = refresh_tokens(ctx, db, refresh_token)
        return JSONResponse(tokens.as_json(), headers={"Cache-Control": "no-store"})

    @app.get("/jwks.json")
    def jwks() -> dict:
        return ctx.keys.jwks()

    return app
