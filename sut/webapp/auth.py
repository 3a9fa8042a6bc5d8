"""Login to the web e-services: through the identity provider, by SSO from the app, and logout (BR-ID-1..3)."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from .. import faults, services
from ..auth import app_client, require_supported_app
from ..context import Context
from ..db import AppSession, Person
from ..problems import Problem
from ..security import digest, new_secret
from ..sessions import WEB_AUDIENCE, exchange_code, redeem_sso_ticket, revoke, start_web_session, web_session
from ..templating import render
from .session import (
    APP_RENEW,
    CALLBACK,
    LOGIN_TTL,
    REGION_PAGE,
    SESSION_COOKIE,
    STATE_COOKIE,
    WebExit,
    WebRoute,
    begin_login,
    cookie_args,
    finish_login,
    safe_next,
    visit,
)

LOGIN_STATE_ERROR = "urn:1177:problem:login-state"
SSO_TICKET_ERROR = "urn:1177:problem:sso-ticket"


def _landing(db: Session, person: Person, next_path: str) -> str:
    """Where a fresh session goes: its page, or for a region that has not joined only the 1177.se page."""
    try:
        services.require_joined(db, person)
    except Problem as exc:
        if exc.type != services.REGION_NOT_JOINED:
            raise
        return REGION_PAGE
    return next_path


def _cross_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") != own


def _signed_in(target: str, secret: str, *, person: Person, path: str = "/") -> Response:
    if faults.active("pnr-in-url"):
        # The defect: a "welcome" step that greets by personnummer, carried in the query string (BR-SEC-1).
        target = f"/welcome?{urlencode({'personnummer': person.personnummer, 'next': target})}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, **{**cookie_args(), "path": path})
    return response


def create_auth_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=WebRoute)

    @router.get("/login")
    def login(request: Request, next: str = "/") -> Response:
        """Start the authorization code flow at the IdP with a fresh state and PKCE (BR-ID-1)."""
        with ctx.db() as db:
            state, challenge = begin_login(db, next, max_pending=ctx.settings.max_pending_web_logins)
        query = urlencode({"client_id": "web", "redirect_uri": CALLBACK, "state": state,
                           "code_challenge": challenge})
        response = RedirectResponse(f"/idp/authorize?{query}", status_code=303)
        # The state is bound to this browser, so a code cannot be injected from someone else's login.
        response.set_cookie(STATE_COOKIE, state, max_age=LOGIN_TTL, **{**cookie_args(), "path": CALLBACK})
        return response

    @router.get(CALLBACK)
    def callback(request: Request, code: str = "", state: str = "") -> Response:
        """Check the state, exchange the code, and start a web session behind a fresh cookie."""
        expected = request.cookies.get(STATE_COOKIE, "")
        if not state or not expected or not hmac.compare_digest(state, expected):
            raise Problem(400, "Inloggningen gick inte att känna igen. Logga in igen.", type_=LOGIN_STATE_ERROR)
        with ctx.db() as db:  # claimed in its own transaction: a failed exchange below does not give it back
            pending = finish_login(db, state)
        if pending is None or not code:
            raise Problem(400, "Inloggningen har gått ut eller påbörjades inte här. Logga in igen.",
                          type_=LOGIN_STATE_ERROR)
        with ctx.db() as db:
            tokens = exchange_code(ctx, db, code, pending.verifier, CALLBACK)
            # The session the code opened becomes the web session: the cookie replaces the app's tokens, which
            # never leave this process.
            session = db.get(AppSession, tokens.session_id)
            person = db.get(Person, session.subject_id) if session else None
            if session is None or person is None or session.subject_kind != "person":
                raise Problem(400, "Inloggningen gäller inte en patient.", type_=LOGIN_STATE_ERROR)
            secret = new_secret()
            session.channel = "web"
            session.refresh_hash = digest(secret)
            session.refresh_expires_at = None
            target = _landing(db, person, pending.next)
        response = _signed_in(target, secret, person=person)
        response.delete_cookie(STATE_COOKIE, path=CALLBACK, secure=True, httponly=True, samesite="lax")
        return response

    @router.post("/sso")
    def sso(request: Request, ticket: Annotated[str, Form(max_length=200)] = "",
            next: Annotated[str, Form(max_length=500)] = "/") -> Response:
        """BR-ID-3: redeem a one-time ticket for the web e-services and start a web session."""
        require_supported_app(ctx, request)
        if _cross_site(request):
            # Defence in depth against login CSRF: another site's page may not post a ticket here. The app's
            # WebView sends no Origin (or "null") when it posts the ticket it fetched itself.
            raise Problem(403, "SSO-anrop från en annan webbplats tas inte emot.", type_=SSO_TICKET_ERROR)
        if not ticket:
            raise Problem(401, "En SSO-biljett krävs.", type_=SSO_TICKET_ERROR)
        with ctx.db() as db:
            try:
                record = redeem_sso_ticket(ctx, db, ticket, WEB_AUDIENCE)
            except Problem as exc:
                if exc.status != 401:
                    raise
                # Whatever the reason (the app's session has ended, too): the page says the ticket is no good.
                raise Problem(401, exc.detail, type_=SSO_TICKET_ERROR) from None
            person = db.get(Person, record.person_id)
            if person is None:
                raise Problem(401, "SSO-biljetten är inte giltig.", type_=SSO_TICKET_ERROR)
            old = web_session(ctx, db, request.cookies.get(SESSION_COOKIE))
            if old is not None:  # a new login never inherits an old session (session fixation)
                revoke(db, old, "replaced-by-sso")
            _, secret = start_web_session(db, person.id, "sso", origin_session_id=record.app_session_id)
            target = _landing(db, person, safe_next(next))
        # The defect sso-cookie-lost: the hand-over's cookie scoped to the path that set it, so no page receives it.
        return _signed_in(target, secret, person=person, path="/sso" if faults.active("sso-cookie-lost") else "/")

    @router.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:  # nosec B107 # a form field's empty default
        with ctx.db() as db:
            try:
                v = visit(ctx, request, db, joined=False)
            except WebExit:
                v = None  # already logged out or expired: just clear the cookie
            if v is not None:
                v.require_csrf(csrf_token)
                services.logout(db, v.principal)
        response = RedirectResponse("/logged-out", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response

    @router.get("/logged-out")
    def logged_out(request: Request) -> Response:
        in_app = app_client(request.headers.get("user-agent")) is not None
        again = f"{APP_RENEW}?{urlencode({'next': '/'})}" if in_app else "/login"
        return render(request, "logged_out.html", login_again=again)

    @router.get(REGION_PAGE)
    def region_not_joined(request: Request) -> Response:
        """BR-REG-1: the only page for a user whose region has not joined: go to 1177.se in the browser."""
        with ctx.db() as db:
            v = visit(ctx, request, db, joined=False)
            if v.region.joined:
                return RedirectResponse("/", status_code=303)
            return v.page("region_not_joined.html", external_url=services.EXTERNAL_1177)

    @router.get("/welcome")
    def welcome(request: Request, next: str = "/") -> Response:
        """The greeting step the pnr-in-url fault sends logins through; without the fault nobody lands here."""
        with ctx.db() as db:
            v = visit(ctx, request, db, joined=False)
            return v.page("welcome.html", next_path=safe_next(next))

    return router
