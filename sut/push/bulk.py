"""Staff bulk send (BR-STAFF-1): one call notifies many patients (up to 100,000), answered at once with a job id.

The job writes one Message and its OutboxEvent per patient, in chunks, in the background; the fan-out picks the
events up as they land. Only patients with whom the staff member's care unit has a care relation get a message
(PDL 4 kap. 1 §): named patients without one are counted as rejected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, func, select, update

from .. import clock
from ..auth import authenticate
from ..context import Context
from ..db import BulkJob, CareRelation, CareUnit, Delivery, Message, OutboxEvent
from ..problems import Problem
from ..schemas import EXAMPLE_PERSON_ID, BulkMessageBody, MessageSubject, Uuid, problem_responses, uuid_path
from .ids import new_ids
from .storage import insert_rows

log = logging.getLogger("sut.push")
EXAMPLE_JOB_ID = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"
CHUNK = 500  # per transaction: short write locks, so the fan-out's own writes never wait long
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxEvent.__table__  # type: ignore[assignment]
MESSAGE_COLUMNS = ("id", "patient_id", "care_unit_id", "sender_name", "subject", "body", "created_at", "hidden")
OUTBOX_COLUMNS = ("kind", "message_id", "patient_id", "created_at", "state", "bulk_job_id", "idempotency_key")


class _BulkSendBase(BaseModel):
    """One message to many patients of the unit."""

    model_config = ConfigDict(extra="forbid")
    subject: MessageSubject
    body: BulkMessageBody  # text rules of sut/text.py, as for a single message


class NamedPatientsBulkSend(_BulkSendBase):
    """A bulk send to named patients; those without a care relation with the unit are counted as rejected."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "patient_ids": [EXAMPLE_PERSON_ID], "subject": "Influensavaccination",
        "body": "Hej!\nNu kan du boka tid för influensavaccination."}]})
    patient_ids: list[Uuid] = Field(min_length=1, max_length=500,
                                    description="Named patients (at most 500 in one call)")


class AllPatientsBulkSend(_BulkSendBase):
    """A bulk send to every patient with a care relation to the unit."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "all_patients": True, "subject": "Ändrade öppettider", "body": "Vårdcentralen har stängt fredag 3 april."}]})
    all_patients: Literal[True] = Field(
        description="Every patient with a care relation to the unit (up to 100,000)")


# Exactly one selection: the two shapes exclude each other (unknown fields are refused), so the published
# schema says what the API enforces and a schema-valid request is never refused for its shape.
BulkSendRequest = Annotated[NamedPatientsBulkSend | AllPatientsBulkSend, Body()]


class BulkSendAccepted(BaseModel):
    """The bulk send was accepted; poll its status."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "job_id": EXAMPLE_JOB_ID, "state": "running", "total": 1250,
        "status_url": f"/staff/v1/bulk-sends/{EXAMPLE_JOB_ID}"}]})
    job_id: Uuid = Field(description="Bulk send job id")
    state: Literal["running", "done", "failed", "interrupted"] = Field(description="The job's state")
    total: int = Field(description="Patients selected")
    status_url: str = Field(description="Where to poll its progress (GET)")


class Counts(BaseModel):
    """Notifications of a bulk send, by delivery state."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "queued": 10, "sent": 5, "delivered": 1230, "failed": 3, "pruned": 2, "total": 1250}]})
    queued: int = Field(default=0, description="Waiting to be sent")
    sent: int = Field(default=0, description="Handed to the gateway, receipt not yet confirmed")
    delivered: int = Field(default=0, description="Accepted by the gateway (APNs, FCM, SMS or e-mail)")
    failed: int = Field(default=0, description="Given up after retries")
    pruned: int = Field(default=0, description="Not sent: the push token was reported gone (BR-NOTIF-4)")
    total: int = Field(default=0, description="All notifications")


class BulkSendStatus(BaseModel):
    """Progress of a bulk send: messages written and notifications by state."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": EXAMPLE_JOB_ID, "state": "done", "created_at": "2026-03-02T08:00:00Z",
        "finished_at": "2026-03-02T08:00:04Z", "total": 1250, "accepted": 1248, "rejected": 2, "outbox_pending": 0,
        "deliveries": {"queued": 0, "sent": 0, "delivered": 1246, "failed": 0, "pruned": 2, "total": 1248},
        "by_channel": {"push": {"queued": 0, "sent": 0, "delivered": 1000, "failed": 0, "pruned": 2, "total": 1002},
                       "sms": {"queued": 0, "sent": 0, "delivered": 246, "failed": 0, "pruned": 0, "total": 246}}}]})
    id: Uuid = Field(description="Bulk send job id")
    state: Literal["running", "done", "failed", "interrupted"] = Field(description="The job's state")
    created_at: datetime = Field(description="When it was accepted (UTC)")
    finished_at: datetime | None = Field(description="When all messages were written; null while running")
    total: int = Field(description="Patients selected")
    accepted: int = Field(description="Messages written, each with its notification queued")
    rejected: int = Field(description="Named patients without a care relation with the unit")
    outbox_pending: int = Field(description="Messages whose notifications are not yet fanned out")
    deliveries: Counts = Field(description="Notifications over all channels")
    by_channel: dict[str, Counts] = Field(description="Notifications per channel: push, sms, email")


class BulkRunner:
    """Works through bulk jobs one at a time in a thread of its own, a chunk per transaction."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        fanout = ctx.extras.get("push")
        self.db = fanout.database.db if fanout is not None else ctx.db  # the fan-out's connections, if running
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-bulk")
        self.stopping = threading.Event()

    def submit(self, job_id: str, sender_name: str, subject: str, body: str, patient_ids: list[str] | None) -> None:
        self.pool.submit(self._run, job_id, sender_name, subject, body, patient_ids)

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _chunks(self, unit: str, patient_ids: list[str] | None) -> Iterator[tuple[list[str], int]]:
        """(patients with a care relation, how many named ones were refused), a chunk at a time."""
        if patient_ids is not None:
            for i in range(0, len(patient_ids), CHUNK):
                chunk = patient_ids[i:i + CHUNK]
                with self.db() as db:
                    related = set(db.scalars(select(CareRelation.patient_id).where(
                        CareRelation.care_unit_id == unit, CareRelation.patient_id.in_(chunk))))
                yield [p for p in chunk if p in related], sum(1 for p in chunk if p not in related)
            return
        last = ""
        while True:
            with self.db() as db:
                chunk = list(db.scalars(select(CareRelation.patient_id).where(
                    CareRelation.care_unit_id == unit, CareRelation.patient_id > last)
                    .order_by(CareRelation.patient_id).limit(CHUNK)))
            if not chunk:
                return
            last = chunk[-1]
            yield chunk, 0

    def _run(self, job_id: str, sender_name: str, subject: str, body: str, patient_ids: list[str] | None) -> None:
        try:
            with self.db() as db:
                unit = db.get(BulkJob, job_id).care_unit_id  # type: ignore[union-attr]
            for patients, refused in self._chunks(unit, patient_ids):
                if self.stopping.is_set():
                    self._close(job_id, "interrupted", "the system stopped")
                    return
                now = clock.now()
                ids = new_ids(2 * len(patients))
                with self.db() as db:  # a message and its outbox event in one transaction, a chunk at a time
                    conn = db.connection()  # the driver's executemany (storage.insert_rows)
                    insert_rows(conn, MESSAGES, MESSAGE_COLUMNS, [
                        (ids[2 * i], p, unit, sender_name, subject, body, now, False) for i, p in enumerate(patients)])
                    insert_rows(conn, OUTBOX, OUTBOX_COLUMNS, [
                        ("message.created", ids[2 * i], p, now, "pending", job_id, ids[2 * i + 1])
                        for i, p in enumerate(patients)])
                    conn.execute(update(BulkJob).where(BulkJob.id == job_id).values(
                        accepted=BulkJob.accepted + len(patients), rejected=BulkJob.rejected + refused))
                fanout = self.ctx.extras.get("push")
                if fanout is not None:
                    fanout.notify()
            self._close(job_id, "done", None)
        except Exception as exc:
            log.exception("bulk job %s failed", job_id)
            self._close(job_id, "failed", type(exc).__name__)

    def _close(self, job_id: str, state: str, error: str | None) -> None:
        with self.db() as db:
            db.execute(update(BulkJob).where(BulkJob.id == job_id).values(state=state, error=error,
                                                                          finished_at=clock.now()))


def _status(db: Any, job: BulkJob) -> dict[str, Any]:
    by_channel: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = dict.fromkeys(("queued", "sent", "delivered", "failed", "pruned", "total"), 0)
    for channel, state, count in db.execute(select(Delivery.channel, Delivery.state, func.count())
                                            .where(Delivery.bulk_job_id == job.id)
                                            .group_by(Delivery.channel, Delivery.state)).tuples():
        row = by_channel.setdefault(channel, dict.fromkeys(totals, 0))
        row[state] = row.get(state, 0) + count
        row["total"] += count
        totals[state] = totals.get(state, 0) + count
        totals["total"] += count
    pending = db.scalar(select(func.count()).select_from(OutboxEvent)
                        .where(OutboxEvent.bulk_job_id == job.id, OutboxEvent.state == "pending")) or 0
    return {"id": job.id, "state": job.state, "created_at": job.created_at, "finished_at": job.finished_at,
            "total": job.total, "accepted": job.accepted, "rejected": job.rejected, "outbox_pending": pending,
            "deliveries": totals, "by_channel": by_channel}


def create_bulk_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["bulk"])

    def runner() -> BulkRunner:
        found = ctx.extras.get("push_bulk")
        if found is None:
            found = ctx.extras["push_bulk"] = BulkRunner(ctx)
        return found

    @router.post("/bulk-sends", response_model=BulkSendAccepted, status_code=202, operation_id="createBulkSend",
                 summary="Send one message to many patients",
                 responses={**problem_responses(400, 401, 403, 413, 422, 429),
                            202: {"description": "Accepted: the messages are written in the background",
                                  "links": {"GetBulkSend": {"operationId": "getBulkSend",
                                                            "parameters": {"job_id": "$response.body#/job_id"}}}}})
    def create(request: Request, body: BulkSendRequest) -> Any:
        """One message to named patients or to every patient of the unit (up to 100,000), answered at once
        with a job id to poll. Only patients with a care relation get it (BR-STAFF-1, PDL 4 kap. 1 §); each is
        notified as they chose (BR-NOTIF-2). The same text rules as a single message (422); rate limited (429)."""
        with ctx.db() as db:
            principal = authenticate(ctx, db, request, kind="staff")
            staff = principal.staff
            if staff is None:
                raise Problem(403, "Den här funktionen är till för vårdpersonal.")
            wait = ctx.send_limiter.hit(staff.id)
            if wait is not None:
                raise Problem(429, "För många utskick; försök igen om en stund.",
                              type_="urn:1177:problem:rate-limited", headers={"Retry-After": str(int(wait))})
            if isinstance(body, AllPatientsBulkSend):
                total = db.scalar(select(func.count()).select_from(CareRelation)
                                  .where(CareRelation.care_unit_id == staff.care_unit_id)) or 0
                patient_ids = None
            else:
                patient_ids = list(dict.fromkeys(body.patient_ids))
                total = len(patient_ids)
            if total > ctx.settings.bulk_max_recipients:
                raise Problem(422, f"Ett massutskick når högst {ctx.settings.bulk_max_recipients} patienter.",
                              type_="urn:1177:problem:too-many-recipients", total=total)
            unit = db.get(CareUnit, staff.care_unit_id)
            job = BulkJob(staff_id=staff.id, care_unit_id=staff.care_unit_id, created_at=clock.now(), total=total,
                          accepted=0, rejected=0, state="running")
            db.add(job)
            db.flush()
            job_id = job.id
        runner().submit(job_id, unit.name if unit else staff.name, body.subject, body.body, patient_ids)
        return {"job_id": job_id, "state": "running", "total": total, "status_url": f"/staff/v1/bulk-sends/{job_id}"}

    @router.get("/bulk-sends/{job_id}", response_model=BulkSendStatus, operation_id="getBulkSend",
                summary="Follow a bulk send",
                responses=problem_responses(401, 403, 404, 422))
    def status(request: Request, job_id: str = uuid_path("Bulk send job id", EXAMPLE_JOB_ID)) -> Any:
        """Progress of a bulk send of the staff member's own care unit: messages written, patients rejected for
        want of a care relation, and notifications by state and channel. 404 for another unit's job."""
        with ctx.db() as db:
            principal = authenticate(ctx, db, request, kind="staff")
            job = db.get(BulkJob, job_id)
            if principal.staff is None or job is None or job.care_unit_id != principal.staff.care_unit_id:
                raise Problem(404, "Utskicket finns inte.")
            return _status(db, job)

    return router

