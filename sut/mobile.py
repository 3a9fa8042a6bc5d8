"""The mobile API /api/v1 (OpenAPI 3.1 at /api/v1/openapi.json): the new app's backend.

Every operation needs a person's bearer token, checks the app's minimum version first (426, BR-REG-3) and
answers errors as problem+json. ``X-Acting-For`` selects a child one is ombud for, per request (BR-PROXY-1), on
the operations that declare it; every other operation refuses it with 403 not-for-ombud.
The domain logic lives in ``services``; this module is HTTP only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request, Response, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from . import problems, services
from .auth import (
    Principal,
    Subject,
    authenticate,
    refuse_undeclared_acting_for,
    require_supported_app,
    resolve_subject,
)
from .context import Context
from .schemas import (
    ActingFor,
    ActingForList,
    AuditExtract,
    BookingList,
    BookingView,
    Catalogue,
    ConsentList,
    ConsentRequest,
    ConsentView,
    DataExport,
    DeviceList,
    DeviceRegistration,
    DeviceView,
    ErasureResult,
    InstallationId,
    Journal,
    MessageDetail,
    MessageList,
    NotificationSettings,
    NotificationSettingsUpdate,
    Profile,
    SsoTicket,
    SsoTicketRequest,
    StartSummary,
    VideoMeetings,
    finish_openapi,
    problem_responses,
    uuid_path,
)

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                           description="Access token from the identity provider (/idp/token)")

# What every operation may answer besides its success: no token, the wrong kind, an old app.
BASE = (401, 403, 426)
WITH_PARAMS = (*BASE, 404, 422)
WITH_BODY = (*BASE, 400, 413, 422)

MESSAGE_ID = uuid_path("Message id")
BOOKING_ID = uuid_path("Booking id")
CONSENT_ID = uuid_path("Consent id")

LINK_MESSAGE = {"operationId": "getMessage", "parameters": {"message_id": "$response.body#/messages/0/id"}}


def create_mobile_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 mobile API", version="1.0.0", docs_url=None, redoc_url=None,
                  description="Backend of the 1177 app: profile, region services, inbox, bookings, journal, "
                              "notification settings, devices, consents, SSO, audit extract, export and erasure.",
                  dependencies=[Security(bearer_scheme), Depends(refuse_undeclared_acting_for)])
    app.state.ctx = ctx
    problems.install(app)

    @contextmanager
    def call(request: Request, acting_for: str | None = None) -> Iterator[tuple[Session, Principal, Subject]]:
        """The app version first (an old app gets 426 even with a stale token), then who calls, then for whom."""
        require_supported_app(ctx, request)
        with ctx.db() as db:
            principal = authenticate(ctx, db, request, kind="person")
            assert principal.person is not None
            subject = resolve_subject(db, principal.person, acting_for)
            yield db, principal, subject

    # --- profile, catalogue, start ----------------------------------------------------------------------------------

    @app.get("/me", response_model=Profile, operation_id="getProfile", tags=["profile"],
             responses=problem_responses(*BASE))
    def me(request: Request) -> Any:
        """The caller's profile and region, and the children one may act for (no personnummer)."""
        with call(request) as (db, principal, _):
            return services.profile(db, principal.person)

    @app.get("/acting-for", response_model=ActingForList, operation_id="listActingFor", tags=["profile"],
             responses=problem_responses(*BASE))
    def acting_for(request: Request) -> Any:
        """Persons the caller may act for as ombud: own children under 13 (BR-PROXY-1)."""
        with call(request) as (db, principal, _):
            return {"persons": services.acting_for(db, principal.person)}

    @app.get("/services", response_model=Catalogue, operation_id="getServices", tags=["region"],
             responses=problem_responses(*BASE))
    def catalogue(request: Request) -> Any:
        """The region's service catalogue (BR-REG-2), or a redirect to 1177.se if it has not joined (BR-REG-1)."""
        with call(request) as (db, principal, _):
            return services.catalogue(ctx, db, principal.person)

    @app.get("/start", response_model=StartSummary, operation_id="getStart", tags=["region"],
             responses=problem_responses(*BASE))
    def start(request: Request) -> Any:
        """Unread messages (own and per child under 13) and the next booking (BR-INBOX-1)."""
        with call(request) as (db, principal, _):
            return services.start_summary(db, principal)

    # --- inbox ------------------------------------------------------------------------------------------------------

    @app.get("/inbox/messages", response_model=MessageList, operation_id="listMessages", tags=["inbox"],
             responses={**problem_responses(*BASE, 422),
                        200: {"description": "The inbox", "links": {
                            "GetMessage": LINK_MESSAGE,
                            "MarkMessageRead": {**LINK_MESSAGE, "operationId": "markMessageRead"},
                            "HideMessage": {**LINK_MESSAGE, "operationId": "hideMessage"}}}})
    def list_messages(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Messages from care units, newest first; hidden ones left out (BR-INBOX-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"messages": services.list_messages(db, principal, subject)}

    @app.get("/inbox/messages/{message_id}", response_model=MessageDetail, operation_id="getMessage",
             tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def get_message(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Any:
        """One message with its body; the read is audited (BR-AUDIT-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.open_message(db, principal, subject, message_id)

    @app.post("/inbox/messages/{message_id}/read", status_code=204, response_class=Response,
              operation_id="markMessageRead", tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def mark_read(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Response:
        """Mark a message as read."""
        with call(request, x_acting_for) as (db, principal, subject):
            services.mark_read(db, principal, subject, message_id)
        return Response(status_code=204)

    @app.delete("/inbox/messages/{message_id}", status_code=204, response_class=Response,
                operation_id="hideMessage", tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def hide_message(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Response:
        """Remove a message from the inbox. It is only hidden: the health record is kept (PdL 3 kap. 17 §)."""
        with call(request, x_acting_for) as (db, principal, subject):
            services.hide_message(db, principal, subject, message_id)
        return Response(status_code=204)

    # --- bookings, journal, video -----------------------------------------------------------------------------------

    @app.get("/bookings", response_model=BookingList, operation_id="listBookings", tags=["bookings"],
             responses={**problem_responses(*BASE, 422),
                        200: {"description": "Bookings", "links": {"CancelBooking": {
                            "operationId": "cancelBooking",
                            "parameters": {"booking_id": "$response.body#/bookings/0/id"}}}}})
    def list_bookings(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Booked and cancelled times; the list is audited (BR-AUDIT-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"bookings": services.list_bookings(db, principal, subject)}

    @app.post("/bookings/{booking_id}/cancel", response_model=BookingView, operation_id="cancelBooking",
              tags=["bookings"], responses=problem_responses(*WITH_PARAMS, 409))
    def cancel_booking(request: Request, booking_id: str = BOOKING_ID, x_acting_for: ActingFor = None) -> Any:
        """Cancel a future booking; a cancelled or past one is a 409."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.cancel_booking(db, principal, subject, booking_id)

    @app.get("/journal", response_model=Journal, operation_id="getJournal", tags=["journal"],
             responses=problem_responses(*BASE, 422))
    def journal(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Journalen: every entry read is audited; never available as ombud (BR-PROXY-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"entries": services.journal(db, principal, subject)}

    @app.get("/video-meetings", response_model=VideoMeetings, operation_id="getVideoMeetings", tags=["region"],
             responses=problem_responses(*BASE))
    def video_meetings(request: Request) -> Any:
        """The region's video mode and the caller's video bookings with how to join (BR-REG-2)."""
        with call(request) as (db, principal, _):
            return services.video_meetings(ctx, db, principal)

    # --- notification settings, devices, consents -------------------------------------------------------------------

    @app.get("/notification-settings", response_model=NotificationSettings, operation_id="getNotificationSettings",
             tags=["notifications"], responses=problem_responses(*BASE, 422))
    def get_settings(request: Request, x_acting_for: ActingFor = None) -> Any:
        """The caller's channel choices for messages to self, or to the child acted for (BR-NOTIF-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.get_settings(db, principal, subject)

    @app.put("/notification-settings", response_model=NotificationSettings,
             operation_id="updateNotificationSettings", tags=["notifications"],
             responses=problem_responses(*WITH_BODY, 409))
    def update_settings(request: Request, body: NotificationSettingsUpdate,
                        x_acting_for: ActingFor = None) -> Any:
        """Push needs an active device and a push consent; SMS may be turned off only while push is on (409)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.update_settings(db, principal, subject, push=body.push, sms=body.sms, email=body.email)

    @app.put("/devices/{installation_id}", response_model=DeviceView, operation_id="registerDevice",
             tags=["notifications"],
             responses={**problem_responses(*WITH_BODY, 404),
                        200: {"description": "The installation was registered before: its token was replaced",
                              "links": {"UnregisterDevice": {
                                  "operationId": "unregisterDevice",
                                  "parameters": {"installation_id": "$request.path.installation_id"}}}},
                        201: {"description": "A new installation was registered", "model": DeviceView,
                              "links": {"UnregisterDevice": {
                                  "operationId": "unregisterDevice",
                                  "parameters": {"installation_id": "$request.path.installation_id"}}}}})
    def register_device(request: Request, response: Response, installation_id: InstallationId,
                        body: Annotated[DeviceRegistration, Body()]) -> Any:
        """Register this installation's push token (APNs: 64 hex digits; FCM: registration token format).
        Registering the same installation again replaces its token (BR-NOTIF-4)."""
        with call(request) as (db, principal, _):
            view, created = services.register_device(db, principal, installation_id, platform=body.platform,
                                                     token=body.token, app_version=body.app_version)
        response.status_code = 201 if created else 200
        return view

    @app.get("/devices", response_model=DeviceList, operation_id="listDevices", tags=["notifications"],
             responses=problem_responses(*BASE))
    def list_devices(request: Request) -> Any:
        """The caller's active devices (the push token shown only by its last characters)."""
        with call(request) as (db, principal, _):
            return {"devices": services.list_devices(db, principal)}

    @app.delete("/devices/{installation_id}", status_code=204, response_class=Response,
                operation_id="unregisterDevice", tags=["notifications"], responses=problem_responses(*WITH_PARAMS))
    def delete_device(request: Request, installation_id: InstallationId) -> Response:
        """Unregister an installation; without a device left, push turns off and SMS back on."""
        with call(request) as (db, principal, _):
            services.delete_device(db, principal, installation_id)
        return Response(status_code=204)

    @app.post("/consents", response_model=ConsentView, status_code=201, operation_id="grantConsent",
              tags=["notifications"],
              responses={**problem_responses(*WITH_BODY),
                         201: {"description": "Consent recorded with its time and text version",
                               "links": {"WithdrawConsent": {"operationId": "withdrawConsent",
                                                             "parameters": {"consent_id": "$response.body#/id"}}}}})
    def grant_consent(request: Request, body: ConsentRequest) -> Any:
        """Record consent (time and text version, BR-GDPR-1); it supersedes an earlier one for the purpose."""
        with call(request) as (db, principal, _):
            return services.grant_consent(db, principal, purpose=body.purpose, text_version=body.text_version)

    @app.get("/consents", response_model=ConsentList, operation_id="listConsents", tags=["notifications"],
             responses=problem_responses(*BASE))
    def list_consents(request: Request) -> Any:
        """Every consent given, withdrawn ones included."""
        with call(request) as (db, principal, _):
            return {"consents": services.list_consents(db, principal)}

    @app.delete("/consents/{consent_id}", status_code=204, response_class=Response, operation_id="withdrawConsent",
                tags=["notifications"], responses=problem_responses(*WITH_PARAMS, 409))
    def withdraw_consent(request: Request, consent_id: str = CONSENT_ID) -> Response:
        """Withdraw a consent; withdrawing the push consent turns push off and SMS back on."""
        with call(request) as (db, principal, _):
            services.withdraw_consent(db, principal, consent_id)
        return Response(status_code=204)

    # --- SSO, session -----------------------------------------------------------------------------------------------

    @app.post("/sso/tickets", response_model=SsoTicket, status_code=201, operation_id="createSsoTicket",
              tags=["session"], responses=problem_responses(*WITH_BODY))
    def sso_ticket(request: Request, body: SsoTicketRequest) -> Any:
        """A one-time ticket, valid about 60 s, for one audience the region offers with SSO (BR-ID-3)."""
        with call(request) as (db, principal, _):
            return services.sso_ticket(ctx, db, principal, body.audience)

    @app.post("/session/logout", status_code=204, response_class=Response, operation_id="logout",
              tags=["session"], responses=problem_responses(*BASE))
    def logout(request: Request) -> Response:
        """End the session: its tokens stop working at once (BR-ID-2)."""
        with call(request) as (db, principal, _):
            services.logout(db, principal)
        return Response(status_code=204)

    # --- privacy ----------------------------------------------------------------------------------------------------

    @app.get("/audit-extract", response_model=AuditExtract, operation_id="getAuditExtract", tags=["privacy"],
             responses=problem_responses(*BASE, 422))
    def audit_extract(request: Request) -> Any:
        """Loggutdrag: who read my data, when, at which care unit and in what role (BR-AUDIT-1). Not as ombud."""
        with call(request) as (db, principal, _):
            return {"entries": services.audit_extract(db, principal)}

    @app.get("/export", response_model=DataExport, operation_id="exportData", tags=["privacy"],
             responses=problem_responses(*BASE))
    def export(request: Request) -> Any:
        """All data held about the caller as JSON (GDPR art. 15 and 20)."""
        with call(request) as (db, principal, _):
            return services.export(db, principal)

    @app.post("/erasure", response_model=ErasureResult, operation_id="requestErasure", tags=["privacy"],
              responses=problem_responses(*BASE))
    def erasure(request: Request) -> Any:
        """Erase devices, notification settings and consents; keep health records and say why (GDPR art. 17.3)."""
        with call(request) as (db, principal, _):
            return services.erase(db, principal)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, servers=[{"url": "/api/v1"}])
            app.openapi_schema = problems.document_refusals(finish_openapi(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
