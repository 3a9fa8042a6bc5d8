"""Request and response models of the mobile and staff APIs, precise enough for schema fuzzing and for a partner
to integrate from.

Requests refuse unknown fields (``additionalProperties: false``) and take JSON types strictly (no "yes" for a
boolean, no number for a string), so whatever a schema calls invalid, the API refuses with a 4xx. Free text and
personnummer follow the rules of ``sut.text``. Every model and field carries a description, and every model an
example; examples are synthetic (Skatteverket test personnummer, birth numbers 980-999; masked tokens).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from . import text
from .links import app_link
from .services import APNS_TOKEN_PATTERN, FCM_TOKEN_PATTERN, INSTALLATION_ID_PATTERN

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
VERSION_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,3}){0,2}$"
AUDIENCE_PATTERN = r"^(1177-eservices|regional:[0-9]{2}:(video|services))$"
REGION_CODE_PATTERN = r"^[0-9]{2}$"

Uuid = Annotated[StrictStr, Field(pattern=UUID_PATTERN, min_length=36, max_length=36,
                                  json_schema_extra={"format": "uuid"})]

# Synthetic example values, used by the examples below and by the operations' documentation.
EXAMPLE_PERSON_ID = "3f2b6c1e-8d4a-4b7e-9c21-5a6f0e9d1b37"
EXAMPLE_CHILD_ID = "a1c9e5d2-7b3f-4e8a-b6d4-2f0c8e1a9b55"
EXAMPLE_MESSAGE_ID = "6e0f3b8a-2c4d-4f1e-a9b7-c5d3e2f1a0b9"
EXAMPLE_BOOKING_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
EXAMPLE_CONSENT_ID = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
EXAMPLE_STAFF_ID = "5c4b3a29-1807-4f6e-8d5c-4b3a29180706"
EXAMPLE_PERSONNUMMER = "19850314-9901"  # Skatteverket test range (birth number 990)
EXAMPLE_CARE_UNIT = {"id": "SE232100001-0001", "name": "Vårdcentralen Norrtälje"}
EXAMPLE_REGION = {"code": "01", "name": "Region Stockholm", "joined": True, "video_mode": "inera"}
EXAMPLE_PERSON = {"id": EXAMPLE_PERSON_ID, "given_name": "Märta", "family_name": "Lindqvist",
                  "birth_date": "1985-03-14"}
EXAMPLE_CHILD = {"id": EXAMPLE_CHILD_ID, "given_name": "Saga", "family_name": "Lindqvist", "birth_date": "2019-06-02"}
EXAMPLE_MESSAGE = {"id": EXAMPLE_MESSAGE_ID, "subject": "Dags för uppföljning",
                   "sender_name": "Vårdcentralen Norrtälje", "care_unit": EXAMPLE_CARE_UNIT,
                   "created_at": "2026-03-02T08:15:00Z", "read": False, "read_at": None}
EXAMPLE_BOOKING = {"id": EXAMPLE_BOOKING_ID, "starts_at": "2026-03-16T09:30:00Z", "kind": "visit",
                   "status": "booked", "care_unit": EXAMPLE_CARE_UNIT}
EXAMPLE_DEVICE = {"installation_id": "c0ffee00-install-01", "platform": "ios", "provider": "apns",
                  "token_suffix": "a1b2c3", "app_version": "3.2.0", "active": True,  # nosec B105 # an example or endpoint name, not a secret
                  "registered_at": "2026-03-01T12:00:00Z"}
EXAMPLE_CONSENT = {"id": EXAMPLE_CONSENT_ID, "purpose": "push", "text_version": "1.0",
                   "granted_at": "2026-03-01T12:00:05Z", "withdrawn_at": None, "active": True}
EXAMPLE_AUDIT = {"at": "2026-03-02T10:04:00Z", "actor_kind": "staff", "actor_name": "Karin Öberg", "role": "staff",
                 "action": "message.read", "resource_type": "message", "resource_id": EXAMPLE_MESSAGE_ID,
                 "care_unit": EXAMPLE_CARE_UNIT}
EXAMPLE_JOURNAL_ENTRY = {"id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "written_at": "2026-02-01T14:00:00Z",
                         "author": "Leg. läkare Sjöberg", "text": "Besöksanteckning (testdata).",
                         "care_unit": EXAMPLE_CARE_UNIT}


def examples(*values: dict[str, Any]) -> dict[str, Any]:
    """Model config that gives the schema its examples (JSON Schema ``examples``)."""
    return {"json_schema_extra": {"examples": list(values)}}


def uuid_path(description: str, example: str = EXAMPLE_MESSAGE_ID) -> Any:
    return Path(pattern=UUID_PATTERN, min_length=36, max_length=36, description=description,
                json_schema_extra={"format": "uuid"}, examples=[example])


ActingFor = Annotated[str | None, Header(
    alias="X-Acting-For", pattern=UUID_PATTERN, min_length=36, max_length=36, json_schema_extra={"format": "uuid"},
    examples=[EXAMPLE_CHILD_ID],
    description="Act as ombud for this child (a person id from GET /acting-for). Only own children under 13 "
                "(BR-PROXY-1), else 403; without it the caller acts for themselves.")]
InstallationId = Annotated[str, Path(pattern=INSTALLATION_ID_PATTERN, min_length=8, max_length=64,
                                     examples=["c0ffee00-install-01"],
                                     description="Stable id of one app installation, chosen by the app: 8-64 ASCII "
                                                 "letters, digits, '.', '_' or '-', beginning with a letter or "
                                                 "digit")]

MessageSubject = text.free_text(max_length=200, description="Subject line, shown in the inbox.")
# 5,000 characters: even fully \u-escaped (12 bytes each) a valid body stays under the 64 KB limit.
MessageBody = text.free_text(max_length=5_000, multiline=True, description="The message itself.")
# Shorter in a bulk send, so every schema-valid body, even all escaped non-ASCII, stays under the 64 KB limit.
BulkMessageBody = text.free_text(max_length=2_000, multiline=True, description="The message itself.")
Personnummer = text.personnummer(description="The patient's personnummer.")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ---------------------------------------------------------------------------------------------------------

class FieldError(BaseModel):
    """One invalid part of a request. The offending value is never echoed: it may be a personnummer or a token."""

    field: str = Field(description="Where: the field's path, such as 'subject' or 'header.X-Acting-For'")
    reason: str = Field(description="Machine-readable kind of error, such as 'string_too_long' or 'text_invalid'")
    message: str = Field(description="What is wrong, for a developer")


class ProblemDetail(BaseModel):
    """An error, as RFC 9457 problem details (application/problem+json). Some problems carry extra members:
    ``redirect``, ``minimum_version`` (426) or ``error`` (the OAuth error code at the identity provider)."""

    model_config = ConfigDict(extra="allow", title="Problem", **examples(
        {"type": "urn:1177:problem:region-not-joined", "title": "Forbidden", "status": 403,
         "detail": "Din region använder inte appen ännu.", "instance": "/api/v1/inbox/messages"},
        {"type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": "The request is not valid.",
         "instance": "/staff/v1/messages",
         "errors": [{"field": "subject", "reason": "text_invalid", "message": "Texten får inte vara tom."}]}))
    type: str = Field(description="A URI naming the kind of problem ('urn:1177:problem:...'), or 'about:blank'")
    title: str = Field(description="Short summary of the HTTP status")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What happened, in words that may be shown to the user")
    instance: str | None = Field(default=None, description="The path of the request that failed")
    errors: list[FieldError] | None = Field(default=None, description="For 400 and 422: each invalid field")


# --- shared pieces --------------------------------------------------------------------------------------------------

class CareUnitRef(BaseModel):
    """A care unit (vårdenhet)."""

    model_config = ConfigDict(**examples(EXAMPLE_CARE_UNIT))
    id: str = Field(description="HSA-id of the care unit")
    name: str = Field(description="The unit's name, as shown to patients")


class RegionView(BaseModel):
    """One of the 21 regions, and whether it has joined the new app (BR-REG-1)."""

    model_config = ConfigDict(**examples(EXAMPLE_REGION))
    code: str = Field(pattern=REGION_CODE_PATTERN, description="County code, two ASCII digits ('01' Stockholm)")
    name: str = Field(description="The region's name")
    joined: bool = Field(description="Whether the region offers its e-services in the new app")
    video_mode: Literal["inera", "regional-sso", "external"] = Field(
        description="How video meetings open: Inera's service embedded, a regional one in a WebView with SSO, or in "
                    "the external browser without SSO")


class PersonBrief(BaseModel):
    """A person, by name and birth date; never a personnummer."""

    model_config = ConfigDict(**examples(EXAMPLE_PERSON))
    id: Uuid = Field(description="Person id, stable; use it in X-Acting-For")
    given_name: str = Field(description="Given name, as in the population register")
    family_name: str = Field(description="Family name, as in the population register")
    birth_date: date = Field(description="Date of birth")


class Redirect(BaseModel):
    """Where the app sends the user instead (BR-REG-1)."""

    model_config = ConfigDict(**examples({"url": "https://www.1177.se/", "target": "external-browser"}))
    url: str = Field(description="The address to open")
    target: Literal["external-browser"] = Field(description="Open it outside the app")


# --- profile, catalogue, start --------------------------------------------------------------------------------------

class Profile(PersonBrief):
    """The caller's profile. Never a personnummer; the address is null for a protected identity (BR-ID-1)."""

    model_config = ConfigDict(**examples({
        **EXAMPLE_PERSON, "protected_identity": False, "address": "Storgatan 1, 761 30 Norrtälje",
        "email": "marta.lindqvist@example.invalid", "phone": "+46701740605", "region": EXAMPLE_REGION,
        "acting_for": [EXAMPLE_CHILD]}))
    protected_identity: bool = Field(description="Skyddad folkbokföring: the address never leaves the backend")
    address: str | None = Field(description="Postal address; null for a protected identity (OSL 21 kap. 3 §)")
    email: str | None = Field(description="E-mail address for notifications, if given")
    phone: str | None = Field(description="Mobile number for SMS notifications (E.164), if given")
    region: RegionView = Field(description="The region the person lives in")
    acting_for: list[PersonBrief] = Field(description="Children the caller may act for as ombud")


class ActingForList(BaseModel):
    """Persons the caller may act for as ombud (BR-PROXY-1)."""

    model_config = ConfigDict(**examples({"persons": [EXAMPLE_CHILD]}))
    persons: list[PersonBrief] = Field(description="Own children under 13; empty for most callers")


class NativeService(BaseModel):
    """A screen built into the app."""

    model_config = ConfigDict(**examples({"kind": "native", "id": "inbox", "title": "Inkorg", "component": "inbox"}))
    kind: Literal["native"] = Field(description="Discriminator: a native component")
    id: str = Field(description="Service id, stable")
    title: str = Field(description="Title shown to the user, in Swedish")
    component: Literal["start", "inbox", "bookings", "settings"] = Field(description="Which built-in screen")


class WebViewService(BaseModel):
    """An e-service shown in a WebView, signed in with an SSO ticket for its audience (BR-ID-3)."""

    model_config = ConfigDict(**examples({
        "kind": "webview", "id": "journal", "title": "Journalen", "url": "https://e-tjanster.1177.example/journal",
        "sso": True, "audience": "1177-eservices"}))
    kind: Literal["webview"] = Field(description="Discriminator: a WebView e-service")
    id: str = Field(description="Service id, stable")
    title: str = Field(description="Title shown to the user, in Swedish")
    url: str = Field(description="Page to open after the SSO hand-over")
    sso: bool = Field(description="Whether to sign in with a ticket from POST /sso/tickets first")
    audience: str = Field(pattern=AUDIENCE_PATTERN, description="The audience to ask a ticket for")


class StoreLinks(BaseModel):
    """Where to install a regional app that is missing."""

    model_config = ConfigDict(**examples({"ios": "https://apps.apple.com/se/app/id900000001",
                                          "android": "https://play.google.com/store/apps/details?id=se.region01.app"}))
    ios: str = Field(description="App Store page")
    android: str = Field(description="Google Play page")


class ExternalLinkService(BaseModel):
    """A regional app, opened by deep link, or its store page when it is not installed."""

    model_config = ConfigDict(**examples({
        "kind": "external-link", "id": "regional-app", "title": "Region Stockholms app", "deep_link": "region01://open",
        "store_links": {"ios": "https://apps.apple.com/se/app/id900000001",
                        "android": "https://play.google.com/store/apps/details?id=se.region01.app"}}))
    kind: Literal["external-link"] = Field(description="Discriminator: another app")
    id: str = Field(description="Service id, stable")
    title: str = Field(description="Title shown to the user, in Swedish")
    deep_link: str = Field(description="The app's own URL")
    store_links: StoreLinks = Field(description="Store pages, when the app is not installed")


class VideoService(BaseModel):
    """Video meetings, presented as the region chose (BR-REG-2)."""

    model_config = ConfigDict(**examples({
        "kind": "video", "id": "video", "title": "Videomöten", "mode": "inera", "presentation": "embedded",
        "sso": False, "audience": None, "url": "https://video.1177.example/"}))
    kind: Literal["video"] = Field(description="Discriminator: video meetings")
    id: str = Field(description="Service id, stable")
    title: str = Field(description="Title shown to the user, in Swedish")
    mode: Literal["inera", "regional-sso", "external"] = Field(description="Whose video service")
    presentation: Literal["embedded", "webview", "external-browser"] = Field(description="Where it opens")
    sso: bool = Field(description="Whether to sign in with a ticket first")
    audience: str | None = Field(description="The audience to ask a ticket for, when sso is true")
    url: str = Field(description="The video service's address")


Service = Annotated[NativeService | WebViewService | ExternalLinkService | VideoService,
                    Field(discriminator="kind")]


class Catalogue(BaseModel):
    """BR-REG-2; for a region that has not joined: region_joined false, a redirect and no services (BR-REG-1)."""

    model_config = ConfigDict(**examples(
        {"region": EXAMPLE_REGION, "region_joined": True, "redirect": None,
         "services": [{"kind": "native", "id": "inbox", "title": "Inkorg", "component": "inbox"},
                      {"kind": "webview", "id": "journal", "title": "Journalen",
                       "url": "https://e-tjanster.1177.example/journal", "sso": True, "audience": "1177-eservices"}]},
        {"region": {**EXAMPLE_REGION, "code": "25", "name": "Region Norrbotten", "joined": False},
         "region_joined": False, "redirect": {"url": "https://www.1177.se/", "target": "external-browser"},
         "services": []}))
    region: RegionView = Field(description="The caller's region")
    region_joined: bool = Field(description="False: open the redirect and no e-service in the app")
    redirect: Redirect | None = Field(description="Where to send the user when the region has not joined")
    services: list[Service] = Field(description="The region's services, in display order")


class BookingView(BaseModel):
    """A booked time."""

    model_config = ConfigDict(**examples(EXAMPLE_BOOKING))
    id: Uuid = Field(description="Booking id")
    starts_at: datetime = Field(description="Start time (UTC)")
    kind: Literal["visit", "video"] = Field(description="A visit at the unit, or a video meeting")
    status: Literal["booked", "cancelled"] = Field(description="Whether it still stands")
    care_unit: CareUnitRef | None = Field(description="The unit the time is booked with")


class ChildUnread(PersonBrief):
    """A child under 13 the caller is ombud for, with the child's unread count."""

    model_config = ConfigDict(**examples({**EXAMPLE_CHILD, "unread": 1}))
    unread: int = Field(ge=0, description="Unread messages in the child's inbox")


class StartSummary(BaseModel):
    """What the start screen shows (BR-INBOX-1)."""

    model_config = ConfigDict(**examples({"unread": 2, "children": [{**EXAMPLE_CHILD, "unread": 1}],
                                          "next_booking": EXAMPLE_BOOKING}))
    unread: int = Field(ge=0, description="The caller's unread messages")
    children: list[ChildUnread] = Field(description="Per child under 13: unread messages")
    next_booking: BookingView | None = Field(description="The next booked time, if any")


# --- inbox, bookings, journal ---------------------------------------------------------------------------------------

class MessageSummary(BaseModel):
    """A message in the inbox list (without its body)."""

    model_config = ConfigDict(**examples(EXAMPLE_MESSAGE))
    id: Uuid = Field(description="Message id; a push notification's deep link names it (BR-INBOX-2)")
    subject: str = Field(description="Subject line, as the sender wrote it (trimmed, Unicode NFC)")
    sender_name: str = Field(description="Who sent it: the care unit's name")
    care_unit: CareUnitRef | None = Field(description="The sending care unit")
    created_at: datetime = Field(description="When it was sent (UTC)")
    read: bool = Field(description="Whether it has been opened or marked read")
    read_at: datetime | None = Field(description="When it was first read")


class MessageDetail(MessageSummary):
    """One message with its body."""

    model_config = ConfigDict(**examples({**EXAMPLE_MESSAGE, "read": True, "read_at": "2026-03-02T09:00:00Z",
                                          "body": "Hej!\nVälkommen på uppföljning om två veckor."}))
    body: str = Field(description="The message, as the sender wrote it (trimmed, Unicode NFC, lines split by \\n)")


class MessageList(BaseModel):
    """The inbox, newest first."""

    model_config = ConfigDict(**examples({"messages": [EXAMPLE_MESSAGE]}))
    messages: list[MessageSummary] = Field(description="Messages not hidden, newest first")


class BookingList(BaseModel):
    """Booked and cancelled times."""

    model_config = ConfigDict(**examples({"bookings": [EXAMPLE_BOOKING]}))
    bookings: list[BookingView] = Field(description="Bookings, earliest first")


class JournalEntryView(BaseModel):
    """One entry of the patient's journal (Journalen)."""

    model_config = ConfigDict(**examples(EXAMPLE_JOURNAL_ENTRY))
    id: Uuid = Field(description="Entry id")
    written_at: datetime = Field(description="When it was written (UTC)")
    author: str = Field(description="Who wrote it, with title")
    text: str = Field(description="The note")
    care_unit: CareUnitRef | None = Field(description="The unit that keeps the record")


class Journal(BaseModel):
    """The caller's journal entries."""

    model_config = ConfigDict(**examples({"entries": [EXAMPLE_JOURNAL_ENTRY]}))
    entries: list[JournalEntryView] = Field(description="Entries, newest first; each read is audited")


# --- settings, devices, consents ------------------------------------------------------------------------------------

class NotificationSettingsUpdate(Request):
    """BR-NOTIF-1: push needs an active device and a push consent; SMS off only while push is on."""

    model_config = ConfigDict(**examples({"push": True, "sms": False, "email": False}))
    push: StrictBool = Field(description="Notify by push to the caller's registered devices")
    sms: StrictBool = Field(description="Notify by SMS")
    email: StrictBool = Field(description="Notify by e-mail")


class NotificationSettings(BaseModel):
    """Channel choices for new messages to one subject: the caller, or a child acted for."""

    model_config = ConfigDict(**examples({
        "subject_id": EXAMPLE_PERSON_ID, "role": "self", "push": True, "sms": False, "email": False,
        "updated_at": "2026-03-01T12:00:10Z", "push_available": True, "has_active_device": True,
        "has_push_consent": True}))
    subject_id: Uuid = Field(description="Whose messages these settings are for")
    role: Literal["self", "ombud"] = Field(description="Own messages, or a child's as ombud")
    push: bool = Field(description="Push notifications on")
    sms: bool = Field(description="SMS notifications on")
    email: bool = Field(description="E-mail notifications on")
    updated_at: datetime | None = Field(description="When last changed; null if never")
    push_available: bool = Field(description="Whether push may be turned on now (a device and a consent)")
    has_active_device: bool = Field(description="The caller has at least one device that can receive push")
    has_push_consent: bool = Field(description="The caller has an active push consent")


class IosDevice(Request):
    """An iPhone or iPad with its APNs token."""

    model_config = ConfigDict(**examples({"platform": "ios", "token": "0" * 58 + "a1b2c3", "app_version": "3.2.0"}))
    platform: Literal["ios"] = Field(description="Discriminator: iOS")
    token: StrictStr = Field(pattern=APNS_TOKEN_PATTERN, min_length=64, max_length=64,
                             description="APNs device token: 64 hexadecimal ASCII digits")
    app_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11,
                                   description="The app's version, 1-3 numbers of ASCII digits separated by '.'")


class AndroidDevice(Request):
    """An Android phone with its FCM registration token."""

    model_config = ConfigDict(**examples({"platform": "android",
                                          "token": "dXNlcjEyMzQ1Ng:APA91b" + "x" * 134, "app_version": "3.2.0"}))
    platform: Literal["android"] = Field(description="Discriminator: Android")
    token: StrictStr = Field(pattern=FCM_TOKEN_PATTERN, min_length=78, max_length=291,
                             description="FCM registration token: '<instance id>:APA91b<base64url>', ASCII only")
    app_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11,
                                   description="The app's version, 1-3 numbers of ASCII digits separated by '.'")


DeviceRegistration = Annotated[IosDevice | AndroidDevice, Field(discriminator="platform")]


class DeviceView(BaseModel):
    """A registered installation. The push token is shown only by its end."""

    model_config = ConfigDict(**examples(EXAMPLE_DEVICE))
    installation_id: str = Field(description="The installation id the app chose")
    platform: Literal["ios", "android"] = Field(description="The phone's platform")
    provider: Literal["apns", "fcm"] = Field(description="The push service that reaches it")
    token_suffix: str = Field(description="The last characters of the push token, never the whole token")
    app_version: str = Field(description="The app's version at registration")
    active: bool = Field(description="False once the push service said the token is gone (BR-NOTIF-4)")
    registered_at: datetime = Field(description="When registered or last re-registered (UTC)")


class DeviceList(BaseModel):
    """The caller's devices."""

    model_config = ConfigDict(**examples({"devices": [EXAMPLE_DEVICE]}))
    devices: list[DeviceView] = Field(description="Active devices")


class ConsentRequest(Request):
    """Consent the user gave in the app, with the version of the text they read (BR-GDPR-1)."""

    model_config = ConfigDict(**examples({"purpose": "push", "text_version": "1.0"}))
    purpose: Literal["push"] = Field(description="What the consent is for")
    text_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11,
                                    description="Version of the consent text the user agreed to (ASCII digits and "
                                                "dots)")


class ConsentView(BaseModel):
    """A consent, as recorded."""

    model_config = ConfigDict(**examples(EXAMPLE_CONSENT))
    id: Uuid = Field(description="Consent id")
    purpose: Literal["push"] = Field(description="What it is for")
    text_version: str = Field(description="The consent text's version")
    granted_at: datetime = Field(description="When given (UTC)")
    withdrawn_at: datetime | None = Field(description="When withdrawn or superseded; null while active")
    active: bool = Field(description="Whether it is in force")


class ConsentList(BaseModel):
    """Every consent given."""

    model_config = ConfigDict(**examples({"consents": [EXAMPLE_CONSENT]}))
    consents: list[ConsentView] = Field(description="Consents, withdrawn ones included")


# --- video, SSO -----------------------------------------------------------------------------------------------------

class VideoMeeting(BookingView):
    """A booked video meeting and where to join it."""

    model_config = ConfigDict(**examples({**EXAMPLE_BOOKING, "kind": "video",
                                          "join_url": "https://video.1177.example/"}))
    join_url: str = Field(description="Where to join, presented as the region's video mode says")


class VideoMeetings(BaseModel):
    """The region's video mode and the caller's video meetings."""

    model_config = ConfigDict(**examples({
        "mode": "inera", "presentation": "embedded", "sso": False, "audience": None,
        "meetings": [{**EXAMPLE_BOOKING, "kind": "video", "join_url": "https://video.1177.example/"}]}))
    mode: Literal["inera", "regional-sso", "external"] = Field(description="Whose video service")
    presentation: Literal["embedded", "webview", "external-browser"] = Field(description="Where it opens")
    sso: bool = Field(description="Whether to sign in with a ticket first")
    audience: str | None = Field(description="The audience to ask a ticket for, when sso is true")
    meetings: list[VideoMeeting] = Field(description="Booked video meetings, earliest first")


class SsoTicketRequest(Request):
    """Which service to sign in to."""

    model_config = ConfigDict(**examples({"audience": "1177-eservices"}, {"audience": "regional:01:video"}))
    audience: StrictStr = Field(pattern=AUDIENCE_PATTERN, max_length=40,
                                description="'1177-eservices', or 'regional:<region code>:video|services' for a "
                                            "regional service the caller's region offers with SSO")


class SsoTicket(BaseModel):
    """A one-time ticket for a WebView or regional service (BR-ID-3)."""

    model_config = ConfigDict(**examples({
        "ticket": "[masked]", "expires_in": 60, "consume_url": "https://e-tjanster.1177.example/sso",
        "audience": "1177-eservices", "region": "01"}))
    ticket: str = Field(description="One-time ticket, valid about 60 s (BR-ID-3); POST it to consume_url")
    expires_in: int = Field(description="Seconds it stays valid")
    consume_url: str = Field(description="Where the WebView posts the ticket to start its session")
    audience: str = Field(description="The service it is valid for, and only that one")
    region: str = Field(description="The caller's region code")


# --- audit extract, export, erasure ---------------------------------------------------------------------------------

class AuditEntry(BaseModel):
    """One access to the patient's data (BR-AUDIT-1)."""

    model_config = ConfigDict(**examples(EXAMPLE_AUDIT))
    at: datetime = Field(description="When (UTC)")
    actor_kind: Literal["person", "staff"] = Field(description="A person (the patient or an ombud) or care staff")
    actor_name: str = Field(description="Who, by name")
    role: Literal["self", "ombud", "staff"] = Field(description="In what role")
    action: str = Field(description="What was done, such as 'message.read' or 'journal.read'")
    resource_type: str = Field(description="What kind of data, such as 'message'")
    resource_id: str | None = Field(description="Which item, if one")
    care_unit: CareUnitRef | None = Field(description="At which care unit, for staff")


class AuditExtract(BaseModel):
    """Loggutdrag: who accessed the caller's data (PDL 8 kap. 5 §)."""

    model_config = ConfigDict(**examples({"entries": [EXAMPLE_AUDIT]}))
    entries: list[AuditEntry] = Field(description="Accesses, newest first")


class ExportPerson(PersonBrief):
    """The caller as held in the system, personnummer included (it is their own data)."""

    model_config = ConfigDict(**examples({
        **EXAMPLE_PERSON, "personnummer": "198503149901", "address": "Storgatan 1, 761 30 Norrtälje",
        "protected_identity": False, "email": None, "phone": "+46701740605", "region": EXAMPLE_REGION}))
    personnummer: str = Field(description="The caller's personnummer, 12 digits")
    address: str | None = Field(description="Postal address; null for a protected identity")
    protected_identity: bool = Field(description="Skyddad folkbokföring")
    email: str | None = Field(description="E-mail address, if given")
    phone: str | None = Field(description="Mobile number, if given")
    region: RegionView = Field(description="The region the person lives in")


class ExportMessage(MessageDetail):
    """A message, hidden ones included."""

    model_config = ConfigDict(**examples({**EXAMPLE_MESSAGE, "body": "Hej!", "hidden": False}))
    hidden: bool = Field(description="Removed from the inbox by the patient (kept as a record)")


class ExportSetting(BaseModel):
    """Notification settings for one subject."""

    model_config = ConfigDict(**examples({"subject_id": EXAMPLE_PERSON_ID, "push": True, "sms": False,
                                          "email": False, "updated_at": None}))
    subject_id: Uuid = Field(description="Whose messages: the caller or a child")
    push: bool = Field(description="Push on")
    sms: bool = Field(description="SMS on")
    email: bool = Field(description="E-mail on")
    updated_at: datetime | None = Field(description="When last changed")


class DataExport(BaseModel):
    """Everything held about the caller (GDPR art. 15 and 20)."""

    model_config = ConfigDict(**examples({
        "format": "1177-export/1", "exported_at": "2026-03-02T12:00:00Z",
        "person": {**EXAMPLE_PERSON, "personnummer": "198503149901", "address": None, "protected_identity": True,
                   "email": None, "phone": None, "region": EXAMPLE_REGION},
        "children": [], "messages": [{**EXAMPLE_MESSAGE, "body": "Hej!", "hidden": False}],
        "bookings": [EXAMPLE_BOOKING], "journal": [EXAMPLE_JOURNAL_ENTRY], "notification_settings": [],
        "devices": [EXAMPLE_DEVICE], "consents": [EXAMPLE_CONSENT], "care_relations": [EXAMPLE_CARE_UNIT],
        "access_log": [EXAMPLE_AUDIT]}))
    format: Literal["1177-export/1"] = Field(description="Format name and version of this export")
    exported_at: datetime = Field(description="When it was made (UTC)")
    person: ExportPerson = Field(description="The caller")
    children: list[PersonBrief] = Field(description="Children the caller is guardian of")
    messages: list[ExportMessage] = Field(description="Every message, hidden ones included")
    bookings: list[BookingView] = Field(description="Every booking")
    journal: list[JournalEntryView] = Field(description="Every journal entry")
    notification_settings: list[ExportSetting] = Field(description="Settings for self and each child")
    devices: list[DeviceView] = Field(description="Registered devices")
    consents: list[ConsentView] = Field(description="Consents, withdrawn ones included")
    care_relations: list[CareUnitRef | None] = Field(description="Care units with a care relation")
    access_log: list[AuditEntry] = Field(description="Who accessed the data (as the audit extract)")


class KeptData(BaseModel):
    """Data an erasure keeps, and the law that says so."""

    model_config = ConfigDict(**examples({"data": "messages", "count": 3,
                                          "reason": "Meddelanden från vården är en del av patientjournalen."}))
    data: Literal["messages", "bookings", "journal_entries", "audit_records"] = Field(description="What is kept")
    count: int = Field(ge=0, description="How many items")
    reason: str = Field(description="Why, in Swedish, citing the law")


class ErasureResult(BaseModel):
    """What an erasure deleted, and what it kept and why (GDPR art. 17.3, PdL 3 kap. 17 §)."""

    model_config = ConfigDict(**examples({
        "id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "at": "2026-03-02T12:05:00Z",
        "erased": {"devices": 1, "notification_settings": 1, "consents": 1},
        "kept": [{"data": "messages", "count": 3,
                  "reason": "Meddelanden från vården är en del av patientjournalen."}]}))
    id: Uuid = Field(description="Erasure request id")
    at: datetime = Field(description="When it was carried out (UTC)")
    erased: dict[str, int] = Field(description="Per kind of data: how many items were deleted")
    kept: list[KeptData] = Field(description="What was kept, and why")


# --- staff ----------------------------------------------------------------------------------------------------------

class StaffCareUnit(CareUnitRef):
    """The care unit a staff token is scoped to."""

    model_config = ConfigDict(**examples({**EXAMPLE_CARE_UNIT, "region_code": "01"}))
    region_code: str = Field(description="The unit's region")


class StaffProfile(BaseModel):
    """The staff member behind the token."""

    model_config = ConfigDict(**examples({"id": EXAMPLE_STAFF_ID, "hsa_id": "SE232100001-0001-P001",
                                          "name": "Karin Öberg", "care_unit": {**EXAMPLE_CARE_UNIT,
                                                                               "region_code": "01"}}))
    id: Uuid = Field(description="Staff id")
    hsa_id: str = Field(description="The staff member's HSA-id")
    name: str = Field(description="Name")
    care_unit: StaffCareUnit | None = Field(description="The unit the token is scoped to")


class PatientLookup(Request):
    """Find a patient of the unit by personnummer (in the body, never in a URL: BR-SEC-1)."""

    model_config = ConfigDict(**examples({"personnummer": EXAMPLE_PERSONNUMMER}))
    personnummer: Personnummer


class PatientRef(BaseModel):
    """A patient with a care relation to the caller's unit."""

    model_config = ConfigDict(**examples({"patient_id": EXAMPLE_PERSON_ID}))
    patient_id: Uuid = Field(description="The patient's id, for POST /messages")


class StaffMessageRequest(Request):
    """A message to one patient."""

    model_config = ConfigDict(**examples({"patient_id": EXAMPLE_PERSON_ID, "subject": "Dags för uppföljning",
                                          "body": "Hej!\nVälkommen på uppföljning om två veckor."}))
    patient_id: Uuid = Field(description="From POST /patients/lookup")
    subject: MessageSubject
    body: MessageBody


class StaffMessageCreated(BaseModel):
    """The message as stored."""

    model_config = ConfigDict(**examples({"id": EXAMPLE_MESSAGE_ID, "patient_id": EXAMPLE_PERSON_ID,
                                          "created_at": "2026-03-02T08:15:00Z"}))
    id: Uuid = Field(description="Message id")
    patient_id: Uuid = Field(description="The recipient")
    created_at: datetime = Field(description="When it was stored (UTC); the notification follows from the outbox")


class StaffMessage(MessageDetail):
    """A message of the unit, as the patient sees it."""

    model_config = ConfigDict(**examples({**EXAMPLE_MESSAGE, "body": "Hej!", "patient_id": EXAMPLE_PERSON_ID}))
    patient_id: Uuid = Field(description="The recipient")


# --- OpenAPI: problem responses, security, tags, finishing touches --------------------------------------------------

PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing, malformed, expired, tampered or revoked bearer token, or an ended session",
    403: "Not allowed: not ombud for this person, region not joined, no care relation, or the wrong kind of token",
    404: "No such resource for this caller",
    409: "The request conflicts with the resource's state",
    413: "Request body larger than 64 KB",
    422: "Request not valid: wrong types, unknown fields, values out of range or format, text against the rules",
    426: "App version below the supported minimum: update the app (BR-REG-3)",
    429: "Too many requests: wait Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
_WWW_AUTH = {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the given problem statuses, as problem+json (RFC 9457)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ProblemDetail, "description": PROBLEM_DESCRIPTIONS[code]}
        if code == 429:
            entry["headers"] = _RETRY_AFTER
        if code == 401:
            entry["headers"] = _WWW_AUTH
        out[code] = entry
    return out


AUTHORIZE_URL = "/idp/authorize"
TOKEN_URL = "/idp/token"  # noqa: S105 - an endpoint, not a secret # nosec B105 # an example or endpoint name, not a secret


def security_schemes(bearer_description: str) -> dict[str, Any]:
    """The bearer token, and how a client gets one: OAuth 2.0 authorization code with PKCE (RFC 7636, S256)."""
    return {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": bearer_description},
        "oauth2": {
            "type": "oauth2",
            "description": (
                "How the app gets its tokens: OAuth 2.0 authorization code with PKCE (RFC 7636, method S256 only). "
                "1. Make a code_verifier (43-128 URL-safe characters) and its code_challenge, "
                "BASE64URL(SHA-256(code_verifier)) without padding. "
                f"2. Open {AUTHORIZE_URL}?client_id=app&redirect_uri={app_link('auth/callback')}&state=...&"
                "code_challenge=... in the system browser; a patient logs in with BankID or Freja eID, staff with "
                "a SITHS card. "
                "3. The browser returns to se.1177.appen://auth/callback?code=...&state=...; check state. "
                f"4. POST {TOKEN_URL} (form) grant_type=authorization_code, code, code_verifier, redirect_uri: the "
                "answer holds a short-lived access_token (a JWT, sent as 'Authorization: Bearer') and a "
                "refresh_token. 5. Before the access token expires, POST grant_type=refresh_token: each refresh "
                "token works once and the answer brings a new one (rotation; reusing an old one ends the session, "
                "BR-ID-2). The identity provider's own OpenAPI document is /idp/openapi.json."),
            "flows": {"authorizationCode": {"authorizationUrl": AUTHORIZE_URL, "tokenUrl": TOKEN_URL,
                                            "refreshUrl": TOKEN_URL, "scopes": {}}},
        },
    }


def declared_examples() -> dict[str, list[Any]]:
    """Each model's own examples, by schema name (every model that declares them sets its own model_config)."""
    found: dict[str, list[Any]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        for model in stack.pop().__subclasses__():
            stack.append(model)
            extra = model.model_config.get("json_schema_extra")
            if isinstance(extra, dict) and isinstance(extra.get("examples"), list):
                found[model.model_config.get("title") or model.__name__] = extra["examples"]
    return found


# Links that close the loop a client walks (list -> open -> act -> list again), so stateful testing follows every
# path a user takes; added to an operation's success answer where the route does not declare them itself.
_BY_PATH_MESSAGE = {"message_id": "$request.path.message_id"}
EXTRA_LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "getMessage": {"MarkMessageRead": {"operationId": "markMessageRead", "parameters": _BY_PATH_MESSAGE},
                   "HideMessage": {"operationId": "hideMessage", "parameters": _BY_PATH_MESSAGE}},
    "markMessageRead": {"ListMessages": {"operationId": "listMessages"},
                        "GetMessage": {"operationId": "getMessage", "parameters": _BY_PATH_MESSAGE}},
    "hideMessage": {"ListMessages": {"operationId": "listMessages"},
                    "GetMessage": {"operationId": "getMessage", "parameters": _BY_PATH_MESSAGE}},
    "cancelBooking": {"ListBookings": {"operationId": "listBookings"}},
    "listDevices": {"UnregisterDevice": {"operationId": "unregisterDevice", "parameters": {
        "installation_id": "$response.body#/devices/0/installation_id"}}},
    "unregisterDevice": {"ListDevices": {"operationId": "listDevices"}},
    "listConsents": {"WithdrawConsent": {"operationId": "withdrawConsent",
                                         "parameters": {"consent_id": "$response.body#/consents/0/id"}}},
    "withdrawConsent": {"ListConsents": {"operationId": "listConsents"}},
    "getStaffMessage": {"GetStaffMessage": {"operationId": "getStaffMessage",
                                            "parameters": {"message_id": "$request.path.message_id"}}},
}


def _add_links(operation: dict[str, Any]) -> None:
    extra = EXTRA_LINKS.get(operation.get("operationId", ""))
    success = [r for status, r in operation.get("responses", {}).items() if str(status).startswith("2")]
    for response in success if extra else ():
        response["links"] = {**extra, **response.get("links", {})}


def finish_openapi(schema: dict[str, Any], *, bearer_description: str | None = None) -> dict[str, Any]:
    """Problem responses are application/problem+json, not application/json as FastAPI would say; an optional
    parameter is absent, never the text 'null' (FastAPI would declare it as 'string or null'). Examples are put
    back as declared: FastAPI drops every null from the document, also the nulls inside examples, which then no
    longer match their schemas. With a bearer description, the security schemes also say how to get the bearer
    token (OAuth 2.0 authorization code with PKCE); operations keep naming the bearer scheme they check."""
    examples_by_name = declared_examples()
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        if name in examples_by_name:
            component["examples"] = examples_by_name[name]
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                variants = parameter.get("schema", {}).get("anyOf")
                if variants and {"type": "null"} in variants:
                    rest = [v for v in variants if v != {"type": "null"}]
                    parameter["schema"] = {**{k: v for k, v in parameter["schema"].items() if k != "anyOf"},
                                           **rest[0]} if len(rest) == 1 else {"anyOf": rest}
            _add_links(operation)
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    if bearer_description is not None:
        schema.setdefault("components", {})["securitySchemes"] = security_schemes(bearer_description)
    return schema
