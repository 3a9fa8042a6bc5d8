"""Who is notified of a new message, on which channels and devices (BR-NOTIF-1, BR-NOTIF-2).

The patient on each channel their own settings turn on; for a child under 13, also each guardian per the
guardian's own settings for that child (a guardian of a child of 13 or more is not told: OSL 12 kap. 3 §). Push
needs a push consent not withdrawn and goes to every active device; SMS goes to the phone and e-mail to the
address of the person, each only where that channel is on. Resolved in bulk, a batch of outbox events at a time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from .. import clock, faults
from ..auth import OMBUD_MAX_AGE, age_on
from ..db import Consent, Device, Guardianship, Message, NotificationSetting, Person
from .ids import name_id
from .payload import Notice

# Delivery keys are UUIDv5 under this namespace: the same event, recipient, channel and device always give the
# same key, so a re-resolution after a crash cannot mint a second one.
KEY_NAMESPACE = uuid.UUID("0f4f7c1e-1177-5e4d-9a1d-6b0f2a7d1177")
ADULT_AGE = 18
PRUNED_REASON = "unregistered"


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    message_id: str
    patient_id: str
    idempotency_key: str
    bulk_job_id: str | None


@dataclass(slots=True)
class Target:
    event: Event
    notice: Notice
    recipient_id: str
    channel: str  # apns, fcm, sms, email
    device_id: str | None
    address: str
    key: str


@dataclass(frozen=True, slots=True)
class _Channels:
    push: bool
    sms: bool
    email: bool


DEFAULT_CHANNELS = _Channels(push=False, sms=True, email=False)  # as NotificationSetting's defaults


def default_channels() -> _Channels:
    """The channels of someone who has chosen none: SMS only, nothing optional on (GDPR art. 25)."""
    if faults.active("email-on-by-default"):
        return _Channels(push=False, sms=True, email=True)  # the defect: e-mail on before anyone chose it
    return DEFAULT_CHANNELS


def delivery_key(event_key: str, recipient_id: str, channel: str, device_or_address: str) -> str:
    return name_id(KEY_NAMESPACE, f"{event_key}|{recipient_id}|{channel}|{device_or_address}")


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(frozen=True, slots=True)
class _Person:
    born: date
    deceased: bool
    phone: str | None
    email: str | None
    own: _Channels  # the person's choices for their own messages
    consented: bool  # a push consent, not withdrawn


def _people(db: Session, ids: Iterable[str]) -> dict[str, _Person]:
    """Persons with their own channel settings and push consent, in one query per chunk."""
    consent = (select(Consent.id).where(Consent.person_id == Person.id, Consent.purpose == "push",
                                        Consent.withdrawn_at.is_(None)).exists())
    found: dict[str, _Person] = {}
    for chunk in _chunks(sorted(ids)):
        query = (select(Person.id, Person.birth_date, Person.deceased, Person.phone, Person.email,
                        NotificationSetting.push, NotificationSetting.sms,
                        NotificationSetting.email.label("email_on"), consent.label("consented"))
                 .outerjoin(NotificationSetting, and_(NotificationSetting.owner_id == Person.id,
                                                      NotificationSetting.subject_id == Person.id))
                 .where(Person.id.in_(chunk)))
        for row in db.execute(query):
            own = (default_channels() if row.push is None
                   else _Channels(bool(row.push), bool(row.sms), bool(row.email_on)))
            found[row.id] = _Person(row.birth_date, bool(row.deceased), row.phone, row.email, own,
                                    bool(row.consented))
    return found


def resolve(db: Session, events: Sequence[Event]) -> list[Target]:
    """Every delivery the events call for, in event order."""
    if not events:
        return []
    today = clock.today()
    patients = _people(db, {e.patient_id for e in events})
    # BR-NOTIF-2: guardians are told of a child's messages only while the child is under 13 (ombud age).
    guardian_age = ADULT_AGE if faults.active("push-guardian-of-teen") else OMBUD_MAX_AGE
    children = sorted(pid for pid, p in patients.items() if age_on(p.born, today) < guardian_age)
    guardians: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(children):
        for row in db.execute(select(Guardianship.child_id, Guardianship.guardian_id)
                              .where(Guardianship.child_id.in_(chunk)).order_by(Guardianship.guardian_id)):
            guardians[row.child_id].append(row.guardian_id)
    guardian_ids = {g for gs in guardians.values() for g in gs}
    persons = {**patients, **_people(db, guardian_ids - patients.keys())}
    # A guardian's own choices for each child (BR-NOTIF-2): by owner only, the few rows filtered here.
    for_child: dict[tuple[str, str], _Channels] = {}
    for chunk in _chunks(sorted(guardian_ids)):
        for row in db.execute(select(NotificationSetting.owner_id, NotificationSetting.subject_id,
                                     NotificationSetting.push, NotificationSetting.sms, NotificationSetting.email)
                              .where(NotificationSetting.owner_id.in_(chunk))):
            if row.subject_id in guardians:
                for_child[(row.owner_id, row.subject_id)] = _Channels(bool(row.push), bool(row.sms),
                                                                      bool(row.email))
    devices: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    include_pruned = faults.active("push-to-pruned-token")
    wants_push = sorted(pid for pid, p in persons.items() if p.consented and not p.deceased)
    for chunk in _chunks(wants_push):
        query = select(Device.id, Device.person_id, Device.provider, Device.token, Device.active,
                       Device.deactivated_reason).where(Device.person_id.in_(chunk)).order_by(Device.registered_at)
        for row in db.execute(query):
            # The defect push-to-pruned-token keeps sending to tokens the provider said are gone (BR-NOTIF-4).
            if row.active or (include_pruned and row.deactivated_reason == PRUNED_REASON):
                devices[row.person_id].append((row.id, row.provider, row.token))
    subjects_of_messages: dict[str, str] = {}
    if faults.active("push-subject-in-payload"):
        for chunk in _chunks(sorted({e.message_id for e in events})):
            subjects_of_messages.update(db.execute(select(Message.id, Message.subject)
                                                   .where(Message.id.in_(chunk))).tuples().all())
    sms_always = faults.active("sms-when-disabled")
    targets: list[Target] = []
    for event in events:
        if event.patient_id not in persons:
            continue
        subject = subjects_of_messages.get(event.message_id)
        recipients = [(event.patient_id, None)] + [(g, event.patient_id) for g in guardians.get(event.patient_id, [])]
        for owner, proxy_for in recipients:
            person = persons.get(owner)
            if person is None or person.deceased:
                continue
            chosen = person.own if proxy_for is None else for_child.get((owner, proxy_for), default_channels())
            notice = Notice(event.message_id, event.idempotency_key, proxy_for, subject)
            wanted: list[tuple[str, str | None, str]] = []
            if chosen.push and person.consented:
                wanted += [(provider, device_id, token) for device_id, provider, token in devices.get(owner, [])]
            if person.phone and (chosen.sms or sms_always):
                wanted.append(("sms", None, person.phone))
            if person.email and chosen.email:
                wanted.append(("email", None, person.email))
            for channel, device_id, address in wanted:
                key = delivery_key(event.idempotency_key, owner, channel, device_id or address)
                targets.append(Target(event, notice, owner, channel, device_id, address, key))
    return targets
