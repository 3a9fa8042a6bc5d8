"""The identity provider: simulated BankID / Freja eID for patients, SITHS for staff (BR-ID-1, BR-ID-2).

A person can click through the login page; automation uses the direct flow (``POST /idp/api/login``), which
returns the same one-time authorization code. Codes are exchanged at ``/idp/token`` (PKCE S256 supported).
Its OpenAPI document, with the login flow step by step, is ``/idp/openapi.json``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, faults, pnr, problems, text
from .context import Context
from .db import Person, Staff
from .links import app_link
from .middleware import client_address
from .problems import Problem
from .schemas import EXAMPLE_PERSONNUMMER, ProblemDetail, finish_openapi, problem_responses
from .security import digest
from .sessions import LOGIN_METHODS, exchange_code, find_person_for_login, issue_code, refresh_tokens
from .templating import render

# Where an authorization code may be sent: the app's own scheme, and the web e-services' callback.
log = logging.getLogger("sut")
REDIRECTS = {"app": (app_link("auth/callback"),), "web": ("/auth/callback",)}
CODE_CHALLENGE = r"^[A-Za-z0-9_-]{43}$"  # BASE64URL(SHA-256(verifier)) without padding (RFC 7636 4.2)
MASKED_CODE = "[masked]"  # examples never show a usable code or token

DESCRIPTION = f"""The identity provider: simulated BankID and Freja eID for patients, SITHS for staff (BR-ID-1,
BR-ID-2). It issues the tokens that the mobile API (/api/v1) and the staff API (/staff/v1) take.

**The app's login, step by step** (OAuth 2.0 authorization code with PKCE, RFC 7636, S256 only):

1. Make a random `code_verifier` (43-128 characters of `A-Z a-z 0-9 - . _ ~`) and its `code_challenge` =
   BASE64URL(SHA-256(code_verifier)) without padding (43 characters), and a random `state`.
2. Open `GET /idp/authorize?client_id=app&redirect_uri={app_link("auth/callback")}&state=...&code_challenge=...` in
   the system browser. The person logs in; only a valid personnummer of a living person does, samordningsnummer
   are refused (BR-ID-1).
3. The browser is sent to `{app_link("auth/callback")}?code=...&state=...`. Check that `state` is yours. The code is
   valid once, for a short time.
4. `POST /idp/token` as a form: `grant_type=authorization_code`, `code`, `code_verifier`, `redirect_uri`. The answer
   holds an `access_token` (a JWT signed with ES256, valid `expires_in` seconds; send it as
   `Authorization: Bearer`) and a `refresh_token`. Verify tokens with the keys at `GET /idp/jwks.json`.
5. Before the access token expires: `POST /idp/token` with `grant_type=refresh_token` and the refresh token. Each
   refresh token works once and the answer brings a new one (rotation); presenting a used one ends the whole
   session, as it means the token was stolen (BR-ID-2). The session also ends after 30 minutes idle and at logout.

**Direct logins for automation.** `POST /idp/api/login` (patients) and `POST /idp/api/staff-login` (staff) run the
same checks as the login page and answer with a code for step 4, without a browser. They exist for tests; a
production identity provider has no such endpoint.

**Limits.** Logins are rate limited per identity and refused attempts per client address (429 with Retry-After,
BR-SEC-1). Errors are `application/problem+json` (RFC 9457); the token endpoint adds the OAuth `error` code.
"""

TAGS = [
    {"name": "authorization", "description": "The browser login (authorization endpoint) and the direct logins "
                                             "for automation, each answering with a one-time code."},
    {"name": "tokens", "description": "Exchange a code for tokens, refresh with rotation, and the signing keys."},
]
# BR-ID-1: every refused login looks the same from outside, so no one learns whether a number belongs to a
# person, a deceased person or a samordningsnummer; the reason goes to the audit log only.
LOGIN_REFUSED = "urn:1177:problem:login-refused"
LOGIN_REFUSED_DETAIL = "Det gick inte att logga in med det här personnumret."
NOT_A_NUMBER_DETAIL = "Skriv ditt personnummer med 10 eller 12 siffror."


LoginPersonnummer = text.personnummer(description="Who logs in.")


class DirectLogin(BaseModel):
    """A patient's login without a browser, for automation: the same checks as the login page."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"personnummer": EXAMPLE_PERSONNUMMER, "method": "bankid",
         "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}]})
    personnummer: LoginPersonnummer
    method: Literal["bankid", "freja"] = Field(default="bankid", description="The simulated e-identification")
    code_challenge: str | None = Field(default=None, pattern=CODE_CHALLENGE,
                                       description="PKCE code challenge (S256): BASE64URL(SHA-256(code_verifier)) "
                                                   "without padding, 43 characters. With it, the token request must "
                                                   "bring the matching code_verifier.")


class StaffLogin(BaseModel):
    """A staff member's simulated SITHS card login, for automation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"hsa_id": "SE232100001-0001-P001"}]})
    hsa_id: str = Field(min_length=5, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                        description="The staff member's HSA-id: ASCII letters, digits and '-'")


class CodeResponse(BaseModel):
    """A one-time authorization code, valid for a short time; exchange it at POST /idp/token."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": MASKED_CODE}]})
    code: str = Field(description="The authorization code (opaque, URL-safe ASCII)")


class TokenResponse(BaseModel):
    """Tokens for the APIs (RFC 6749 5.1). Sent with Cache-Control: no-store."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.[masked].[masked]", "token_type": "Bearer",  # nosec B105 # an example or field description in the API docs
         "expires_in": 300, "refresh_token": MASKED_CODE,
         "refresh_expires_in": 43200}]})
    access_token: str = Field(description="A JWT signed with ES256; send it as 'Authorization: Bearer'")
    token_type: Literal["Bearer"] = Field(description="Always Bearer")
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Works once: refreshing returns a new one (rotation, BR-ID-2)")
    refresh_expires_in: int = Field(description="Seconds until the login ends: rotation does not extend it")


class Jwk(BaseModel):
    """A public signing key (RFC 7517), an EC P-256 key for ES256."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "3f9c1a2b4d5e6f70", "use": "sig",
         "alg": "ES256"}]})
    kty: Literal["EC"] = Field(description="Key type")
    crv: Literal["P-256"] = Field(description="Curve")
    x: str = Field(description="The public point's x coordinate, base64url")
    y: str = Field(description="The public point's y coordinate, base64url")
    kid: str = Field(description="Key id, named in the JWT header")
    use: Literal["sig"] = Field(description="Used for signatures")
    alg: Literal["ES256"] = Field(description="The signing algorithm")


class JwkSet(BaseModel):
    """The keys that sign access tokens (RFC 7517 JWK Set)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"keys": [
        {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "3f9c1a2b4d5e6f70", "use": "sig",
         "alg": "ES256"}]}]})
    keys: list[Jwk] = Field(description="The current signing keys")


TOKEN_FORM = {
    "description": "The token request (RFC 6749 4.1.3 and 6), form-encoded. Opaque values are URL-safe ASCII.",
    "examples": [
        {"grant_type": "authorization_code", "code": MASKED_CODE,
         "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "redirect_uri": app_link("auth/callback")},
        {"grant_type": "refresh_token", "refresh_token": MASKED_CODE}],
    "properties": {
        "grant_type": "authorization_code (with code, and code_verifier when the login had a code_challenge) or "
                      "refresh_token (with refresh_token)",
        "code": "The one-time code from the redirect or a direct login",
        "code_verifier": "PKCE: the verifier whose S256 challenge the login carried (RFC 7636 4.5)",
        "redirect_uri": "The redirect URI of the authorize request, if it had one",
        "refresh_token": "The latest refresh token; each works once",  # nosec B105 # an example or field description in the API docs
    },
}
AUTHORIZE_PARAMETERS = {
    "client_id": "'app' (the 1177 app) or 'web' (the web e-services)",
    "redirect_uri": f"Where the code is sent: {app_link('auth/callback')} for the app, /auth/callback for the web",
    "state": "An opaque value of the client's, returned with the code; check it (CSRF)",
    "code_challenge": "PKCE code challenge, S256 only: BASE64URL(SHA-256(code_verifier)), 43 characters",
}


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
    app = FastAPI(title="1177 identity provider", version="1.0.0", docs_url=None, redoc_url=None,
                  description=DESCRIPTION, openapi_tags=TAGS)
    app.state.ctx = ctx
    problems.install(app)

    @app.get("/authorize", operation_id="authorize", tags=["authorization"], response_class=HTMLResponse,
             summary="Open the login page (authorization endpoint)",
             responses={200: {"description": "The login page (HTML); its form posts to the same URL and, on "
                                             "success, redirects (303) to redirect_uri with code and state"},
                        **problem_responses(400, 422)})
    def authorize_page(request: Request, client_id: str = "web", redirect_uri: str = "/auth/callback",
                       state: str = "", code_challenge: str = "") -> Response:
        """Step 2 of the login: the page where a person logs in with BankID or Freja eID. Open it in the system
        browser, never in a WebView. Only a known client with its own redirect URI is served (else 400). The page's
        form posts to this URL; a refused login (samordningsnummer, deceased, unknown) is shown on the page, and a
        successful one redirects to redirect_uri with a one-time code and the state."""
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
        if not pnr.has_syntax(personnummer.strip()):
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

    @app.post("/api/login", response_model=CodeResponse, operation_id="directLogin", tags=["authorization"],
              summary="Log a patient in without a browser (tests)", responses={
                  **problem_responses(400, 413, 422, 429),
                  403: {"model": ProblemDetail,
                        "description": "Refused, with one answer whatever the reason (unknown, deceased, "
                                       "samordningsnummer, reservnummer or an invalid number): "
                                       f"{LOGIN_REFUSED} (BR-ID-1)"}})
    def direct_login(body: DirectLogin, request: Request) -> CodeResponse:
        """For automation and tests: the same checks as the login page (BR-ID-1), answered with a one-time code
        for POST /idp/token instead of a redirect. 422 for text that is not shaped like a personnummer (10 or 12
        ASCII digits); 403 with one and the same answer for every refused number (a wrong date or check digit, a
        samordningsnummer, a deceased or an unknown person), so no one learns who exists; 429 when one identity or
        one client address tries too often (BR-SEC-1)."""
        _limit(ctx, request, body.personnummer)
        with ctx.db() as db:
            person = _login(ctx, db, request, body.personnummer)
            code = issue_code(db, subject_kind="person", subject_id=person.id, method=body.method,
                              code_challenge=body.code_challenge)
        return CodeResponse(code=code)

    @app.post("/api/staff-login", response_model=CodeResponse, operation_id="staffLogin", tags=["authorization"],
              summary="Log a staff member in without a card reader (tests)", responses={
                  **problem_responses(400, 413, 422, 429),
                  403: {"model": ProblemDetail, "description": "Unknown staff member"}})
    def staff_login(body: StaffLogin, request: Request) -> CodeResponse:
        """For automation and tests: a simulated SITHS card login of a staff member, answered with a one-time
        code; the tokens it leads to are scoped to the staff member's care unit (BR-STAFF-1). 403 for an unknown
        HSA-id; 429 when tried too often (BR-SEC-1)."""
        _limit(ctx, request, body.hsa_id)
        with ctx.db() as db:
            staff = db.scalar(select(Staff).where(Staff.hsa_id == body.hsa_id))
            if staff is None:
                raise _refused(ctx, request, Problem(403, "Det gick inte att logga in med det här HSA-id:t."))
            code = issue_code(db, subject_kind="staff", subject_id=staff.id, method="siths")
        return CodeResponse(code=code)

    @app.post("/token", response_model=TokenResponse, operation_id="token", tags=["tokens"],
              summary="Exchange a code or refresh token for tokens", responses={
                  **problem_responses(413, 422),
                  400: {"model": ProblemDetail,
                        "description": "invalid_request (a missing code or refresh_token) or invalid_grant (a code "
                                       "or refresh token that is unknown, used, expired or revoked, a code_verifier "
                                       "or redirect_uri that does not match); the problem's 'error' member names it"}})
    def token(grant_type: Annotated[Literal["authorization_code", "refresh_token"], Form()],
              code: Annotated[str | None, Form(max_length=200)] = None,
              code_verifier: Annotated[str | None, Form(max_length=200)] = None,
              redirect_uri: Annotated[str | None, Form(max_length=200)] = None,
              refresh_token: Annotated[str | None, Form(max_length=200)] = None) -> JSONResponse:
        """Step 4 and 5 of the login (RFC 6749, RFC 7636). authorization_code: a code is valid once and briefly;
        if the login carried a code_challenge, code_verifier must match it (S256), and redirect_uri must be the
        one of the login. refresh_token: each refresh token works once and the answer carries the next one; a
        used one presented again ends the whole session (BR-ID-2). A session also ends after 30 minutes idle."""
        with ctx.db() as db:
            if grant_type == "authorization_code":
                if not code:
                    raise Problem(400, "Koden saknas (code).", error="invalid_request")
                tokens = exchange_code(ctx, db, code, code_verifier, redirect_uri)
            else:
                if not refresh_token:
                    raise Problem(400, "Förnyelsetoken saknas (refresh_token).", error="invalid_request")
                tokens = refresh_tokens(ctx, db, refresh_token)
        if faults.active("token-in-log"):  # the defect: secrets in a log line anyone with log access reads
            log.info("tokens issued: access_token=%s refresh_token=%s", tokens.access_token, tokens.refresh_token)
        return JSONResponse(tokens.as_json(), headers={"Cache-Control": "no-store"})

    @app.get("/jwks.json", operation_id="getJwks", tags=["tokens"], summary="Get the token signing keys",
             responses={200: {"model": JwkSet, "description": "The JWK Set"}})
    def jwks() -> dict:
        """The public keys (JWK Set, RFC 7517) that verify access tokens (ES256); pick the key by the JWT's kid.
        Anyone may fetch them."""
        return ctx.keys.jwks()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags, servers=[{"url": "/idp"}])
            app.openapi_schema = _document_forms(finish_openapi(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _document_forms(schema: dict[str, Any]) -> dict[str, Any]:
    """Name and describe what FastAPI generates for form parameters: the token request's body schema and the
    authorize endpoint's query parameters."""
    components = schema["components"]["schemas"]
    generated = next(name for name in components if name.startswith("Body_token"))
    form = components.pop(generated)
    form["title"] = "TokenRequest"
    form["description"] = TOKEN_FORM["description"]
    form["examples"] = TOKEN_FORM["examples"]
    for name, description in TOKEN_FORM["properties"].items():
        form["properties"][name]["description"] = description
    components["TokenRequest"] = form
    body = schema["paths"]["/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    body["schema"] = {"$ref": "#/components/schemas/TokenRequest"}
    for parameter in schema["paths"]["/authorize"]["get"]["parameters"]:
        parameter["description"] = AUTHORIZE_PARAMETERS[parameter["name"]]
    return schema
