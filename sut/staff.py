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

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                           description="Staff access token (SITHS login at /idp/api/staff-login, then /idp/token)")
BASE = (401, 403)


def create_staff_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 staff API (personalverktyg)", version="1.0.0", docs_url=None, redoc_url=None,
                  description="Care staff send messages to patients of their care unit and read them back.",
                  dependencies=[Security(bearer_scheme), Depends(refuse_undeclared_acting_for)])
    app.state.ctx = ctx
    problems.install(app)

    @contextmanager
    def call(request: Request) -> Iterator[tuple[Session, Principal]]:
        with ctx.db() as db:
            yield db, authenticate(ctx, db, request, kind="staff")

    @app.get("/me", response_model=StaffProfile, operation_id="getStaffProfile", tags=["staff"],
             responses=problem_responses(*BASE))
    def me(request: Request) -> Any:
        """The staff member and the care unit the token is scoped to."""
        with call(request) as (db, principal):
            return services.staff_profile(db, principal)

    @app.post("/patients/lookup", response_model=PatientRef, operation_id="lookupPatient", tags=["staff"],
              responses={**problem_responses(*BASE, 400, 404, 413, 422),
                         200: {"description": "The patient, who has a care relation with the unit", "links": {
                             "SendMessage": {"operationId": "sendMessage",
                                             "requestBody": {"patient_id": "$response.body#/patient_id",
                                                             "subject": "Påminnelse", "body": "Hej!"}}}}})
    def lookup(request: Request, body: PatientLookup) -> Any:
        """A patient id for a personnummer, only with a care relation (else 404; 422 for an invalid number)."""
        with call(request) as (db, principal):
            return services.staff_lookup(db, principal, body.personnummer)

    @app.post("/messages", response_model=StaffMessageCreated, status_code=201, operation_id="sendMessage",
              tags=["staff"],
              responses={**problem_responses(*BASE, 400, 413, 422, 429),
                         201: {"description": "Message stored and its notification queued (outbox)",
                               "links": {"GetStaffMessage": {"operationId": "getStaffMessage",
                                                             "parameters": {"message_id": "$response.body#/id"}}}}})
    def send(request: Request, body: StaffMessageRequest) -> Any:
        """Send a message to a patient with a care relation (403 without, BR-STAFF-1); rate limited (429)."""
        with call(request) as (db, principal):
            return services.staff_send(ctx, db, principal, patient_id=body.patient_id, subject=body.subject,
                                       body=body.body)

    @app.get("/messages/{message_id}", response_model=StaffMessage, operation_id="getStaffMessage",
             tags=["staff"], responses=problem_responses(*BASE, 404, 422))
    def get_message(request: Request, message_id: str = uuid_path("Message id")) -> Any:
        """A message of the staff member's own care unit; the read is audited in role staff."""
        with call(request) as (db, principal):
            return services.staff_get_message(db, principal, message_id)

    app.include_router(create_bulk_router(ctx))  # owned by the push fan-out

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, servers=[{"url": "/staff/v1"}])
            app.openapi_schema = problems.document_refusals(finish_openapi(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
