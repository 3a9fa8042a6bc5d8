"""Test-mode control endpoints of the push fan-out, under /_sut/push (absent outside test mode).

They seed what a test or benchmark needs faster than the public API can (synthetic devices, consents and
settings; a cohort of up to 100,000 patients of a new care unit), show delivery rows, tune the worker's timeouts
and backoff, and restart the worker as a crash would.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, select

from .. import clock
from ..context import Context
from ..db import (
    CareRelation,
    CareUnit,
    Consent,
    Delivery,
    Device,
    NotificationSetting,
    OutboxEvent,
    Person,
    Region,
    Staff,
)
from ..problems import Problem

CONSENT_TEXT_VERSION = "1.0"


class DevicesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str = Field(min_length=36, max_length=36)
    count: int = Field(1, ge=1, le=1000)
    platform: Literal["ios", "android", "mixed"] = "ios"
    tokens: list[str] | None = Field(None, description="explicit tokens (any text: to test the providers' checks)")
    consent: bool = True  # grant a push consent (BR-NOTIF-1)
    push: bool | None = True  # turn push on in the person's own setting (None: leave it)
    sms: bool | None = None
    email: bool | None = None


class SettingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str = Field(min_length=36, max_length=36)
    subject_id: str | None = Field(None, min_length=36, max_length=36)  # None: the owner's own messages
    push: bool
    sms: bool
    email: bool


class CohortRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=100_000)
    ios_share: float = Field(0.5, ge=0, le=1)
    region: str = Field("01", pattern=r"^\d{2}$")


class ConfigRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    send_timeout: float | None = Field(None, gt=0, le=60)
    backoff_base: float | None = Field(None, ge=0, le=60)
    backoff_cap: float | None = Field(None, ge=0, le=600)
    max_attempts: int | None = Field(None, ge=1, le=100)


def apns_token() -> str:
    return secrets.token_hex(32)


def fcm_token() -> str:
    # An instance id, ':APA91b' and a long url-safe tail: the shape the API and the fake FCM accept.
    return f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"


def _luhn(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 - i % 2)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def cohort_numbers(count: int, taken: set[str], today: date) -> list[tuple[str, date]]:
    """Test personnummer (birth numbers 980-999, Skatteverket's test range) for adults, none already taken."""
    out: list[tuple[str, date]] = []
    day = today.replace(year=today.year - 30)
    while len(out) < count:
        stem = day.strftime("%Y%m%d")
        for serial in range(980, 1000):
            number = f"{stem}{serial}{_luhn(stem[2:] + str(serial))}"
            if number not in taken:
                out.append((number, day))
                if len(out) == count:
                    break
        day -= timedelta(days=1)
    return out


def _device_rows(person_id: str, platforms: list[str], now: Any) -> list[dict[str, Any]]:
    return [{"id": str(uuid.uuid4()), "person_id": person_id, "installation_id": uuid.uuid4().hex,
             "platform": p, "provider": "apns" if p == "ios" else "fcm",
             "token": apns_token() if p == "ios" else fcm_token(), "app_version": "3.2.0", "active": True,
             "registered_at": now} for p in platforms]


def create_push_control(ctx: Context) -> APIRouter:
    router = APIRouter(prefix="/push")

    def fanout() -> Any:
        found = ctx.extras.get("push")
        if found is None:
            raise Problem(503, "The push fan-out is not running.")
        return found

    @router.post("/devices", status_code=201)
    def add_devices(body: DevicesRequest) -> dict:
        """Synthetic devices for a person, with a push consent and push turned on (unless told otherwise)."""
        now = clock.now()
        platforms = ["ios" if (body.platform == "ios" or (body.platform == "mixed" and i % 2 == 0)) else "android"
                     for i in range(body.count)]
        with ctx.db() as db:
            if db.get(Person, body.person_id) is None:
                raise Problem(404, "No such person.")
            rows = _device_rows(body.person_id, platforms, now)
            if body.tokens is not None:
                if len(body.tokens) != body.count:
                    raise Problem(422, "Give one token per device.")
                for row, token in zip(rows, body.tokens, strict=True):
                    row["token"] = token
            db.connection().execute(insert(Device), rows)
            if body.consent:
                db.add(Consent(person_id=body.person_id, purpose="push", text_version=CONSENT_TEXT_VERSION,
                               granted_at=now))
            setting = db.get(NotificationSetting, (body.person_id, body.person_id))
            if setting is None:
                setting = NotificationSetting(owner_id=body.person_id, subject_id=body.person_id, push=False,
                                              sms=True, email=False, updated_at=now)
                db.add(setting)
            for name in ("push", "sms", "email"):
                if getattr(body, name) is not None:
                    setattr(setting, name, getattr(body, name))
            setting.updated_at = now
        return {"devices": [{k: r[k] for k in ("id", "installation_id", "platform", "provider", "token")}
                            for r in rows]}

    @router.put("/settings")
    def put_setting(body: SettingRequest) -> dict:
        """Set a person's channel choices for their own messages or a child's (no BR-NOTIF-1 checks)."""
        subject = body.subject_id or body.owner_id
        with ctx.db() as db:
            if db.get(Person, body.owner_id) is None or db.get(Person, subject) is None:
                raise Problem(404, "No such person.")
            row = db.get(NotificationSetting, (body.owner_id, subject))
            if row is None:
                row = NotificationSetting(owner_id=body.owner_id, subject_id=subject)
                db.add(row)
            row.push, row.sms, row.email, row.updated_at = body.push, body.sms, body.email, clock.now()
            return {"owner_id": body.owner_id, "subject_id": subject, "push": row.push, "sms": row.sms,
                    "email": row.email}

    @router.get("/care-staff/{patient_id}")
    def care_staff(patient_id: str) -> dict:
        """The staff of the care units that have a care relation with the patient (who may message them)."""
        with ctx.db() as db:
            rows = db.execute(select(Staff.hsa_id, Staff.care_unit_id)
                              .join(CareRelation, CareRelation.care_unit_id == Staff.care_unit_id)
                              .where(CareRelation.patient_id == patient_id).order_by(Staff.hsa_id)).all()
        return {"staff": [{"hsa_id": r.hsa_id, "care_unit_id": r.care_unit_id} for r in rows]}

    @router.get("/devices/{device_id}")
    def get_device(device_id: str) -> dict:
        with ctx.db() as db:
            device = db.get(Device, device_id)
            if device is None:
                raise Problem(404, "No such device.")
            return {"id": device.id, "person_id": device.person_id, "platform": device.platform,
                    "provider": device.provider, "token": device.token, "active": device.active,
                    "deactivated_reason": device.deactivated_reason,
                    "deactivated_at": device.deactivated_at.isoformat() if device.deactivated_at else None}

    @router.post("/cohort", status_code=201)
    def cohort(body: CohortRequest) -> dict:
        """A new care unit with one staff member and ``count`` adult patients, each with one device (iOS or
        Android by ``ios_share``), a push consent, push on and SMS off: the audience of a bulk-send benchmark."""
        now = clock.now()
        rng = random.Random(body.count)  # nosec B311 # seeded synthetic test data, not security
        with ctx.db() as db:
            region = db.get(Region, body.region)
            if region is None or not region.joined:
                raise Problem(422, "The region must exist and have joined.")
            n = (db.scalar(select(func.count()).select_from(CareUnit).where(CareUnit.region_code == region.code))
                 or 0) + 9000
            unit = CareUnit(id=f"SE2321000{region.code}-{n:04d}", name=f"Vårdcentral Utskick {n}",
                            region_code=region.code)
            db.add(unit)
            db.flush()
            staff = Staff(hsa_id=f"{unit.id}-P001", name="Testpersonal Utskick", care_unit_id=unit.id)
            db.add(staff)
            taken = set(db.scalars(select(Person.personnummer)))
            numbers = cohort_numbers(body.count, taken, now.date())
            del taken
            conn = db.connection()
            ios = 0
            for start in range(0, body.count, 5000):  # in chunks, so 100,000 patients fit in little memory
                persons, settings, consents, devices, relations = [], [], [], [], []
                for i, (number, born) in enumerate(numbers[start:start + 5000], start=start):
                    pid = str(uuid.uuid4())
                    platform = "ios" if rng.random() < body.ios_share else "android"
                    ios += platform == "ios"
                    persons.append({"id": pid, "personnummer": number, "given_name": "Test",
                                    "family_name": f"Utskick{i}", "birth_date": born, "region_code": region.code,
                                    "deceased": False, "protected_identity": False,
                                    "address": "Testgatan 1, 123 45 Teststad", "email": None, "phone": None,
                                    "role": "push-cohort"})
                    settings.append({"owner_id": pid, "subject_id": pid, "push": True, "sms": False,
                                     "email": False, "updated_at": now})
                    consents.append({"id": str(uuid.uuid4()), "person_id": pid, "purpose": "push",
                                     "text_version": CONSENT_TEXT_VERSION, "granted_at": now, "withdrawn_at": None})
                    devices.extend(_device_rows(pid, [platform], now))
                    relations.append({"care_unit_id": unit.id, "patient_id": pid})
                for model, rows in ((Person, persons), (NotificationSetting, settings), (Consent, consents),
                                    (Device, devices), (CareRelation, relations)):
                    conn.execute(insert(model), rows)
            return {"care_unit_id": unit.id, "staff_hsa_id": staff.hsa_id, "patients": body.count, "ios": ios,
                    "android": body.count - ios}

    @router.get("/deliveries")
    def deliveries(message_id: str | None = None, recipient_id: str | None = None, bulk_job_id: str | None = None,
                   device_id: str | None = None, limit: int = Query(1000, ge=1, le=10_000)) -> dict:
        if not (message_id or recipient_id or bulk_job_id or device_id):
            raise Problem(422, "Filter by message_id, recipient_id, bulk_job_id or device_id.")
        query = select(Delivery).order_by(Delivery.enqueued_at, Delivery.id).limit(limit)
        for column, value in ((Delivery.message_id, message_id), (Delivery.recipient_id, recipient_id),
                              (Delivery.bulk_job_id, bulk_job_id), (Delivery.device_id, device_id)):
            if value:
                query = query.where(column == value)
        with ctx.db() as db:
            rows = db.scalars(query).all()
            return {"deliveries": [{
                "id": d.id, "message_id": d.message_id, "subject_id": d.subject_id, "recipient_id": d.recipient_id,
                "channel": d.channel, "device_id": d.device_id, "address": d.address, "key": d.id,
                "state": d.state, "attempts": d.attempts, "reason": d.reason, "provider_id": d.provider_id,
                "enqueued_at": clock.as_utc(d.enqueued_at).timestamp(),
                "sent_at": clock.as_utc(d.sent_at).timestamp() if d.sent_at else None,
                "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None} for d in rows]}

    @router.get("/timings")
    def timings(bulk_job_id: str) -> StreamingResponse:
        """CSV for the benchmark, streamed: key, channel, state and enqueue times of every delivery of a job."""

        def rows() -> Iterator[str]:
            yield "key,channel,state,enqueued_at,outbox_created_at\n"
            with ctx.db() as db:
                result = db.execute(select(Delivery.id, Delivery.channel, Delivery.state, Delivery.enqueued_at,
                                           OutboxEvent.created_at)
                                    .join(OutboxEvent, OutboxEvent.id == Delivery.outbox_id)
                                    .where(Delivery.bulk_job_id == bulk_job_id)
                                    .execution_options(yield_per=5000))
                for chunk in result.partitions():
                    yield "".join(f"{k},{c},{s},{clock.as_utc(e).timestamp()!r},{clock.as_utc(o).timestamp()!r}\n"
                                  for k, c, s, e, o in chunk)

        return StreamingResponse(rows(), media_type="text/csv")

    @router.post("/retention")
    def retention() -> dict:
        """Run the delivery records' retention job now, by the system's clock (BR-RETENTION-1), as the fan-out
        does every hour: settled deliveries of messages sent more than 30 days ago are deleted."""
        from .component import run_retention

        return run_retention(ctx)

    @router.get("/state")
    def state() -> dict:
        return fanout().state()

    @router.put("/config")
    def set_config(body: ConfigRequest) -> dict:
        """Change the worker's send timeout, backoff or attempts at run time (tests restore them afterwards)."""
        worker = fanout()
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(worker.config, name, value)
        return worker.state()["config"]

    @router.post("/worker/restart")
    async def restart() -> dict:
        """Stop the worker as a crash would (in-flight sends and unwritten outcomes lost) and start it again."""
        return {"lost": await fanout().restart(), "state": fanout().state()}

    return router
