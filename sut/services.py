"""The domain logic of the reference system, free of HTTP: shared by the mobile API, the staff API and the web.

Every function takes a database ``Session`` (and the ``Context`` where settings, limits or URLs are needed) and
the caller as a ``Principal`` (and, for patient data, the ``Subject`` whose data it is), returns plain dicts, and
raises ``Problem`` for refusals. Reads of patient data write their audit record here, so the API and the web
write exactly the same records (BR-AUDIT-1, PDL 4 kap. 3 §).
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from . import audit, clock, faults, pnr
from .auth import Principal, Subject, resolve_subject
from .context import Context
from .db import (
    AuditRecord,
    Booking,
    CareRelation,
    CareUnit,
    Consent,
    Device,
    ErasureRecord,
    Guardianship,
    JournalEntry,
    Message,
    NotificationSetting,
    OutboxEvent,
    Person,
    Region,
    Staff,
)
from .problems import Problem
from .sessions import WEB_AUDIENCE, issue_sso_ticket, revoke

# Where a user whose region has not joined is sent, in the external browser (BR-REG-1).
EXTERNAL_1177 = "https://www.1177.se/"
REGION_NOT_JOINED = "urn:1177:problem:region-not-joined"

# Push token formats (BR-NOTIF-1): an APNs device token is 32 bytes as 64 hex digits; an FCM registration token
# is "<instance id>:APA91b<base64url>", about 150-180 characters in practice.
APNS_TOKEN_PATTERN = r"^[0-9a-fA-F]{64}$"  # noqa: S105 - a format, not a secret # nosec B105 # a token format, not a secret
FCM_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{11,64}:APA91b[A-Za-z0-9_-]{60,220}$"  # noqa: S105 # nosec B105 # a token format, not a secret
INSTALLATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$"
PROVIDERS = {"ios": "apns", "android": "fcm"}
CONSENT_PURPOSES = ("push",)

# The web e-services' pages that the catalogue opens in a WebView with SSO (BR-REG-2).
WEB_PAGES = (
    ("journal", "Journalen", "/journal"),
    ("audit-extract", "Loggutdrag", "/audit-extract"),
    ("my-data", "Mina uppgifter", "/my-data"),
)
NATIVE_COMPONENTS = (("start", "Start"), ("inbox", "Inkorg"), ("bookings", "Bokade tider"),
                     ("settings", "Inställningar"))

KEPT_REASONS = {
    "messages": "Meddelanden från vården är en del av patientjournalen och ska bevaras enligt patientdatalagen "
                "(3 kap. 17 §) och arkivlagen; rätten till radering gäller inte (GDPR art. 17.3 b och c).",
    "bookings": "Bokningar är vårddokumentation som ska bevaras enligt patientdatalagen och arkivlagen "
                "(GDPR art. 17.3 b).",
    "journal_entries": "Journalanteckningar ska bevaras i minst tio år enligt patientdatalagen (3 kap. 17 §) "
                       "(GDPR art. 17.3 b och c).",
    "audit_records": "Loggar över åtkomst till journaluppgifter ska sparas enligt patientdatalagen (4 kap. 3 §) "
                     "och HSLF-FS 2016:40 (GDPR art. 17.3 b).",
}


# --- formatting -----------------------------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None


def _unit(db: Session, unit_id: str | None) -> dict[str, Any] | None:
    unit = db.get(CareUnit, unit_id) if unit_id else None
    return {"id": unit.id, "name": unit.name} if unit else None


def _region_view(region: Region) -> dict[str, Any]:
    return {"code": region.code, "name": region.name, "joined": region.joined, "video_mode": region.video_mode}


def message_view(db: Session, message: Message, *, body: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": message.id, "subject": message.subject, "sender_name": message.sender_name,
        "care_unit": _unit(db, message.care_unit_id), "created_at": _iso(message.created_at),
        "read": message.read_at is not None, "read_at": _iso(message.read_at),
    }
    if body:
        view["body"] = message.body
    return view


def booking_view(db: Session, booking: Booking) -> dict[str, Any]:
    return {"id": booking.id, "starts_at": _iso(booking.starts_at), "kind": booking.kind, "status": booking.status,
            "care_unit": _unit(db, booking.care_unit_id)}


def _person_brief(person: Person) -> dict[str, Any]:
    return {"id": person.id, "given_name": person.given_name, "family_name": person.family_name,
            "birth_date": person.birth_date.isoformat()}


def _audit(db: Session, principal: Principal, subject_id: str, role: str, action: str, resource_type: str,
           resource_id: str | None = None, care_unit_id: str | None = None) -> None:
    actor_kind = "staff" if principal.staff is not None else "person"
    if role == "ombud" and faults.active("audit-ombud-as-self"):
        role = "self"  # the defect: the log no longer shows that a guardian, not the patient, read
    audit.record(db, actor_kind=actor_kind, actor_id=principal.actor_id, subject_id=subject_id, role=role,
                 action=action, resource_type=resource_type, resource_id=resource_id, care_unit_id=care_unit_id)


def _audit_per_unit(db: Session, principal: Principal, subject: Subject, action: str, resource_type: str,
                    unit_ids: list[str]) -> None:
    """One record per care unit whose data a list shows (PdL logs name the care unit), or one with none."""
    for unit_id in sorted(set(unit_ids)) or [None]:
        _audit(db, principal, subject.person.id, subject.role, action, resource_type, None, unit_id)


# --- profile, region, acting for ------------------------------------------------------------------------------------

def region_of(db: Session, person: Person) -> Region:
    region = db.get(Region, person.region_code)
    if region is None:  # a person always has a region; a missing one is a seed bug
        raise Problem(500, "Personens region är okänd.")
    return region


def require_joined(db: Session, person: Person) -> Region:
    """BR-REG-1: e-services only for users whose region has joined the new app; others go to 1177.se."""
    region = region_of(db, person)
    if not region.joined and not faults.active("region-not-joined-served"):
        raise Problem(403, "Din region är inte ansluten till 1177-appen. Använd 1177.se.", type_=REGION_NOT_JOINED,
                      redirect={"url": EXTERNAL_1177, "target": "external-browser"})
    return region


def acting_for(db: Session, person: Person) -> list[dict[str, Any]]:
    """The persons the caller may act for: own children under 13 (BR-PROXY-1), by the same check as requests."""
    children = db.scalars(select(Person).join(Guardianship, Guardianship.child_id == Person.id)
                          .where(Guardianship.guardian_id == person.id).order_by(Person.birth_date.desc())).all()
    allowed = []
    for child in children:
        try:
            resolve_subject(db, person, child.id)
        except Problem:
            continue
        allowed.append(_person_brief(child))
    return allowed


def profile(db: Session, person: Person) -> dict[str, Any]:
    """The caller's profile: no personnummer; no address for a protected identity (BR-ID-1, OSL 21 kap. 3 §)."""
    show_address = not person.protected_identity or faults.active("protected-address-leak")
    return {
        **_person_brief(person),
        "protected_identity": person.protected_identity,
        "address": person.address if show_address else None,
        "email": person.email, "phone": person.phone,
        "region": _region_view(region_of(db, person)),
        "acting_for": acting_for(db, person),
    }


# --- catalogue, start, video ----------------------------------------------------------------------------------------

def _regional_url(region: Region, service: str) -> str:
    # Regional services live outside this system; these reserved .example names are never contacted.
    return f"https://{service}.region-{region.code}.example/"


def _video(ctx: Context, region: Region) -> dict[str, Any]:
    if region.video_mode == "inera":
        return {"id": "video", "kind": "video", "title": "Videomöte", "mode": "inera", "presentation": "embedded",
                "sso": False, "audience": None, "url": f"{ctx.urls.get('base', '')}/video"}
    if region.video_mode == "regional-sso":
        return {"id": "video", "kind": "video", "title": "Videomöte", "mode": "regional-sso",
                "presentation": "webview", "sso": True, "audience": f"regional:{region.code}:video",
                "url": _regional_url(region, "video")}
    return {"id": "video", "kind": "video", "title": "Videomöte", "mode": "external",
            "presentation": "external-browser", "sso": False, "audience": None,
            "url": _regional_url(region, "video")}


def catalogue(ctx: Context, db: Session, person: Person) -> dict[str, Any]:
    """BR-REG-2: the region's services; BR-REG-1: a redirect to 1177.se for a region that has not joined."""
    region = region_of(db, person)
    if not region.joined and not faults.active("region-not-joined-served"):
        return {"region": _region_view(region), "region_joined": False,
                "redirect": {"url": EXTERNAL_1177, "target": "external-browser"}, "services": []}
    web = ctx.urls.get("base", "")
    services: list[dict[str, Any]] = [
        {"id": cid, "kind": "native", "title": title, "component": cid} for cid, title in NATIVE_COMPONENTS]
    services += [{"id": sid, "kind": "webview", "title": title, "url": f"{web}{path}", "sso": True,
                  "audience": WEB_AUDIENCE} for sid, title, path in WEB_PAGES]
    services.append({"id": "regional-services", "kind": "webview", "title": f"E-tjänster i {region.name}",
                     "url": _regional_url(region, "e-tjanster"), "sso": True,
                     "audience": f"regional:{region.code}:services"})
    services.append({"id": "regional-app", "kind": "external-link", "title": f"{region.name}s app",
                     "deep_link": f"region{region.code}://open",
                     "store_links": {"ios": f"https://apps.apple.com/se/app/id9000000{region.code}",
                                     "android": f"https://play.google.com/store/apps/details?id=se.region{region.code}"
                                                f".app"}})
    services.append(_video(ctx, region))
    return {"region": _region_view(region), "region_joined": True, "redirect": None, "services": services}


def _unread(db: Session, person_id: str) -> int:
    return db.scalar(select(func.count()).select_from(Message).where(
        Message.patient_id == person_id, Message.read_at.is_(None), Message.hidden.is_(False))) or 0


def start_summary(db: Session, principal: Principal, subject: Subject | None = None) -> dict[str, Any]:
    """BR-INBOX-1: unread counts (own and per child under 13) and the next booking; for an ombud (BR-PROXY-1) the
    child's, with no list of children, and the booking shown is audited with actor and subject (BR-AUDIT-1)."""
    person = _person(principal)
    require_joined(db, person)
    whose = subject.person if subject is not None else person
    now = clock.now()
    upcoming = db.scalars(select(Booking).where(Booking.patient_id == whose.id, Booking.status == "booked")
                          .order_by(Booking.starts_at)).all()
    following = next((b for b in upcoming if clock.as_utc(b.starts_at) > now), None)
    if following is not None:
        # The booking shown is patient data: its read is audited, for oneself as for a child (BR-AUDIT-1).
        _audit(db, principal, whose.id, subject.role if subject is not None else "self", "booking.list", "booking",
               None, following.care_unit_id)
    acting = whose.id != person.id
    return {
        "unread": _unread(db, whose.id),
        "children": [] if acting else [{**child, "unread": _unread(db, child["id"])}
                                       for child in acting_for(db, person)],
        "next_booking": booking_view(db, following) if following else None,
    }


def video_meetings(ctx: Context, db: Session, principal: Principal) -> dict[str, Any]:
    """The region's video mode and the caller's video bookings, each with how to join (BR-REG-2)."""
    person = _person(principal)
    region = require_joined(db, person)
    video = _video(ctx, region)
    bookings = db.scalars(select(Booking).where(Booking.patient_id == person.id, Booking.kind == "video",
                                                Booking.status == "booked").order_by(Booking.starts_at)).all()
    if bookings:  # the meetings are bookings: patient data, so their read is audited (BR-AUDIT-1)
        for unit_id in sorted({b.care_unit_id for b in bookings}):
            _audit(db, principal, person.id, "self", "booking.list", "booking", None, unit_id)
    return {"mode": region.video_mode, "presentation": video["presentation"], "sso": video["sso"],
            "audience": video["audience"],
            "meetings": [{**booking_view(db, b), "join_url": video["url"]} for b in bookings]}


# --- inbox ----------------------------------------------------------------------------------------------------------

def _person(principal: Principal) -> Person:
    if principal.person is None:
        raise Problem(403, "Den här funktionen är till för patienter.")
    return principal.person


def _message_for(db: Session, subject: Subject, message_id: str) -> Message:
    message = db.get(Message, message_id)
    if faults.active("idor-message"):
        owned = message is not None  # the defect: whose message it is goes unchecked (IDOR)
    else:
        owned = message is not None and message.patient_id == subject.person.id
    if message is None or not owned or message.hidden:
        raise Problem(404, "Meddelandet finns inte.")
    return message


def list_messages(db: Session, principal: Principal, subject: Subject) -> list[dict[str, Any]]:
    """The subject's inbox, newest first, without hidden messages; the list itself is audited."""
    require_joined(db, _person(principal))
    messages = db.scalars(select(Message).where(Message.patient_id == subject.person.id,
                                                Message.hidden.is_(False))
                          .order_by(Message.created_at.desc())).all()
    _audit_per_unit(db, principal, subject, "inbox.list", "message", [m.care_unit_id for m in messages])
    return [message_view(db, m) for m in messages]


def open_message(db: Session, principal: Principal, subject: Subject, message_id: str) -> dict[str, Any]:
    """One message with its body; opening it writes an audit record (BR-AUDIT-1)."""
    require_joined(db, _person(principal))
    message = _message_for(db, subject, message_id)
    view = message_view(db, message, body=True)
    if not faults.active("audit-skip-message-read"):
        _audit(db, principal, message.patient_id, subject.role, "message.read", "message", message.id,
               message.care_unit_id)
    return view


def mark_read(db: Session, principal: Principal, subject: Subject, message_id: str) -> None:
    require_joined(db, _person(principal))
    message = _message_for(db, subject, message_id)
    if message.read_at is None:
        message.read_at = clock.now()
    _audit(db, principal, message.patient_id, subject.role, "message.mark-read", "message", message.id,
           message.care_unit_id)


def hide_message(db: Session, principal: Principal, subject: Subject, message_id: str) -> None:
    """'Delete' only hides: the message is a health record and is kept (PdL 3 kap. 17 §, Arkivlagen)."""
    require_joined(db, _person(principal))
    message = _message_for(db, subject, message_id)
    message.hidden = True
    _audit(db, principal, message.patient_id, subject.role, "message.hide", "message", message.id,
           message.care_unit_id)


# --- bookings, journal ----------------------------------------------------------------------------------------------

def list_bookings(db: Session, principal: Principal, subject: Subject) -> list[dict[str, Any]]:
    caller = _person(principal)
    require_joined(db, caller)
    # The defect: the list is read for whoever is logged in, whatever X-Acting-For says.
    whose = caller if faults.active("booking-list-ignores-acting-for") else subject.person
    bookings = db.scalars(select(Booking).where(Booking.patient_id == whose.id)
                          .order_by(Booking.starts_at)).all()
    _audit_per_unit(db, principal, subject, "booking.list", "booking", [b.care_unit_id for b in bookings])
    return [booking_view(db, b) for b in bookings]


def cancel_booking(db: Session, principal: Principal, subject: Subject, booking_id: str) -> dict[str, Any]:
    require_joined(db, _person(principal))
    booking = db.get(Booking, booking_id)
    if booking is None or booking.patient_id != subject.person.id:
        raise Problem(404, "Bokningen finns inte.")
    if booking.status != "booked":
        raise Problem(409, "Bokningen är redan avbokad.", type_="urn:1177:problem:booking-not-cancellable")
    if clock.as_utc(booking.starts_at) <= clock.now():
        raise Problem(409, "En tid som redan har passerat kan inte avbokas.",
                      type_="urn:1177:problem:booking-not-cancellable")
    booking.status = "cancelled"
    _audit(db, principal, subject.person.id, subject.role, "booking.cancel", "booking", booking.id,
           booking.care_unit_id)
    return booking_view(db, booking)


def journal(db: Session, principal: Principal, subject: Subject) -> list[dict[str, Any]]:
    """Journalen: never as ombud (BR-PROXY-1); every entry shown is audited with its care unit (BR-AUDIT-1)."""
    require_joined(db, _person(principal))
    if subject.role == "ombud" and not faults.active("journal-as-ombud"):
        raise Problem(403, "Journalen kan inte läsas som ombud.", type_="urn:1177:problem:journal-not-for-ombud")
    entries = db.scalars(select(JournalEntry).where(JournalEntry.patient_id == subject.person.id)
                         .order_by(JournalEntry.written_at.desc())).all()
    for entry in entries:
        _audit(db, principal, subject.person.id, subject.role, "journal.read", "journal-entry", entry.id,
               entry.care_unit_id)
    if not entries:
        _audit(db, principal, subject.person.id, subject.role, "journal.read", "journal-entry")
    return [{"id": e.id, "written_at": _iso(e.written_at), "author": e.author, "text": e.text,
             "care_unit": _unit(db, e.care_unit_id)} for e in entries]


# --- notification settings, devices, consents (BR-NOTIF-1) ----------------------------------------------------------

def _active_devices(db: Session, owner_id: str) -> list[Device]:
    return list(db.scalars(select(Device).where(Device.person_id == owner_id, Device.active.is_(True))
                           .order_by(Device.registered_at)))


def _push_consent(db: Session, owner_id: str) -> Consent | None:
    return db.scalar(select(Consent).where(Consent.person_id == owner_id, Consent.purpose == "push",
                                           Consent.withdrawn_at.is_(None)).order_by(Consent.granted_at.desc()))


def _settings_view(db: Session, owner: Person, subject: Subject, row: NotificationSetting | None) -> dict[str, Any]:
    has_device = bool(_active_devices(db, owner.id))
    has_consent = _push_consent(db, owner.id) is not None
    return {"subject_id": subject.person.id, "role": subject.role,
            "push": row.push if row else False, "sms": row.sms if row else True,
            "email": row.email if row else faults.active("email-on-by-default"),
            "updated_at": _iso(row.updated_at) if row else None,
            "push_available": has_device and has_consent, "has_active_device": has_device,
            "has_push_consent": has_consent}


def get_settings(db: Session, principal: Principal, subject: Subject) -> dict[str, Any]:
    """The caller's own channel choices for messages to the subject (self, or a child acted for)."""
    owner = _person(principal)
    require_joined(db, owner)
    row = db.get(NotificationSetting, (owner.id, subject.person.id))
    return _settings_view(db, owner, subject, row)


def update_settings(db: Session, principal: Principal, subject: Subject, *, push: bool, sms: bool,
                    email: bool) -> dict[str, Any]:
    """BR-NOTIF-1: push needs an active device and a push consent; SMS may be turned off only while push is on."""
    owner = _person(principal)
    require_joined(db, owner)
    if push and not _active_devices(db, owner.id):
        raise Problem(409, "Aviseringar kräver en registrerad enhet.", type_="urn:1177:problem:push-unavailable",
                      missing="device")
    if push and _push_consent(db, owner.id) is None:
        raise Problem(409, "Aviseringar kräver ditt samtycke.", type_="urn:1177:problem:push-unavailable",
                      missing="consent")
    if not sms and not push:
        raise Problem(409, "Sms kan stängas av först när aviseringar i appen är påslagna.",
                      type_="urn:1177:problem:sms-required")
    row = db.get(NotificationSetting, (owner.id, subject.person.id))
    if row is None:
        row = NotificationSetting(owner_id=owner.id, subject_id=subject.person.id)
        db.add(row)
    row.push, row.sms, row.email, row.updated_at = push, sms, email, clock.now()
    db.flush()
    _audit(db, principal, subject.person.id, subject.role, "settings.update", "notification-settings")
    return _settings_view(db, owner, subject, row)


def _push_off_fallback(db: Session, owner_id: str) -> None:
    """Without a device or consent push cannot work: turn it off and SMS back on, so no message goes unnoticed."""
    for row in db.scalars(select(NotificationSetting).where(NotificationSetting.owner_id == owner_id,
                                                            NotificationSetting.push.is_(True))):
        row.push, row.sms, row.updated_at = False, True, clock.now()


def device_view(device: Device) -> dict[str, Any]:
    # The push token is the provider's address for the phone: only its end is shown back.
    return {"installation_id": device.installation_id, "platform": device.platform, "provider": device.provider,
            "token_suffix": device.token[-6:], "app_version": device.app_version, "active": device.active,
            "registered_at": _iso(device.registered_at)}


def validate_push_token(platform: str, token: str) -> None:
    pattern = APNS_TOKEN_PATTERN if platform == "ios" else FCM_TOKEN_PATTERN
    if platform not in PROVIDERS or not re.fullmatch(pattern, token):
        kind = "APNs" if platform == "ios" else "FCM"
        raise Problem(422, f"Push-token är inte en giltig {kind}-token.", type_="urn:1177:problem:invalid-token",
                      errors=[{"field": "token", "reason": "pattern", "message": f"not a valid {kind} token"}])


def register_device(db: Session, principal: Principal, installation_id: str, *, platform: str, token: str,
                    app_version: str) -> tuple[dict[str, Any], bool]:
    """Register or re-register an installation; re-registering replaces its token (BR-NOTIF-4). -> (view, new)."""
    person = _person(principal)
    if not re.fullmatch(INSTALLATION_ID_PATTERN, installation_id):
        raise Problem(422, "Installations-id är inte giltigt.")
    validate_push_token(platform, token)
    now = clock.now()
    # A token now registered here is no longer another installation's address (a phone restored or sold).
    for other in db.scalars(select(Device).where(Device.token == token, Device.active.is_(True))):
        if other.person_id != person.id or other.installation_id != installation_id:
            other.active, other.deactivated_at, other.deactivated_reason = False, now, "token-moved"
    existing = db.scalar(select(Device).where(Device.person_id == person.id,
                                              Device.installation_id == installation_id)
                         .order_by(Device.registered_at.desc()))
    if existing is not None and not faults.active("device-reregister-duplicates"):
        existing.platform, existing.provider, existing.token = platform, PROVIDERS[platform], token
        existing.app_version, existing.active, existing.registered_at = app_version, True, now
        existing.deactivated_at = existing.deactivated_reason = None
        db.flush()
        return device_view(existing), False
    device = Device(person_id=person.id, installation_id=installation_id, platform=platform,
                    provider=PROVIDERS[platform], token=token, app_version=app_version, active=True,
                    registered_at=now)
    db.add(device)
    db.flush()
    return device_view(device), existing is None


def list_devices(db: Session, principal: Principal) -> list[dict[str, Any]]:
    person = _person(principal)
    if faults.active("device-list-all"):
        # The defect: the owner filter is lost, so every active installation is listed.
        return [device_view(d) for d in db.scalars(select(Device).where(Device.active.is_(True))
                                                   .order_by(Device.registered_at))]
    return [device_view(d) for d in _active_devices(db, person.id)]


def delete_device(db: Session, principal: Principal, installation_id: str) -> None:
    person = _person(principal)
    devices = db.scalars(select(Device).where(Device.person_id == person.id,
                                              Device.installation_id == installation_id,
                                              Device.active.is_(True))).all()
    if not devices:
        raise Problem(404, "Enheten finns inte.")
    for device in devices:
        db.delete(device)
    db.flush()
    if not _active_devices(db, person.id):
        _push_off_fallback(db, person.id)


def consent_view(consent: Consent) -> dict[str, Any]:
    return {"id": consent.id, "purpose": consent.purpose, "text_version": consent.text_version,
            "granted_at": _iso(consent.granted_at), "withdrawn_at": _iso(consent.withdrawn_at),
            "active": consent.withdrawn_at is None}


def grant_consent(db: Session, principal: Principal, *, purpose: str, text_version: str) -> dict[str, Any]:
    """Record a consent with its time and text version (BR-GDPR-1); a new one supersedes the previous one."""
    person = _person(principal)
    if purpose not in CONSENT_PURPOSES:
        raise Problem(422, "Okänt ändamål för samtycket.")
    now = clock.now()
    for old in db.scalars(select(Consent).where(Consent.person_id == person.id, Consent.purpose == purpose,
                                                Consent.withdrawn_at.is_(None))):
        old.withdrawn_at = now
    consent = Consent(person_id=person.id, purpose=purpose, text_version=text_version, granted_at=now)
    db.add(consent)
    db.flush()
    return consent_view(consent)


def list_consents(db: Session, principal: Principal) -> list[dict[str, Any]]:
    person = _person(principal)
    return [consent_view(c) for c in db.scalars(select(Consent).where(Consent.person_id == person.id)
                                               .order_by(Consent.granted_at))]


def withdraw_consent(db: Session, principal: Principal, consent_id: str) -> None:
    person = _person(principal)
    consent = db.get(Consent, consent_id)
    if consent is None or consent.person_id != person.id:
        raise Problem(404, "Samtycket finns inte.")
    if consent.withdrawn_at is not None:
        raise Problem(409, "Samtycket är redan återkallat.", type_="urn:1177:problem:consent-withdrawn")
    if faults.active("consent-withdrawal-deletes"):
        db.delete(consent)  # the defect: no record is left of when it was given, on what text, or withdrawn
    else:
        consent.withdrawn_at = clock.now()
    db.flush()
    if consent.purpose == "push" and _push_consent(db, person.id) is None:
        _push_off_fallback(db, person.id)


# --- SSO, logout ----------------------------------------------------------------------------------------------------

def sso_ticket(ctx: Context, db: Session, principal: Principal, audience: str) -> dict[str, Any]:
    """BR-ID-3: a one-time ticket bound to one audience the caller's catalogue offers with SSO."""
    person = _person(principal)
    region = require_joined(db, person)
    offered = {s["audience"]: s for s in catalogue(ctx, db, person)["services"] if s.get("sso")}
    if audience not in offered:
        raise Problem(403, "Den här tjänsten erbjuds inte med inloggning från appen i din region.",
                      type_="urn:1177:problem:sso-audience")
    ticket = issue_sso_ticket(ctx, db, principal.session, person, audience)
    if audience == WEB_AUDIENCE:
        consume = f"{ctx.urls.get('base', '')}/sso"
    else:
        consume = f"{offered[audience]['url']}sso"
    return {"ticket": ticket, "expires_in": ctx.settings.sso_ticket_ttl, "consume_url": consume,
            "audience": audience, "region": region.code}


def logout(db: Session, principal: Principal) -> None:
    revoke(db, principal.session, "logout")


# --- audit extract, export, erasure (BR-AUDIT-1, BR-GDPR-1) ---------------------------------------------------------

def _actor_name(db: Session, record: AuditRecord) -> str:
    if record.actor_kind == "staff":
        staff = db.get(Staff, record.actor_id)
        return staff.name if staff else "Okänd vårdpersonal"
    person = db.get(Person, record.actor_id)
    return f"{person.given_name} {person.family_name}" if person else "Okänd person"


@dataclass(frozen=True)
class ExtractFilter:
    """Which part of the log extract to show; the defaults are all of it, newest first (BR-AUDIT-1)."""

    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    role: str | None = None  # self, ombud, staff
    care_unit_id: str | None = None
    upto: int | None = None  # the newest record to consider, so paging holds still while new reads are logged
    offset: int = 0
    limit: int | None = None


def _extract_query(person_id: str, only: ExtractFilter) -> Any:
    query = select(AuditRecord).where(AuditRecord.subject_id == person_id)
    if faults.active("audit-extract-others"):
        # The defect: the extract selects the accesses at the patient's care units, not to the patient's data.
        units = select(CareRelation.care_unit_id).where(CareRelation.patient_id == person_id)
        query = select(AuditRecord).where(or_(AuditRecord.subject_id == person_id,
                                              AuditRecord.care_unit_id.in_(units)))
    if faults.active("audit-extract-hides-staff"):
        # The defect: only the patient's own and the guardians' reads are shown, not the care staff's.
        query = query.where(AuditRecord.actor_kind != "staff")
    if only.since is not None:
        query = query.where(AuditRecord.at >= only.since)
    if only.until is not None:
        query = query.where(AuditRecord.at < only.until)
    if only.role:
        query = query.where(AuditRecord.role == only.role)
    if only.care_unit_id:
        query = query.where(AuditRecord.care_unit_id == only.care_unit_id)
    if only.upto is not None:
        query = query.where(AuditRecord.seq <= only.upto)
    return query


def _extract_rows(db: Session, person_id: str, only: ExtractFilter = ExtractFilter()) -> list[dict[str, Any]]:
    query = _extract_query(person_id, only).order_by(AuditRecord.seq.desc()).offset(only.offset)
    rows = db.scalars(query.limit(only.limit) if only.limit is not None else query).all()
    return [{"at": _iso(r.at), "actor_kind": r.actor_kind, "actor_name": _actor_name(db, r),
             "role": r.role, "action": r.action, "resource_type": r.resource_type, "resource_id": r.resource_id,
             "care_unit": _unit(db, r.care_unit_id)} for r in rows]


def audit_extract(db: Session, principal: Principal, only: ExtractFilter = ExtractFilter()) -> list[dict[str, Any]]:
    """Loggutdrag: who read my data, when, at which care unit and in what role (BR-AUDIT-1); not as ombud."""
    return audit_extract_page(db, principal, only)["entries"]


def audit_extract_page(db: Session, principal: Principal, only: ExtractFilter = ExtractFilter()) -> dict[str, Any]:
    """One page of the log extract with what paging and filters need: how many match, the newest record to pin
    the following pages to, and the care units that occur in the whole log. Viewing it is itself logged."""
    person = _person(principal)
    upto = only.upto if only.upto is not None else db.scalar(
        select(func.max(AuditRecord.seq)).where(AuditRecord.subject_id == person.id))
    pinned = replace(only, upto=upto)
    total = db.scalar(select(func.count()).select_from(_extract_query(person.id, pinned).subquery())) or 0
    unit_ids = db.scalars(select(AuditRecord.care_unit_id).where(
        AuditRecord.subject_id == person.id, AuditRecord.care_unit_id.is_not(None)).distinct()).all()
    units = sorted((u for u in (_unit(db, uid) for uid in unit_ids) if u), key=lambda u: u["name"])
    entries = _extract_rows(db, person.id, pinned)
    _audit(db, principal, person.id, "self", "audit.extract", "audit-log")
    return {"entries": entries, "total": total, "upto": upto, "care_units": units}


def export(db: Session, principal: Principal) -> dict[str, Any]:
    """GDPR art. 15 and 20: everything held about the caller, as JSON; the export itself is audited."""
    person = _person(principal)
    show_address = not person.protected_identity or faults.active("protected-address-leak")
    pid = person.id
    data = {
        "format": "1177-export/1",
        "exported_at": _iso(clock.now()),
        "person": {**_person_brief(person), "personnummer": person.personnummer,
                   "address": person.address if show_address else None,
                   "protected_identity": person.protected_identity, "email": person.email, "phone": person.phone,
                   "region": _region_view(region_of(db, person))},
        "children": [_person_brief(c) for c in db.scalars(
            select(Person).join(Guardianship, Guardianship.child_id == Person.id)
            .where(Guardianship.guardian_id == pid))],
        "messages": [{**message_view(db, m, body=True), "hidden": m.hidden} for m in db.scalars(
            select(Message).where(Message.patient_id == pid).order_by(Message.created_at))
            if not (m.hidden and faults.active("export-omits-hidden"))],  # the defect: removed ones are left out
        "bookings": [booking_view(db, b) for b in db.scalars(
            select(Booking).where(Booking.patient_id == pid).order_by(Booking.starts_at))],
        "journal": [{"id": e.id, "written_at": _iso(e.written_at), "author": e.author, "text": e.text,
                     "care_unit": _unit(db, e.care_unit_id)} for e in db.scalars(
            select(JournalEntry).where(JournalEntry.patient_id == pid).order_by(JournalEntry.written_at))],
        "notification_settings": [
            {"subject_id": s.subject_id, "push": s.push, "sms": s.sms, "email": s.email,
             "updated_at": _iso(s.updated_at)}
            for s in db.scalars(select(NotificationSetting).where(NotificationSetting.owner_id == pid))],
        "devices": [device_view(d) for d in db.scalars(select(Device).where(Device.person_id == pid))],
        "consents": [consent_view(c) for c in db.scalars(select(Consent).where(Consent.person_id == pid))],
        "care_relations": [_unit(db, r.care_unit_id) for r in db.scalars(
            select(CareRelation).where(CareRelation.patient_id == pid))],
        "access_log": _extract_rows(db, pid),
    }
    _audit(db, principal, pid, "self", "data.export", "person", pid)
    return data


def erase(db: Session, principal: Principal) -> dict[str, Any]:
    """BR-GDPR-1, GDPR art. 17: delete devices, notification settings and consents; keep health records (17.3)."""
    person = _person(principal)
    pid = person.id
    erased: dict[str, int] = {"devices": 0, "notification_settings": 0, "consents": 0}
    for model, key, column in ((Device, "devices", Device.person_id),
                               (NotificationSetting, "notification_settings", NotificationSetting.owner_id),
                               (Consent, "consents", Consent.person_id)):
        if model is Device and faults.active("erasure-keeps-devices"):
            continue  # the defect: the devices and their push tokens stay
        for row in db.scalars(select(model).where(column == pid)):
            db.delete(row)
            erased[key] += 1
    if faults.active("erasure-deletes-records"):
        # The defect: health records go too, against PdL 3 kap. 17 § and GDPR art. 17.3.
        for message in db.scalars(select(Message).where(Message.patient_id == pid)):
            db.delete(message)
            erased["messages"] = erased.get("messages", 0) + 1
    db.flush()
    counts = {
        "messages": db.scalar(select(func.count()).select_from(Message).where(Message.patient_id == pid)) or 0,
        "bookings": db.scalar(select(func.count()).select_from(Booking).where(Booking.patient_id == pid)) or 0,
        "journal_entries": db.scalar(select(func.count()).select_from(JournalEntry)
                                     .where(JournalEntry.patient_id == pid)) or 0,
        "audit_records": db.scalar(select(func.count()).select_from(AuditRecord)
                                   .where(AuditRecord.subject_id == pid)) or 0,
    }
    kept = [{"data": key, "count": count, "reason": KEPT_REASONS[key]} for key, count in counts.items()]
    record = ErasureRecord(person_id=pid, at=clock.now(), erased=erased, kept={k["data"]: k["count"] for k in kept})
    db.add(record)
    db.flush()
    _audit(db, principal, pid, "self", "data.erasure", "person", pid)
    return {"id": record.id, "at": _iso(record.at), "erased": erased, "kept": kept}


# --- staff (BR-STAFF-1) ---------------------------------------------------------------------------------------------

def _staff(principal: Principal) -> Staff:
    if principal.staff is None:
        raise Problem(403, "Den här funktionen är till för vårdpersonal.")
    return principal.staff


def staff_profile(db: Session, principal: Principal) -> dict[str, Any]:
    staff = _staff(principal)
    unit = db.get(CareUnit, staff.care_unit_id)
    return {"id": staff.id, "hsa_id": staff.hsa_id, "name": staff.name,
            "care_unit": {"id": unit.id, "name": unit.name, "region_code": unit.region_code} if unit else None}


def has_care_relation(db: Session, care_unit_id: str, patient_id: str) -> bool:
    """PDL 4 kap. 1 §: the care unit itself has the relation; another unit of the same region does not, and a
    unit in another region than the patient's has it as much as one at home."""
    if db.get(CareRelation, (care_unit_id, patient_id)) is not None:
        if faults.active("cross-region-care-relation-ignored"):
            # The defect: relations are looked up in the patient's own region only.
            unit, patient = db.get(CareUnit, care_unit_id), db.get(Person, patient_id)
            return unit is not None and patient is not None and unit.region_code == patient.region_code
        return True
    if faults.active("staff-unit-is-region"):
        # The defect: the relation is checked for the staff member's region instead of their care unit.
        unit = db.get(CareUnit, care_unit_id)
        return unit is not None and db.scalar(
            select(CareRelation.care_unit_id).join(CareUnit, CareUnit.id == CareRelation.care_unit_id)
            .where(CareRelation.patient_id == patient_id, CareUnit.region_code == unit.region_code).limit(1)
        ) is not None
    return False


def _require_care_relation(db: Session, staff: Staff, patient_id: str) -> Person:
    patient = db.get(Person, patient_id)
    related = patient is not None and has_care_relation(db, staff.care_unit_id, patient_id)
    if patient is None or (not related and not faults.active("staff-any-patient")):
        raise Problem(403, "Vårdenheten har ingen vårdrelation med patienten.",
                      type_="urn:1177:problem:no-care-relation")
    return patient


def staff_lookup(db: Session, principal: Principal, personnummer: str) -> dict[str, Any]:
    """A patient id for a personnummer, only when the staff member's unit has a care relation (PDL 4 kap. 1 §)."""
    staff = _staff(principal)
    try:
        number = pnr.normalise(personnummer)
    except pnr.InvalidPersonnummer as exc:
        raise Problem(422, "Ange ett giltigt personnummer.", type_="urn:1177:problem:invalid-personnummer") from exc
    patient = db.scalar(select(Person).where(Person.personnummer == number))
    if patient is None or not has_care_relation(db, staff.care_unit_id, patient.id):
        # The same answer whether the person exists or not: staff learn nothing outside their care relations.
        raise Problem(404, "Ingen patient med vårdrelation till din vårdenhet.")
    return {"patient_id": patient.id}


def _legacy_preview(text: str) -> str:
    """The fault's home: a preview made for an old ASCII-only gateway (the defect breaks on å, ä, ö)."""
    return text.encode("ascii").decode("ascii")


def staff_send(ctx: Context, db: Session, principal: Principal, *, patient_id: str, subject: str,
               body: str) -> dict[str, Any]:
    """BR-STAFF-1: a message to a patient of the unit; the Message and its OutboxEvent in one transaction."""
    staff = _staff(principal)
    wait = ctx.send_limiter.hit(staff.id)
    if wait is not None:
        raise Problem(429, "För många utskick; försök igen om en stund.", type_="urn:1177:problem:rate-limited",
                      headers={"Retry-After": str(int(wait))})
    patient = _require_care_relation(db, staff, patient_id)
    unit = db.get(CareUnit, staff.care_unit_id)
    sender_name = unit.name if unit else staff.name
    if faults.active("unicode-name-500"):
        _legacy_preview(f"{sender_name}: {subject}")
    now = clock.now()
    message = Message(patient_id=patient.id, care_unit_id=staff.care_unit_id, sender_name=sender_name,
                      subject=subject, body=body, created_at=now, read_at=None, hidden=False)
    db.add(message)
    db.flush()
    db.add(OutboxEvent(kind="message.created", message_id=message.id, patient_id=patient.id, created_at=now,
                       state="pending"))
    db.flush()
    return {"id": message.id, "patient_id": patient.id, "created_at": _iso(now)}


def staff_get_message(db: Session, principal: Principal, message_id: str) -> dict[str, Any]:
    """A message of the staff member's own unit; the read is audited in role staff (BR-AUDIT-1)."""
    staff = _staff(principal)
    message = db.get(Message, message_id)
    other_unit = message is not None and message.care_unit_id != staff.care_unit_id
    if message is None or (other_unit and not faults.active("staff-read-other-unit")):
        raise Problem(404, "Meddelandet finns inte.")
    view = {**message_view(db, message, body=True), "patient_id": message.patient_id}
    _audit(db, principal, message.patient_id, "staff", "message.read", "message", message.id, message.care_unit_id)
    return view


# --- test data helpers: token formats for other parts of the project ------------------------------------------------

def fake_push_token(platform: str, rng: random.Random | None = None) -> str:
    """A synthetic token in the format the API accepts (for seeds, load and tests; never a real device)."""
    rng = rng or random.Random()  # nosec B311 # seeded synthetic test data, not security
    if platform == "ios":
        return "".join(rng.choice("0123456789abcdef") for _ in range(64))
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(rng.choice(alphabet) for _ in range(22)) + ":APA91b" + "".join(
        rng.choice(alphabet) for _ in range(134))
