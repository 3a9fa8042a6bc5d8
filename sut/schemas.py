"""Request and response models of the mobile and staff APIs, precise enough for schema fuzzing.

Requests refuse unknown fields (``additionalProperties: false``) and take JSON types strictly (no "yes" for a
boolean, no number for a string), so whatever a schema calls invalid, the API refuses with a 4xx.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from .services import APNS_TOKEN_PATTERN, FCM_TOKEN_PATTERN, INSTALLATION_ID_PATTERN

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PNR_PATTERN = r"^(\d{2})?\d{6}[-+]?\d{4}$"
VERSION_PATTERN = r"^\d{1,3}(\.\d{1,3}){0,2}$"
AUDIENCE_PATTERN = r"^(1177-eservices|regional:\d{2}:(video|services))$"

Uuid = Annotated[StrictStr, Field(pattern=UUID_PATTERN, min_length=36, max_length=36,
                                  json_schema_extra={"format": "uuid"})]


def uuid_path(description: str) -> Any:
    return Path(pattern=UUID_PATTERN, min_length=36, max_length=36, description=description,
                json_schema_extra={"format": "uuid"})


ActingFor = Annotated[str | None, Header(
    alias="X-Acting-For", pattern=UUID_PATTERN, min_length=36, max_length=36, json_schema_extra={"format": "uuid"},
    description="Act as ombud for this child (a person id). Only own children under 13 (BR-PROXY-1); "
                "without it the caller acts for themselves.")]
InstallationId = Annotated[str, Path(pattern=INSTALLATION_ID_PATTERN, min_length=8, max_length=64,
                                     description="Stable id of one app installation")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ---------------------------------------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str
    reason: str
    message: str


class ProblemDetail(BaseModel):
    """RFC 9457 problem details; some problems carry extra members (redirect, minimum_version, missing)."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str = Field(examples=["urn:1177:problem:region-not-joined"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


# --- shared pieces --------------------------------------------------------------------------------------------------

class CareUnitRef(BaseModel):
    id: str = Field(description="HSA-id of the care unit")
    name: str


class RegionView(BaseModel):
    code: str = Field(pattern=r"^\d{2}$")
    name: str
    joined: bool
    video_mode: Literal["inera", "regional-sso", "external"]


class PersonBrief(BaseModel):
    id: Uuid
    given_name: str
    family_name: str
    birth_date: date


class Redirect(BaseModel):
    url: str
    target: Literal["external-browser"]


# --- profile, catalogue, start --------------------------------------------------------------------------------------

class Profile(PersonBrief):
    """The caller's profile. Never a personnummer; the address is null for a protected identity (BR-ID-1)."""

    protected_identity: bool
    address: str | None
    email: str | None
    phone: str | None
    region: RegionView
    acting_for: list[PersonBrief] = Field(description="Children the caller may act for as ombud")


class ActingForList(BaseModel):
    persons: list[PersonBrief]


class NativeService(BaseModel):
    kind: Literal["native"]
    id: str
    title: str
    component: Literal["start", "inbox", "bookings", "settings"]


class WebViewService(BaseModel):
    kind: Literal["webview"]
    id: str
    title: str
    url: str
    sso: bool
    audience: str = Field(pattern=AUDIENCE_PATTERN)


class StoreLinks(BaseModel):
    ios: str
    android: str


class ExternalLinkService(BaseModel):
    kind: Literal["external-link"]
    id: str
    title: str
    deep_link: str
    store_links: StoreLinks


class VideoService(BaseModel):
    kind: Literal["video"]
    id: str
    title: str
    mode: Literal["inera", "regional-sso", "external"]
    presentation: Literal["embedded", "webview", "external-browser"]
    sso: bool
    audience: str | None
    url: str


Service = Annotated[NativeService | WebViewService | ExternalLinkService | VideoService,
                    Field(discriminator="kind")]


class Catalogue(BaseModel):
    """BR-REG-2; for a region that has not joined: region_joined false, a redirect and no services (BR-REG-1)."""

    region: RegionView
    region_joined: bool
    redirect: Redirect | None
    services: list[Service]


class BookingView(BaseModel):
    id: Uuid
    starts_at: datetime
    kind: Literal["visit", "video"]
    status: Literal["booked", "cancelled"]
    care_unit: CareUnitRef | None


class ChildUnread(PersonBrief):
    unread: int = Field(ge=0)


class StartSummary(BaseModel):
    unread: int = Field(ge=0)
    children: list[ChildUnread]
    next_booking: BookingView | None


# --- inbox, bookings, journal ---------------------------------------------------------------------------------------

class MessageSummary(BaseModel):
    id: Uuid
    subject: str
    sender_name: str
    care_unit: CareUnitRef | None
    created_at: datetime
    read: bool
    read_at: datetime | None


class MessageDetail(MessageSummary):
    body: str


class MessageList(BaseModel):
    messages: list[MessageSummary]


class BookingList(BaseModel):
    bookings: list[BookingView]


class JournalEntryView(BaseModel):
    id: Uuid
    written_at: datetime
    author: str
    text: str
    care_unit: CareUnitRef | None


class Journal(BaseModel):
    entries: list[JournalEntryView]


# --- settings, devices, consents ------------------------------------------------------------------------------------

class NotificationSettingsUpdate(Request):
    """BR-NOTIF-1: push needs an active device and a push consent; SMS off only while push is on."""

    push: StrictBool
    sms: StrictBool
    email: StrictBool


class NotificationSettings(BaseModel):
    subject_id: Uuid
    role: Literal["self", "ombud"]
    push: bool
    sms: bool
    email: bool
    updated_at: datetime | None
    push_available: bool
    has_active_device: bool
    has_push_consent: bool


class IosDevice(Request):
    platform: Literal["ios"]
    token: StrictStr = Field(pattern=APNS_TOKEN_PATTERN, min_length=64, max_length=64,
                             description="APNs device token: 64 hexadecimal digits")
    app_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11)


class AndroidDevice(Request):
    platform: Literal["android"]
    token: StrictStr = Field(pattern=FCM_TOKEN_PATTERN, min_length=78, max_length=291,
                             description="FCM registration token: '<instance id>:APA91b<base64url>'")
    app_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11)


DeviceRegistration = Annotated[IosDevice | AndroidDevice, Field(discriminator="platform")]


class DeviceView(BaseModel):
    installation_id: str
    platform: Literal["ios", "android"]
    provider: Literal["apns", "fcm"]
    token_suffix: str = Field(description="The last characters of the push token, never the whole token")
    app_version: str
    active: bool
    registered_at: datetime


class DeviceList(BaseModel):
    devices: list[DeviceView]


class ConsentRequest(Request):
    purpose: Literal["push"]
    text_version: StrictStr = Field(pattern=VERSION_PATTERN, max_length=11,
                                    description="Version of the consent text the user agreed to")


class ConsentView(BaseModel):
    id: Uuid
    purpose: Literal["push"]
    text_version: str
    granted_at: datetime
    withdrawn_at: datetime | None
    active: bool


class ConsentList(BaseModel):
    consents: list[ConsentView]


# --- video, SSO -----------------------------------------------------------------------------------------------------

class VideoMeeting(BookingView):
    join_url: str


class VideoMeetings(BaseModel):
    mode: Literal["inera", "regional-sso", "external"]
    presentation: Literal["embedded", "webview", "external-browser"]
    sso: bool
    audience: str | None
    meetings: list[VideoMeeting]


class SsoTicketRequest(Request):
    audience: StrictStr = Field(pattern=AUDIENCE_PATTERN, max_length=40,
                                description="'1177-eservices', or 'regional:<region code>:video|services'")


class SsoTicket(BaseModel):
    ticket: str = Field(description="One-time ticket, valid about 60 s (BR-ID-3)")
    expires_in: int
    consume_url: str
    audience: str
    region: str


# --- audit extract, export, erasure ---------------------------------------------------------------------------------

class AuditEntry(BaseModel):
    at: datetime
    actor_kind: Literal["person", "staff"]
    actor_name: str
    role: Literal["self", "ombud", "staff"]
    action: str
    resource_type: str
    resource_id: str | None
    care_unit: CareUnitRef | None


class AuditExtract(BaseModel):
    entries: list[AuditEntry]


class ExportPerson(PersonBrief):
    personnummer: str
    address: str | None
    protected_identity: bool
    email: str | None
    phone: str | None
    region: RegionView


class ExportMessage(MessageDetail):
    hidden: bool


class ExportSetting(BaseModel):
    subject_id: Uuid
    push: bool
    sms: bool
    email: bool
    updated_at: datetime | None


class DataExport(BaseModel):
    """Everything held about the caller (GDPR art. 15 and 20)."""

    format: Literal["1177-export/1"]
    exported_at: datetime
    person: ExportPerson
    children: list[PersonBrief]
    messages: list[ExportMessage]
    bookings: list[BookingView]
    journal: list[JournalEntryView]
    notification_settings: list[ExportSetting]
    devices: list[DeviceView]
    consents: list[ConsentView]
    care_relations: list[CareUnitRef | None]
    access_log: list[AuditEntry]


class KeptData(BaseModel):
    data: Literal["messages", "bookings", "journal_entries", "audit_records"]
    count: int = Field(ge=0)
    reason: str


class ErasureResult(BaseModel):
    """What an erasure deleted, and what it kept and why (GDPR art. 17.3, PdL 3 kap. 17 §)."""

    id: Uuid
    at: datetime
    erased: dict[str, int]
    kept: list[KeptData]


# --- staff ----------------------------------------------------------------------------------------------------------

class StaffCareUnit(CareUnitRef):
    region_code: str


class StaffProfile(BaseModel):
    id: Uuid
    hsa_id: str
    name: str
    care_unit: StaffCareUnit | None


class PatientLookup(Request):
    personnummer: StrictStr = Field(pattern=PNR_PATTERN, min_length=10, max_length=13,
                                    description="Personnummer, 10 or 12 digits, with or without separator")


class PatientRef(BaseModel):
    patient_id: Uuid


# Text of a message: no NUL character, which one database stores and another refuses; so the published schema
# says what every storage accepts, and a schema-valid message is never refused later (in a bulk job, say).
MESSAGE_TEXT = r"^[^\u0000]*$"


class StaffMessageRequest(Request):
    patient_id: Uuid
    subject: StrictStr = Field(min_length=1, max_length=200, pattern=MESSAGE_TEXT)
    # 5,000 characters: even fully \u-escaped (12 bytes each) a valid body stays under the 64 KB limit.
    body: StrictStr = Field(min_length=1, max_length=5_000, pattern=MESSAGE_TEXT)


class StaffMessageCreated(BaseModel):
    id: Uuid
    patient_id: Uuid
    created_at: datetime


class StaffMessage(MessageDetail):
    patient_id: Uuid


# --- OpenAPI: problem responses, security, finishing touches --------------------------------------------------------

PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing, malformed, expired, tampered or revoked bearer token, or an ended session",
    403: "Not allowed: not ombud for this person, region not joined, no care relation, or the wrong kind of token",
    404: "No such resource for this caller",
    409: "The request conflicts with the resource's state",
    413: "Request body larger than 64 KB",
    422: "Request not valid: wrong types, unknown fields, values out of range or format",
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


def finish_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Problem responses are application/problem+json, not application/json as FastAPI would say; an optional
    parameter is absent, never the text 'null' (FastAPI would declare it as 'string or null')."""
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
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    return schema
