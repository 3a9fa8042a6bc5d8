"""Web sessions for the e-services: the cookie, CSRF tokens, whom one acts for, and the guard every page passes.

A web session is an ``AppSession`` of channel "web" behind an opaque cookie (``sut/sessions.py``); it ends after
30 idle minutes like the app's (BR-ID-2). Pages never trust the cookie alone for more than identity: whom one acts
for is resolved again on every request (BR-PROXY-1), and every form carries a per-session CSRF token (BR-SEC-1).
All of this lives in the database or is derived from the cookie, none in process memory: it survives a restart and
holds when several server processes share one database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import clock, faults, services
from ..auth import Principal, Subject, app_client, require_supported_app, resolve_subject
from ..context import Context
from ..db import AppSession, Person, Region, WebLogin
from ..links import app_link
from ..problems import Problem
from ..security import digest, pkce_s256
from ..sessions import revoke, web_session
from ..templating import render

SESSION_COOKIE = "eservice_session"
STATE_COOKIE = "login_state"
CALLBACK = "/auth/callback"
LOGIN_TTL = 600  # seconds a started login may take at the identity provider
REGION_PAGE = "/region-not-joined"
APP_RENEW = app_link("sso/renew")  # the app fetches a fresh ticket and posts it to /sso (BR-ID-3)
# What a guardian may use while acting for a child: the child's inbox, bookings and notification settings
# (BR-PROXY-1). Every other page is one's own and says so, with the way back (PDL 5 kap. 5 §).
OMBUD_NAV = frozenset({"start", "inbox", "bookings", "settings"})

log = logging.getLogger("sut.web")


def cookie_args() -> dict[str, Any]:
    """Session cookies: Secure, HttpOnly, SameSite=Lax, whole site (BR-SEC-1)."""
    return {"httponly": True, "secure": True, "samesite": "lax", "path": "/"}


def safe_next(value: str | None) -> str:
    """A local path to continue to after login; anything else (other hosts, schemes, '//') goes to the start."""
    if value and faults.active("open-redirect"):
        return value  # the defect: any address, another site's too
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\\\r\n\t") or ":" in value.split("?", 1)[0]:
        return "/"
    return value


@dataclass(frozen=True)
class PendingLogin:
    next: str
    verifier: str


def _verifier(state: str, salt: str) -> str:
    """The PKCE verifier of a login: needs the state, which only the browser holds, and the stored salt."""
    mac = hmac.new(state.encode(), f"pkce:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()  # 43 characters, as RFC 7636 asks


def begin_login(db: Session, next_path: str, *, max_pending: int) -> tuple[str, str]:
    """A fresh ``state`` and the PKCE challenge for it; the verifier never leaves the server."""
    now = clock.now()
    # Logins never finished are cleaned up here, so the table holds at most LOGIN_TTL's worth of them, and no
    # more than max_pending at once: a flood of started logins is refused, not stored (BR-SEC-1).
    db.execute(delete(WebLogin).where(WebLogin.expires_at <= now))
    if (db.scalar(select(func.count()).select_from(WebLogin)) or 0) >= max_pending:
        raise Problem(429, "Too many logins in progress; try again in a moment.",
                      headers={"Retry-After": str(LOGIN_TTL // 10)})
    state = secrets.token_urlsafe(24)
    salt = secrets.token_urlsafe(24)
    db.add(WebLogin(state_hash=digest(state), verifier_salt=salt, next_path=safe_next(next_path),
                    expires_at=now + timedelta(seconds=LOGIN_TTL)))
    return state, pkce_s256(_verifier(state, salt))


def finish_login(db: Session, state: str) -> PendingLogin | None:
    """The login started with ``state``, once only, within its lifetime; an expired one is removed and refused."""
    record = db.get(WebLogin, digest(state))
    if record is None:
        return None
    pending = PendingLogin(next=record.next_path, verifier=_verifier(state, record.verifier_salt))
    expired = clock.as_utc(record.expires_at) <= clock.now()
    # Claimed in one conditional write, so of two callbacks racing with the same state only one goes on.
    claimed = db.execute(delete(WebLogin).where(WebLogin.state_hash == record.state_hash)).rowcount
    return pending if claimed == 1 and not expired else None


def csrf_token(cookie: str) -> str:
    """Per session and unguessable without the session cookie, which pages cannot read; nothing to store, so it
    holds across restarts and server processes."""
    return hmac.new(cookie.encode(), b"csrf", hashlib.sha256).hexdigest()


class WebExit(Exception):
    """Leave a page handler early with a ready response (a redirect to login, the SSO-required page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Visit:
    """Who is looking at a page: the web session, the person, their region, and whose data the page shows."""

    request: Request
    db: Session
    session: AppSession
    person: Person
    region: Region
    subject: Subject
    csrf: str

    @property
    def acting(self) -> bool:
        return self.subject.role == "ombud"

    @property
    def principal(self) -> Principal:
        return Principal(session=self.session, person=self.person)

    @property
    def in_app(self) -> bool:
        return app_client(self.request.headers.get("user-agent")) is not None

    _children: list[dict[str, Any]] | None = field(default=None, init=False, repr=False)

    @property
    def children(self) -> list[dict[str, Any]]:
        """Whom else the user may act for (BR-PROXY-1); the switch is offered only when there is a choice.

        Cached per visit by hand: Python 3.11's functools.cached_property holds one lock for every instance, so a
        request waiting there for another's database work deadlocked with it until SQLite's busy timeout."""
        if self._children is None:
            self._children = services.acting_for(self.db, self.person)
        return self._children

    @property
    def can_switch(self) -> bool:
        return self.acting or bool(self.children)

    def shows(self, nav: str) -> bool:
        """Whether a menu item or shortcut belongs on this user's pages: while acting for a child, only what an
        ombud may use (BR-PROXY-1)."""
        return not self.acting or nav in OMBUD_NAV

    def require_csrf(self, token: str | None) -> None:
        if not token or not hmac.compare_digest(self.csrf, token):
            raise Problem(403, "Formuläret kunde inte skickas. Ladda om sidan och försök igen.",
                          type_="urn:1177:problem:csrf")

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        return render(self.request, template, status=status, v=self, **context)


def requested_path(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


def login_required(request: Request) -> Response:
    """No live web session. In the app, ask it to run SSO again instead of looping back to login (BR-ID-3)."""
    next_path = safe_next(requested_path(request))
    if app_client(request.headers.get("user-agent")) is not None and not faults.active("webview-login-loop"):
        renew = f"{APP_RENEW}?{urlencode({'next': next_path})}"
        return render(request, "sso_required.html", status=401, renew_url=renew, next_path=next_path)
    return RedirectResponse(f"/login?next={quote(next_path, safe='/')}", status_code=303)


def _app_logged_out(db: Session, session: AppSession) -> bool:
    """A WebView session opened by SSO ends when the app session behind it is logged out or revoked (BR-ID-2);
    the app's own idle timeout does not end it, since the web session keeps its own."""
    parent = db.get(AppSession, session.origin_session_id) if session.origin_session_id else None
    if parent is None or parent.revoked_at is None or parent.revoked_reason == "idle-timeout":
        return False
    revoke(db, session, f"app-{parent.revoked_reason or 'revoked'}")
    db.commit()
    return True


def visit(ctx: Context, request: Request, db: Session, *, joined: bool = True, app_version: bool = True) -> Visit:
    """The guard of every e-service page; raises WebExit with the page to show instead when it does not pass."""
    if app_version:
        require_supported_app(ctx, request)  # an app below the minimum version gets 426 (BR-REG-3)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = web_session(ctx, db, cookie)
    person = db.get(Person, session.subject_id) if session and session.subject_kind == "person" else None
    if session is None or person is None or not cookie:
        raise WebExit(login_required(request))
    if _app_logged_out(db, session):
        raise WebExit(login_required(request))
    region = services.region_of(db, person)
    if joined:
        try:
            services.require_joined(db, person)
        except Problem as exc:
            if exc.type != services.REGION_NOT_JOINED:
                raise
            # BR-REG-1: no e-service for a user whose region has not joined, only the page that sends them on.
            raise WebExit(RedirectResponse(REGION_PAGE, status_code=303)) from None
    subject = Subject(person=person, role="self")
    if session.acting_for_id:
        try:
            subject = resolve_subject(db, person, session.acting_for_id)
        except Problem:
            session.acting_for_id = None  # e.g. the child turned 13: back to acting for oneself
    return Visit(request=request, db=db, session=session, person=person, region=region, subject=subject,
                 csrf=csrf_token(cookie))


# Swedish texts for the error page, by problem type, then by status.
ERROR_TEXTS: dict[str, tuple[str, str]] = {
    "urn:1177:problem:csrf": ("Formuläret kunde inte skickas",
                              "Sidan var för gammal eller kom inte från 1177. Gå tillbaka, ladda om sidan och "
                              "försök igen."),
    "urn:1177:problem:sso-ticket": ("Inloggningen via appen misslyckades",
                                    "Inloggningsbiljetten från appen är ogiltig, har redan använts eller har gått "
                                    "ut. Öppna tjänsten från appen igen."),
    "urn:1177:problem:login-state": ("Inloggningen kunde inte slutföras",
                                     "Inloggningen tog för lång tid eller startades inte här. Försök igen."),
    "urn:1177:problem:not-ombud": ("Du kan inte vara ombud för den personen",
                                   "Du kan bara agera för dina egna barn under 13 år."),
    "urn:1177:problem:journal-not-for-ombud": ("Journalen är inte tillgänglig som ombud",
                                              "Som vårdnadshavare kan du inte läsa ditt barns journal här. Byt "
                                              "tillbaka till dig själv för att läsa din egen journal."),
    "urn:1177:problem:ombud-not-allowed": ("Inte tillgängligt som ombud",
                                           "Den här tjänsten kan du bara använda för dig själv. Byt tillbaka "
                                           "till dig själv för att använda den."),
    "urn:1177:problem:app-update-required": ("Uppdatera appen",
                                             "Den här versionen av 1177-appen stöds inte längre. Uppdatera appen "
                                             "i App Store eller Google Play."),
}
STATUS_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Felaktig begäran", "Begäran kunde inte hanteras."),
    401: ("Du behöver logga in", "Logga in för att fortsätta."),
    403: ("Du har inte behörighet", "Du har inte behörighet att se det här."),
    404: ("Sidan finns inte", "Det du letar efter finns inte, eller så har du inte tillgång till det."),
    409: ("Det gick inte att genomföra", "Ändringen kunde inte göras just nu."),
    410: ("Sidan finns inte längre", "Det du letar efter har tagits bort."),
    422: ("Uppgifterna är inte giltiga", "Kontrollera uppgifterna och försök igen."),
    426: ERROR_TEXTS["urn:1177:problem:app-update-required"],
    429: ("För många försök", "Vänta en stund och försök igen."),
}
UNEXPECTED_TEXT = ("Något gick fel", "Ett oväntat fel inträffade. Försök igen senare.")
SWITCH_BACK_TYPES = {"urn:1177:problem:ombud-not-allowed", "urn:1177:problem:journal-not-for-ombud"}


def _error_for_visitor(request: Request, status: int, **context: Any) -> Response | None:
    """The error page inside the logged-in layout: header, menu, whom one acts for and logout stay, so an error
    never strands the user (BR-PROXY-1: the way back to oneself; BR-ID-2: logout). None when nobody is logged in
    or the session cannot be read, as when the database is what failed."""
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is None or not request.cookies.get(SESSION_COOKIE):
        return None
    try:
        with ctx.db() as db:
            # No app version check here: the update page itself is one of these pages (BR-REG-3).
            v = visit(ctx, request, db, joined=False, app_version=False)
            return v.page("error.html", status=status, nav="", limited_nav=not v.region.joined,
                          next_path=safe_next(requested_path(request)), **context)
    except WebExit:
        return None
    except Exception as exc:  # noqa: BLE001 - whatever broke, the error page still renders, without the session
        log.warning("error page without the session: %s", type(exc).__name__)
        return None


def error_page(request: Request, exc: Problem) -> Response:
    title, text = ERROR_TEXTS.get(exc.type) or STATUS_TEXTS.get(exc.status) or UNEXPECTED_TEXT
    context = {"title": title, "text": text, "problem_type": exc.type,
               "switch_back": exc.type in SWITCH_BACK_TYPES}
    response = _error_for_visitor(request, exc.status, **context)
    if response is None:
        in_app = app_client(request.headers.get("user-agent")) is not None
        login = f"{APP_RENEW}?{urlencode({'next': '/'})}" if in_app else "/login"
        response = render(request, "error.html", status=exc.status, v=None, login_url=login, **context)
    for name, value in exc.headers.items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


async def page_for_error(request: Request, exc: Problem) -> Response:
    """``error_page`` from async code: it reads the session from the database, which must never happen on the
    event loop (a wait for SQLite's write lock there would stop every request of the server)."""
    return await run_in_threadpool(error_page, request, exc)


class WebRoute(APIRoute):
    """Routes of the web pages: early exits and problems become HTML pages, and no page is cached (OSL-25-1)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except WebExit as exit_:
                response = exit_.response
            except Problem as exc:
                response = await page_for_error(request, exc)
            except (HTTPException, RequestValidationError, DataError):
                raise  # the application's handlers answer these, as for the API
            except Exception as exc:  # noqa: BLE001 - a page's bug is a Swedish 500 page, never a stack trace
                log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
                response = await page_for_error(request, Problem(500, "Ett oväntat fel inträffade."))
            response.headers["cache-control"] = "no-store"
            return response

        return page_handler

