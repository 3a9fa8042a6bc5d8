"""The staff API /staff/v1 (OpenAPI 3.1 at /staff/v1/openapi.json): personalverktyg for care staff.

A staff token is scoped to the staff member's care unit: staff reach only patients their unit has a care relation
with (BR-STAFF-1, PDL 4 kap. 1 §), and every read of a message is audited in role staff (BR-AUDIT-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from . import problems, services
from .auth import Principal, authenticate, refuse_undeclared_acting_for
from .context import Context
from .push.bulk import create_bulk_router
from .schemas import (
    PatientLookup,
    PatientRef,
    StaffMessage,
    StaffMessageCreated,
    StaffMessageRequest,
    StaffProfile,
    finish_openapi,
    problem_responses,
    uuid_path,
)

BEARER_DESCRIPTION = ("A staff member's access token: SITHS card login at the identity provider (in tests POST "
                      "/idp/api/staff-login), then POST /idp/token. A JWT scoped to the staff member's care unit; "
                      "a patient's token is refused with 403.")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT", description=BEARER_DESCRIPTION)
BASE = (401, 403)

DESCRIPTION = """Personalverktyg: care staff send messages and reminders to patients of their care unit, one at a
time or in bulk, and read them back.

**Who may call it.** Staff logged in with SITHS; the token is scoped to one care unit, and staff reach only patients
with whom that unit has a care relation (BR-STAFF-1, PDL 4 kap. 1 §). Every read of a message is audited in role
staff (BR-AUDIT-1). A patient is found by personnummer in a request body, never in a URL (BR-SEC-1).

**Notifications.** A stored message notifies the patient (and, for a child under 13, each guardian) by push, SMS or
e-mail as they chose, exactly once per channel and device; the push payload carries no personal data (BR-NOTIF-2,
BR-NOTIF-3).

**Errors** are `application/problem+json` (RFC 9457); never a stack trace, and every malformed request is a 4xx.

**Text and identifiers.** Every field's schema states its rule with `pattern`, `minLength` and `maxLength`; patterns
are ECMA-262 regular expressions read by code point (the `u` flag). Subjects and bodies are refused when blank or
holding control characters or bidirectional controls, and are stored trimmed and in Unicode NFC.
"""

TAGS = [
    {"name": "staff", "description": "The staff member, finding a patient of the unit, and single messages "
                                     "(BR-STAFF-1)."},
    {"name": "bulk", "description": "One message to many patients of the unit (up to 100,000), written in the "
                                    "background and polled by job id."},
]


def create_staff_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 staff API (personalverktyg)", version="1.0.0", docs_url=None, redoc_url=None,
                  description=DESCRIPTION, openapi_tags=TAGS,
                  dependencies=[Security(bearer_scheme), Depends(refuse_undeclared_acting_for),
                                Depends(problems.crash_when_asked)])
    app.state.ctx = ctx
    problems.install(app)

    @contextmanager
    def call(request: Request) -> Iterator[tuple[Session, Principal]]:
        with ctx.db() as db:
            yield db, authenticate(ctx, db, request, kind="staff")

    @app.get("/me", response_model=StaffProfile, operation_id="getStaffProfile", tags=["staff"],
             summary="Get the staff member's profile", responses=problem_responses(*BASE))
    def me(request: Request) -> Any:
        """The staff member behind the token, with their HSA-id and the care unit the token is scoped to. Only
        staff tokens: a patient's token gets 403."""
        with call(request) as (db, principal):
            return services.staff_profile(db, principal)

    @app.post("/patients/lookup", response_model=PatientRef, operation_id="lookupPatient", tags=["staff"],
              summary="Find a patient by personnummer",
              responses={**problem_responses(*BASE, 400, 404, 413, 422),
                         200: {"description": "The patient, who has a care relation with the unit", "links": {
                             "SendMessage": {"operationId": "sendMessage",
                                             "requestBody": {"patient_id": "$response.body#/patient_id",
                                                             "subject": "Påminnelse", "body": "Hej!"}}}}})
    def lookup(request: Request, body: PatientLookup) -> Any:
        """The patient id for a personnummer, only when the staff member's unit has a care relation with the
        patient (PDL 4 kap. 1 §). 404 alike for an unknown person and one without a care relation, so staff learn
        nothing outside their relations; 422 for a number that is not a valid personnummer (ASCII digits, a real
        date, the check digit)."""
        with call(request) as (db, principal):
            return services.staff_lookup(db, principal, body.personnummer)

    @app.post("/messages", response_model=StaffMessageCreated, status_code=201, operation_id="sendMessage",
              tags=["staff"], summary="Send a message to a patient",
              responses={**problem_responses(*BASE, 400, 413, 422, 429),
                         201: {"description": "Message stored and its notification queued (outbox)",
                               "links": {"GetStaffMessage": {"operationId": "getStaffMessage",
                                                             "parameters": {"message_id": "$response.body#/id"}}}}})
    def send(request: Request, body: StaffMessageRequest) -> Any:
        """Send a message to a patient with whom the unit has a care relation (403 without, BR-STAFF-1). It is
        stored with its notification in one transaction, and the patient is notified on every channel they chose
        (BR-NOTIF-2). Subject and body are refused (422) when blank or holding control or bidirectional characters;
        they are stored trimmed and in NFC. Rate limited per staff member (429 with Retry-After, BR-SEC-1)."""
        with call(request) as (db, principal):
            return services.staff_send(ctx, db, principal, patient_id=body.patient_id, subject=body.subject,
                                       body=body.body)

    @app.get("/messages/{message_id}", response_model=StaffMessage, operation_id="getStaffMessage",
             tags=["staff"], summary="Read a message the unit sent", responses=problem_responses(*BASE, 404, 422))
    def get_message(request: Request, message_id: str = uuid_path("Message id")) -> Any:
        """A message the staff member's own care unit sent, with its read state; the read is audited in role
        staff (BR-AUDIT-1). 404 for a message of another unit."""
        with call(request) as (db, principal):
            return services.staff_get_message(db, principal, message_id)

    app.include_router(create_bulk_router(ctx))  # owned by the push fan-out

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags, servers=[{"url": "/staff/v1"}])
            app.openapi_schema = problems.document_refusals(
                finish_openapi(schema, bearer_description=BEARER_DESCRIPTION))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
