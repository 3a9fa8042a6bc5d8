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
    EXAMPLE_BOOKING_ID,
    EXAMPLE_CONSENT_ID,
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

BEARER_DESCRIPTION = ("A person's access token from the identity provider (POST /idp/token, see the oauth2 scheme): "
                      "a JWT signed with ES256 (keys at /idp/jwks.json), valid a few minutes; the session ends after "
                      "30 minutes idle or at logout (BR-ID-2). A staff token is refused with 403.")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT", description=BEARER_DESCRIPTION)

DESCRIPTION = """Backend of the 1177 app (iOS, Android and web): profile, the region's services, inbox, bookings,
journal, video meetings, notification settings, devices, consents, single sign-on, the access log, data export and
erasure.

**Who may call it.** A person logged in through the identity provider (BankID or Freja eID) with an access token
(see the security schemes: OAuth 2.0 authorization code with PKCE, then `Authorization: Bearer`). Staff tokens are
refused. A guardian acts for a child under 13 by sending `X-Acting-For: <child id>` (BR-PROXY-1); every action then
records both the guardian and the child.

**App version.** Send `User-Agent: 1177-appen/<version> (<ios|android>)`. An app below the supported minimum gets
426 with `minimum_version` before anything else (BR-REG-3).

**Errors** are `application/problem+json` (RFC 9457) with a `type` URN, a `detail` in Swedish that may be shown to
the user, and for 400/422 the invalid fields; never a stack trace, and every malformed request is a 4xx (BR-SEC-1).

**Text and identifiers.** Every field's schema states its rule with `pattern`, `minLength` and `maxLength`; patterns
are ECMA-262 regular expressions read by code point (the `u` flag). Identifiers take ASCII digits only.
"""

TAGS = [
    {"name": "profile", "description": "The caller, and the children under 13 the caller may act for (BR-PROXY-1)."},
    {"name": "region", "description": "The region's service catalogue, start screen and video meetings (BR-REG-1, "
                                      "BR-REG-2)."},
    {"name": "inbox", "description": "Messages from care units: list, open (audited), mark read, remove "
                                     "(BR-INBOX-1, BR-AUDIT-1)."},
    {"name": "bookings", "description": "Booked times: list and cancel."},
    {"name": "journal", "description": "Journalen: journal entries, every read audited; never as ombud."},
    {"name": "notifications", "description": "Channels (push, SMS, e-mail), push devices and consents (BR-NOTIF-1, "
                                             "BR-NOTIF-4, BR-GDPR-1)."},
    {"name": "session", "description": "Single sign-on tickets for e-services and logout (BR-ID-2, BR-ID-3)."},
    {"name": "privacy", "description": "The access log (loggutdrag), data export and erasure (BR-AUDIT-1, "
                                       "BR-GDPR-1)."},
]

# What every operation may answer besides its success: no token, the wrong kind, an old app.
BASE = (401, 403, 426)
WITH_PARAMS = (*BASE, 404, 422)
WITH_BODY = (*BASE, 400, 413, 422)

MESSAGE_ID = uuid_path("Message id, from GET /inbox/messages or a push notification's deep link")
BOOKING_ID = uuid_path("Booking id, from GET /bookings", EXAMPLE_BOOKING_ID)
CONSENT_ID = uuid_path("Consent id, from GET /consents", EXAMPLE_CONSENT_ID)

LINK_MESSAGE = {"operationId": "getMessage", "parameters": {"message_id": "$response.body#/messages/0/id"}}


def create_mobile_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 mobile API", version="1.0.0", docs_url=None, redoc_url=None,
                  description=DESCRIPTION, openapi_tags=TAGS,
                  dependencies=[Security(bearer_scheme), Depends(refuse_undeclared_acting_for),
                                Depends(problems.crash_when_asked)])
    app.state.ctx = ctx
    problems.install(app)

    @contextmanager
    def call(request: Request, acting_for: str | None = None) -> Iterator[tuple[Session, Principal, Subject]]:
        """The app version first (an old app gets 426 even with a stale token), then who calls, then for whom."""
        require_supported_app(ctx, request)
        with ctx.db() as db:
            principal = authenticate(ctx, db, request, kind="person")
            if principal.person is None:
                raise RuntimeError("a person's token without its person")
            subject = resolve_subject(db, principal.person, acting_for)
            yield db, principal, subject

    # --- profile, catalogue, start ----------------------------------------------------------------------------------

    @app.get("/me", response_model=Profile, operation_id="getProfile", tags=["profile"],
             summary="Get the caller's profile",
             responses=problem_responses(*BASE))
    def me(request: Request) -> Any:
        """The caller's name, birth date, contact details and region, and the children under 13 the caller may act
        for as ombud. Never carries a personnummer; for a person with protected identity (skyddad
        folkbokföring) the address is null (BR-ID-1, OSL 21 kap. 3 §). Any logged-in person may call it."""
        with call(request) as (db, principal, _):
            return services.profile(db, principal.person)

    @app.get("/acting-for", response_model=ActingForList, operation_id="listActingFor", tags=["profile"],
             summary="List the children one may act for",
             responses=problem_responses(*BASE))
    def acting_for(request: Request) -> Any:
        """Persons the caller may act for as ombud: own children under 13, never children of 13 or older nor
        anyone else (BR-PROXY-1). Their ids go in the X-Acting-For header of other operations."""
        with call(request) as (db, principal, _):
            return {"persons": services.acting_for(db, principal.person)}

    @app.get("/services", response_model=Catalogue, operation_id="getServices", tags=["region"],
             summary="Get the region's service catalogue",
             responses=problem_responses(*BASE))
    def catalogue(request: Request) -> Any:
        """The services of the caller's region, in display order: native screens, WebView e-services (open with
        an SSO ticket), regional apps and video meetings (BR-REG-2). If the region has not joined the new app,
        region_joined is false, services is empty and redirect sends the user to 1177.se in the external
        browser (BR-REG-1)."""
        with call(request) as (db, principal, _):
            return services.catalogue(ctx, db, principal.person)

    @app.get("/start", response_model=StartSummary, operation_id="getStart", tags=["region"],
             summary="Get the start screen's summary",
             responses=problem_responses(*BASE))
    def start(request: Request) -> Any:
        """What the start screen shows: unread messages, one's own and per child under 13 one is ombud for, and the
        next booked time (BR-INBOX-1). 403 for a region that has not joined."""
        with call(request) as (db, principal, _):
            return services.start_summary(db, principal)

    # --- inbox ------------------------------------------------------------------------------------------------------

    @app.get("/inbox/messages", response_model=MessageList, operation_id="listMessages", tags=["inbox"],
             summary="List the inbox",
             responses={**problem_responses(*BASE, 422),
                        200: {"description": "The inbox", "links": {
                            "GetMessage": LINK_MESSAGE,
                            "MarkMessageRead": {**LINK_MESSAGE, "operationId": "markMessageRead"},
                            "HideMessage": {**LINK_MESSAGE, "operationId": "hideMessage"}}}})
    def list_messages(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Messages from care units, newest first, without their bodies; removed (hidden) ones are left out
        (BR-INBOX-1). With X-Acting-For, the inbox of a child under 13 (BR-PROXY-1; 403 otherwise). 403 for a
        region that has not joined."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"messages": services.list_messages(db, principal, subject)}

    @app.get("/inbox/messages/{message_id}", response_model=MessageDetail, operation_id="getMessage",
             summary="Open a message",
             tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def get_message(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Any:
        """One message with its body; the read is written to the audit log with actor, subject and role
        (BR-AUDIT-1). A push notification's deep link names this message (BR-INBOX-2). 404 when the message is
        not the caller's (or the child's acted for): another person's message is never shown."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.open_message(db, principal, subject, message_id)

    @app.post("/inbox/messages/{message_id}/read", status_code=204, response_class=Response,
              summary="Mark a message as read",
              operation_id="markMessageRead", tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def mark_read(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Response:
        """Mark a message as read without opening it; the start screen's unread count drops (BR-INBOX-1). 404 when
        the message is not the caller's."""
        with call(request, x_acting_for) as (db, principal, subject):
            services.mark_read(db, principal, subject, message_id)
        return Response(status_code=204)

    @app.delete("/inbox/messages/{message_id}", status_code=204, response_class=Response,
                summary="Remove a message from the inbox",
                operation_id="hideMessage", tags=["inbox"], responses=problem_responses(*WITH_PARAMS))
    def hide_message(request: Request, message_id: str = MESSAGE_ID, x_acting_for: ActingFor = None) -> Response:
        """Remove a message from the inbox. It is only hidden: the message is part of the health record and is kept
        (PdL 3 kap. 17 §); the data export still lists it. 404 when the message is not the caller's."""
        with call(request, x_acting_for) as (db, principal, subject):
            services.hide_message(db, principal, subject, message_id)
        return Response(status_code=204)

    # --- bookings, journal, video -----------------------------------------------------------------------------------

    @app.get("/bookings", response_model=BookingList, operation_id="listBookings", tags=["bookings"],
             summary="List bookings",
             responses={**problem_responses(*BASE, 422),
                        200: {"description": "Bookings", "links": {"CancelBooking": {
                            "operationId": "cancelBooking",
                            "parameters": {"booking_id": "$response.body#/bookings/0/id"}}}}})
    def list_bookings(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Booked and cancelled times, earliest first; the read is audited (BR-AUDIT-1). With X-Acting-For, the
        bookings of a child under 13 (BR-PROXY-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"bookings": services.list_bookings(db, principal, subject)}

    @app.post("/bookings/{booking_id}/cancel", response_model=BookingView, operation_id="cancelBooking",
              summary="Cancel a booking",
              tags=["bookings"], responses=problem_responses(*WITH_PARAMS, 409))
    def cancel_booking(request: Request, booking_id: str = BOOKING_ID, x_acting_for: ActingFor = None) -> Any:
        """Cancel a future booking, one's own or a child's acted for. 409 when it is already cancelled or has
        passed; 404 when it is not the caller's."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.cancel_booking(db, principal, subject, booking_id)

    @app.get("/journal", response_model=Journal, operation_id="getJournal", tags=["journal"],
             summary="Read the journal",
             responses=problem_responses(*BASE, 422))
    def journal(request: Request, x_acting_for: ActingFor = None) -> Any:
        """Journalen: the caller's journal entries, newest first; every entry read is audited (BR-AUDIT-1,
        PDL 4 kap. 3 §). Never available as ombud: with X-Acting-For the answer is 403 (BR-PROXY-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return {"entries": services.journal(db, principal, subject)}

    @app.get("/video-meetings", response_model=VideoMeetings, operation_id="getVideoMeetings", tags=["region"],
             summary="Get video meetings and how to join",
             responses=problem_responses(*BASE))
    def video_meetings(request: Request) -> Any:
        """The region's video mode (Inera's service embedded, a regional one in a WebView with SSO, or the external
        browser) and the caller's booked video meetings with where to join (BR-REG-2)."""
        with call(request) as (db, principal, _):
            return services.video_meetings(ctx, db, principal)

    # --- notification settings, devices, consents -------------------------------------------------------------------

    @app.get("/notification-settings", response_model=NotificationSettings, operation_id="getNotificationSettings",
             summary="Get notification settings",
             tags=["notifications"], responses=problem_responses(*BASE, 422))
    def get_settings(request: Request, x_acting_for: ActingFor = None) -> Any:
        """The caller's channel choices (push, SMS, e-mail) for messages to self or, with X-Acting-For, to the child
        acted for, and whether push can be turned on (BR-NOTIF-1)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.get_settings(db, principal, subject)

    @app.put("/notification-settings", response_model=NotificationSettings,
             summary="Change notification settings",
             operation_id="updateNotificationSettings", tags=["notifications"],
             responses=problem_responses(*WITH_BODY, 409))
    def update_settings(request: Request, body: NotificationSettingsUpdate,
                        x_acting_for: ActingFor = None) -> Any:
        """Set the channels. Push needs an active device and a push consent, and SMS may be turned off only while
        push is on, so no message goes unnoticed; otherwise 409 (BR-NOTIF-1). With X-Acting-For, the caller's
        own choices for a child's messages (BR-NOTIF-2)."""
        with call(request, x_acting_for) as (db, principal, subject):
            return services.update_settings(db, principal, subject, push=body.push, sms=body.sms, email=body.email)

    @app.put("/devices/{installation_id}", response_model=DeviceView, operation_id="registerDevice",
             summary="Register a device for push",
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
        """Register this installation's push token (APNs: 64 hex digits; FCM: registration token). Registering
        the same installation again replaces its token instead of adding a second one (200; 201 for a new
        installation, BR-NOTIF-4). Tokens that APNs or FCM report as gone are deactivated at once."""
        with call(request) as (db, principal, _):
            view, created = services.register_device(db, principal, installation_id, platform=body.platform,
                                                     token=body.token, app_version=body.app_version)
        response.status_code = 201 if created else 200
        return view

    @app.get("/devices", response_model=DeviceList, operation_id="listDevices", tags=["notifications"],
             summary="List registered devices",
             responses=problem_responses(*BASE))
    def list_devices(request: Request) -> Any:
        """The caller's active devices; the push token is shown only by its last characters."""
        with call(request) as (db, principal, _):
            return {"devices": services.list_devices(db, principal)}

    @app.delete("/devices/{installation_id}", status_code=204, response_class=Response,
                summary="Unregister a device",
                operation_id="unregisterDevice", tags=["notifications"], responses=problem_responses(*WITH_PARAMS))
    def delete_device(request: Request, installation_id: InstallationId) -> Response:
        """Unregister an installation (404 when it is not the caller's). Without a device left, push turns off and
        SMS back on, so notifications still arrive (BR-NOTIF-1)."""
        with call(request) as (db, principal, _):
            services.delete_device(db, principal, installation_id)
        return Response(status_code=204)

    @app.post("/consents", response_model=ConsentView, status_code=201, operation_id="grantConsent",
              summary="Give consent",
              tags=["notifications"],
              responses={**problem_responses(*WITH_BODY),
                         201: {"description": "Consent recorded with its time and text version",
                               "links": {"WithdrawConsent": {"operationId": "withdrawConsent",
                                                             "parameters": {"consent_id": "$response.body#/id"}}}}})
    def grant_consent(request: Request, body: ConsentRequest) -> Any:
        """Record consent with its time and the version of the text the user read (BR-GDPR-1); it supersedes an
        earlier consent for the same purpose. A push consent is needed before push can be turned on."""
        with call(request) as (db, principal, _):
            return services.grant_consent(db, principal, purpose=body.purpose, text_version=body.text_version)

    @app.get("/consents", response_model=ConsentList, operation_id="listConsents", tags=["notifications"],
             summary="List consents",
             responses=problem_responses(*BASE))
    def list_consents(request: Request) -> Any:
        """Every consent the caller has given, withdrawn and superseded ones included (BR-GDPR-1)."""
        with call(request) as (db, principal, _):
            return {"consents": services.list_consents(db, principal)}

    @app.delete("/consents/{consent_id}", status_code=204, response_class=Response, operation_id="withdrawConsent",
                summary="Withdraw a consent",
                tags=["notifications"], responses=problem_responses(*WITH_PARAMS, 409))
    def withdraw_consent(request: Request, consent_id: str = CONSENT_ID) -> Response:
        """Withdraw a consent; withdrawing the push consent turns push off and SMS back on (BR-NOTIF-1). 409 when it
        is already withdrawn; 404 when it is not the caller's."""
        with call(request) as (db, principal, _):
            services.withdraw_consent(db, principal, consent_id)
        return Response(status_code=204)

    # --- SSO, session -----------------------------------------------------------------------------------------------

    @app.post("/sso/tickets", response_model=SsoTicket, status_code=201, operation_id="createSsoTicket",
              summary="Get a single sign-on ticket",
              tags=["session"], responses=problem_responses(*WITH_BODY))
    def sso_ticket(request: Request, body: SsoTicketRequest) -> Any:
        """A one-time ticket, valid about 60 s, for one audience the caller's region offers with SSO: the WebView
        posts it to consume_url and is signed in. A replayed or expired ticket is refused there (BR-ID-3). 403
        for an audience the region does not offer with SSO."""
        with call(request) as (db, principal, _):
            return services.sso_ticket(ctx, db, principal, body.audience)

    @app.post("/session/logout", status_code=204, response_class=Response, operation_id="logout",
              summary="Log out",
              tags=["session"], responses=problem_responses(*BASE))
    def logout(request: Request) -> Response:
        """End the session: its access and refresh tokens stop working at once (BR-ID-2)."""
        with call(request) as (db, principal, _):
            services.logout(db, principal)
        return Response(status_code=204)

    # --- privacy ----------------------------------------------------------------------------------------------------

    @app.get("/audit-extract", response_model=AuditExtract, operation_id="getAuditExtract", tags=["privacy"],
             summary="Get the access log (loggutdrag)",
             responses=problem_responses(*BASE, 422))
    def audit_extract(request: Request) -> Any:
        """Loggutdrag: who read the caller's data, when, at which care unit and in what role (BR-AUDIT-1,
        PDL 8 kap. 5 §). Only for oneself: with X-Acting-For the answer is 403 (an ombud gets no log data)."""
        with call(request) as (db, principal, _):
            return {"entries": services.audit_extract(db, principal)}

    @app.get("/export", response_model=DataExport, operation_id="exportData", tags=["privacy"],
             summary="Export all data held about me",
             responses=problem_responses(*BASE))
    def export(request: Request) -> Any:
        """All data held about the caller as one JSON document (GDPR art. 15 and 20): profile with personnummer,
        children, messages (hidden ones too), bookings, journal, settings, devices, consents, care relations
        and the access log."""
        with call(request) as (db, principal, _):
            return services.export(db, principal)

    @app.post("/erasure", response_model=ErasureResult, operation_id="requestErasure", tags=["privacy"],
              summary="Erase my data",
              responses=problem_responses(*BASE))
    def erasure(request: Request) -> Any:
        """Erase devices, notification settings and consents (BR-GDPR-1). Health records (messages, bookings,
        journal, audit log) are kept, as patientdatalagen and arkivlagen require (GDPR art. 17.3); the answer
        says what was kept and why. The session stays valid."""
        with call(request) as (db, principal, _):
            return services.erase(db, principal)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags, servers=[{"url": "/api/v1"}])
            app.openapi_schema = problems.document_refusals(
                finish_openapi(schema, bearer_description=BEARER_DESCRIPTION))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
