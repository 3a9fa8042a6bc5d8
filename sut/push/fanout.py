"""The push fan-out: reads the transactional outbox, resolves recipients, sends, retries, records (BR-NOTIF-2..4).

Pipeline, all in the backend's event loop except the database work, which runs in one thread of its own:
- the resolver claims a batch of pending outbox events, resolves every delivery (``recipients.resolve``), inserts
  the Delivery rows (state queued, each with its idempotency key) and marks the events done, in one transaction;
  it claims more only while the in-memory queue is short, so a delivery waits little between enqueue and send;
- sender tasks (``--push-workers``) take deliveries from the queue and send them over few HTTP/2 connections with
  many streams (APNs, FCM) or HTTP/1.1 (SMS, e-mail);
- outcomes are written back in batches: sent, pruned (410/UNREGISTERED: the device is deactivated at once and
  never sent to again), failed with a reason, or queued again for a retry: 429 after retry-after, 5xx and
  timeouts after a capped exponential backoff with full jitter; delivered when the gateway's report comes in.
A retry, or a worker started after a crash, sends the same idempotency key, so the provider can collapse it and
the device shows the notification once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, case, select, update

from .. import clock, faults
from ..context import Context
from ..db import BulkJob, Delivery, Device, Message, OutboxEvent
from . import payload, recipients
from .gatewayinfo import GatewayInfo
from .h2client import H2Error, StreamRefused
from .metrics import PushMetrics
from .payload import Notice
from .providers import ApnsClient, FcmClient, MessagingClient, Outcome
from .storage import PushDatabase, insert_rows, update_rows

log = logging.getLogger("sut.push")
T = TypeVar("T")

FINAL_STATES = ("sent", "delivered", "failed", "pruned")
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
DELIVERY_COLUMNS = ("id", "outbox_id", "bulk_job_id", "message_id", "subject_id", "recipient_id", "channel",
                    "device_id", "address", "state", "attempts", "enqueued_at")
# An outcome as written back: each value in this order, then the delivery's id. A delivery report may have come
# first, so 'delivered' is never downgraded to 'sent', and a later write never blanks what an earlier one recorded.
OUTCOME_ASSIGNMENTS = (("state", "CASE WHEN state = 'delivered' THEN state ELSE {} END"), ("reason", "{}"),
                       ("attempts", "{}"), ("sent_at", "COALESCE({}, sent_at)"),
                       ("provider_id", "COALESCE({}, provider_id)"), ("next_attempt_at", "{}"),
                       ("delivered_at", "COALESCE({}, delivered_at)"))


@dataclass
class RuntimeConfig:
    """Tunables of a running fan-out (test mode may change them through the control API)."""

    send_timeout: float = 5.0
    backoff_base: float = 0.25
    backoff_cap: float = 30.0
    max_attempts: int = 8
    batch_size: int = 500
    poll_interval: float = 0.05


class Job:
    """One delivery on its way: what to send where, and how often it was tried."""

    __slots__ = ("address", "attempts", "body", "bulk_job_id", "channel", "delivery_id", "device_id",
                 "enqueued_mono", "enqueued_wall", "key", "notice", "reauthed", "recipient_id", "timer")

    def __init__(self, delivery_id: str, key: str, channel: str, address: str, device_id: str | None,
                 recipient_id: str, notice: Notice, *, attempts: int = 0, enqueued_wall: float | None = None,
                 bulk_job_id: str | None = None, body: bytes | None = None) -> None:
        self.delivery_id, self.key, self.channel, self.address = delivery_id, key, channel, address
        self.device_id, self.recipient_id, self.notice = device_id, recipient_id, notice
        self.attempts = attempts
        self.enqueued_wall = enqueued_wall if enqueued_wall is not None else time.time()
        self.enqueued_mono = time.monotonic() - (time.time() - self.enqueued_wall)
        self.bulk_job_id = bulk_job_id
        self.reauthed = False
        self.timer: asyncio.TimerHandle | None = None
        self.body = body if body is not None else self.build()

    def build(self) -> bytes:
        if self.channel == "apns":
            return payload.apns_payload(self.notice)
        if self.channel == "fcm":
            return payload.fcm_body(self.notice, self.address, self.key)
        if self.channel == "sms":
            return payload.sms_body(self.notice, self.address)
        return payload.email_body(self.notice, self.address)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Fanout:
    def __init__(self, ctx: Context, info: GatewayInfo) -> None:
        settings = ctx.settings
        self.ctx, self.info = ctx, info
        self.workers = settings.push_workers
        self.config = RuntimeConfig(send_timeout=settings.push_send_timeout, batch_size=settings.push_batch_size)
        self.metrics = PushMetrics(self)
        self.rng = random.Random()  # nosec B311 # retry jitter, not security
        self.db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-db")
        self.database = PushDatabase(ctx)
        self.providers: dict[str, Any] = {}
        self.generation = 0
        self.restarts = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._reset_memory()

    # -- life cycle ----------------------------------------------------------------------------------------------------
    def _reset_memory(self) -> None:
        self.generation += 1
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.pruned: set[str] = set()
        self.updates: list[dict[str, Any]] = []
        self.held: dict[str, tuple[float, dict[str, Any]]] = {}  # 'sent' outcomes waiting briefly for a report
        self.receipts: list[str] = []
        self.deactivations: list[dict[str, Any]] = []
        self.waiting: set[Job] = set()
        self.audience: dict[str, int] = {}  # recipients per bulk job (fault push-slow-with-audience)
        self.paced_until: dict[str, float] = {}  # per bulk job: the next send slot (fault push-slow-with-audience)
        self.inflight = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.wake = asyncio.Event()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        settings = self.ctx.settings
        self.providers = {
            "apns": ApnsClient(self.info, connections=settings.push_connections,
                               refresh_seconds=settings.apns_token_refresh),
            "fcm": FcmClient(self.info, connections=settings.push_connections),
            "sms": MessagingClient("sms", self.info),
            "email": MessagingClient("email", self.info),
        }
        await self._start_workers()

    async def _start_workers(self) -> None:
        for job, delay in await self._db(self._recover):
            self._schedule(job, delay)
        self.tasks = [asyncio.create_task(self._resolver(), name="push-resolver"),
                      asyncio.create_task(self._flusher(), name="push-flusher")]
        self.tasks += [asyncio.create_task(self._sender(), name=f"push-sender-{i}") for i in range(self.workers)]

    async def _stop_workers(self, *, flush: bool) -> None:
        for job in list(self.waiting):
            if job.timer is not None:
                job.timer.cancel()
        self.waiting.clear()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        if flush:
            await self._flush_once(everything=True)

    async def stop(self) -> None:
        await self._stop_workers(flush=True)
        for provider in self.providers.values():
            await provider.close()
        self.db_pool.shutdown(wait=True)
        self.database.dispose()

    async def restart(self) -> dict[str, Any]:
        """A crash and a new start: in-flight sends and unwritten outcomes are lost, the database is not."""
        lost = {"in_flight": self.inflight, "queued_in_memory": self.queue.qsize(),
                "unwritten_outcomes": len(self.updates) + len(self.held)}
        await self._stop_workers(flush=False)
        self._reset_memory()
        self.restarts += 1
        await self._start_workers()
        return lost

    def notify(self) -> None:
        """New outbox rows were written (from any thread): look now instead of at the next poll."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.wake.set)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        if self.loop is None:
            raise RuntimeError("the fan-out is not running")
        return await self.loop.run_in_executor(self.db_pool, fn, *args)

    def state(self) -> dict[str, Any]:
        return {"workers": self.workers, "queue": self.queue.qsize(), "in_flight": self.inflight,
                "waiting_retry": len(self.waiting), "pruned_tokens": len(self.pruned), "restarts": self.restarts,
                "apns_token_mints": self.providers["apns"].mints if self.providers else 0,
                "config": asdict(self.config)}

    # -- resolving the outbox --------------------------------------------------------------------------------------
    def _high_water(self) -> int:
        return max(2 * self.config.batch_size, 2 * self.workers)

    async def _resolver(self) -> None:
        while True:
            if self.queue.qsize() + self.inflight >= self._high_water():
                await asyncio.sleep(0.005)
                continue
            try:
                jobs = await self._db(self._claim, self.config.batch_size)
            except Exception:
                log.exception("claiming outbox events failed; retrying")
                await asyncio.sleep(0.5)
                continue
            for job in jobs:
                self.queue.put_nowait(job)
            if jobs:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.config.poll_interval)
            self.wake.clear()

    def _claim(self, limit: int) -> list[Job]:
        now = clock.now()
        with self.database.db() as db:
            rows = db.execute(select(OutboxEvent.id, OutboxEvent.kind, OutboxEvent.message_id,
                                     OutboxEvent.patient_id, OutboxEvent.idempotency_key, OutboxEvent.bulk_job_id)
                              .where(OutboxEvent.state == "pending").order_by(OutboxEvent.id).limit(limit)
                              .with_for_update(skip_locked=True)).all()
            if not rows:
                return []
            events = [recipients.Event(r.id, r.message_id, r.patient_id, r.idempotency_key, r.bulk_job_id)
                      for r in rows if r.kind == "message.created"]
            targets = recipients.resolve(db, events)
            wall = time.time()
            enqueued = _utc(wall)
            conn = db.connection()  # the driver's executemany: no per-row bookkeeping of the ORM or of Core
            insert_rows(conn, DELIVERIES, DELIVERY_COLUMNS, [
                (t.key, t.event.id, t.event.bulk_job_id, t.event.message_id, t.event.patient_id, t.recipient_id,
                 t.channel, t.device_id, t.address, "queued", 0, enqueued) for t in targets])
            conn.execute(update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows]))
                         .values(state="done", claimed_at=now, done_at=now))
            if faults.active("push-slow-with-audience"):
                for job_id in {e.bulk_job_id for e in events if e.bulk_job_id} - self.audience.keys():
                    job = db.get(BulkJob, job_id)
                    self.audience[job_id] = job.total if job is not None else 0
        bodies: dict[int, bytes] = {}
        jobs = []
        for t in targets:
            body = None
            if t.channel == "apns":  # the same bytes for every device of one recipient
                body = bodies.get(id(t.notice))
                if body is None:
                    body = bodies[id(t.notice)] = payload.apns_payload(t.notice)
            jobs.append(Job(t.key, t.key, t.channel, t.address, t.device_id, t.recipient_id, t.notice,
                            enqueued_wall=wall, bulk_job_id=t.event.bulk_job_id, body=body))
        self.metrics.enqueued(len(jobs))
        return jobs

    def _recover(self) -> list[tuple[Job, float]]:
        """Deliveries a previous worker left queued: send them again, with their stored keys."""
        with self.database.db() as db:
            rows = db.execute(select(Delivery, OutboxEvent.idempotency_key.label("event_key"))
                              .join(OutboxEvent, OutboxEvent.id == Delivery.outbox_id)
                              .where(Delivery.state == "queued").order_by(Delivery.enqueued_at)).all()
            if not rows:
                return []
            device_ids = sorted({r.Delivery.device_id for r in rows if r.Delivery.device_id})
            active: dict[str, bool] = {}
            for i in range(0, len(device_ids), 500):
                active.update(db.execute(select(Device.id, Device.active)
                                         .where(Device.id.in_(device_ids[i:i + 500]))).tuples().all())
            subjects: dict[str, str] = {}
            if faults.active("push-subject-in-payload"):
                ids = sorted({r.Delivery.message_id for r in rows})
                for i in range(0, len(ids), 500):
                    subjects.update(db.execute(select(Message.id, Message.subject)
                                               .where(Message.id.in_(ids[i:i + 500]))).tuples().all())
        now = time.time()
        jobs: list[tuple[Job, float]] = []
        for row in rows:
            d = row.Delivery
            notice = Notice(d.message_id, row.event_key, d.subject_id if d.subject_id != d.recipient_id else None,
                            subjects.get(d.message_id))
            job = Job(d.id, d.id, d.channel, d.address, d.device_id, d.recipient_id, notice,
                      attempts=d.attempts, enqueued_wall=clock.as_utc(d.enqueued_at).timestamp(),
                      bulk_job_id=d.bulk_job_id)
            if d.device_id and not active.get(d.device_id, False) and not faults.active("push-to-pruned-token"):
                self._finish(job, "pruned" if d.device_id in active else "failed",
                             "device deactivated" if d.device_id in active else "device removed")
                continue
            delay = (clock.as_utc(d.next_attempt_at).timestamp() - now) if d.next_attempt_at else 0.0
            jobs.append((job, max(0.0, delay)))
        return jobs

    # -- sending -------------------------------------------------------------------------------------------------------
    async def _sender(self) -> None:
        queue = self.queue
        while True:
            job = await queue.get()
            self.inflight += 1
            try:
                await self._deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("delivery %s failed unexpectedly", job.delivery_id)
                self._finish(job, "failed", f"internal error: {type(exc).__name__}")
            finally:
                self.inflight -= 1

    def _backoff(self, attempts: int) -> float:
        """Capped exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** max(0, attempts - 1))
        return self.rng.uniform(0, ceiling)

    async def _deliver(self, job: Job) -> None:
        if job.device_id is not None and job.address in self.pruned and not faults.active("push-to-pruned-token"):
            self._finish(job, "pruned", "token unregistered earlier")
            return
        if job.bulk_job_id and faults.active("push-slow-with-audience"):
            await self._pace(job.bulk_job_id)
        provider = self.providers[job.channel]
        started = time.monotonic()
        try:
            outcome: Outcome = await provider.send(job, self.config.send_timeout)
        except TimeoutError:
            outcome = Outcome("timeout", reason=f"{job.channel} timeout after {self.config.send_timeout:g} s")
        except StreamRefused as exc:
            outcome = Outcome("refused", reason=f"{job.channel} {exc}")
        except (H2Error, ConnectionError, OSError) as exc:
            outcome = Outcome("retry", reason=f"{job.channel} transport: {exc}"[:120])
        now = time.monotonic()
        self.metrics.sent(job.channel, outcome.kind, now - started)
        job.attempts += 1
        kind = outcome.kind
        if kind == "accepted":
            self.metrics.latency(job.channel, now - job.enqueued_mono)
            self._finish(job, "sent", None, outcome.provider_id)
        elif kind == "unregistered":
            # BR-NOTIF-4: the provider says the token is gone: deactivate it now, never send to it again.
            self.pruned.add(job.address)
            self._deactivate(job, recipients.PRUNED_REASON)
            self._finish(job, "pruned", outcome.reason)
        elif kind == "invalid-token":
            self._deactivate(job, "invalid-token")
            self._finish(job, "failed", outcome.reason)
        elif kind == "rejected":
            self._finish(job, "failed", outcome.reason)
        elif kind == "throttled":
            if faults.active("push-retry-after-ignored"):
                delay = 0.0  # the defect: hammering a provider that asked us to wait
            elif outcome.retry_after is not None:
                delay = outcome.retry_after + self.rng.uniform(0, min(1.0, outcome.retry_after / 10))
            else:
                delay = self._backoff(job.attempts)
            self._retry(job, delay, outcome.reason)
        elif kind == "reauth":
            if job.reauthed:
                self._finish(job, "failed", outcome.reason)
            else:
                job.reauthed = True
                self._retry(job, 0.0, outcome.reason)
        elif kind == "refused":
            self._retry(job, 0.05, outcome.reason)  # never processed by the server: safe to send again
        else:  # 5xx, timeout, transport error
            if kind == "timeout" and faults.active("push-duplicate-on-retry"):
                # The defect: the retry gets a fresh key, so the provider cannot tell it is the same notification.
                job.key = str(uuid.uuid4())
                job.body = job.build()
            self._retry(job, self._backoff(job.attempts), outcome.reason)

    async def _pace(self, bulk_job_id: str) -> None:
        """The defect of fault push-slow-with-audience: a bulk job's sends paced to "200 per second per 1,000
        recipients" with the audience in the wrong place, so each send waits audience / 200,000 s: the larger the
        audience, the slower the whole job drains."""
        now = time.monotonic()
        slot = max(now, self.paced_until.get(bulk_job_id, now)) + self.audience.get(bulk_job_id, 0) / 200_000
        self.paced_until[bulk_job_id] = slot
        await asyncio.sleep(slot - now)

    def _retry(self, job: Job, delay: float, reason: str) -> None:
        if job.attempts >= self.config.max_attempts:
            self._finish(job, "failed", f"gave up after {job.attempts} attempts: {reason}"[:120])
            return
        self.metrics.retry(job.channel)
        self.updates.append({"b_id": job.delivery_id, "b_state": "queued", "b_reason": reason[:120],
                             "b_attempts": job.attempts, "b_sent_at": None, "b_provider_id": None,
                             "b_next": _utc(time.time() + delay), "b_delivered_at": None})
        self._schedule(job, delay)

    def _schedule(self, job: Job, delay: float) -> None:
        if delay <= 0:
            self.queue.put_nowait(job)
            return
        if self.loop is None:
            raise RuntimeError("the fan-out is not running")
        self.waiting.add(job)
        job.timer = self.loop.call_later(delay, self._requeue, job, self.generation)

    def _requeue(self, job: Job, generation: int) -> None:
        self.waiting.discard(job)
        job.timer = None
        if generation == self.generation:
            self.queue.put_nowait(job)

    def _finish(self, job: Job, state: str, reason: str | None, provider_id: str | None = None) -> None:
        self.metrics.final(job.channel, state)
        row = {"b_id": job.delivery_id, "b_state": state, "b_reason": reason, "b_attempts": job.attempts,
               "b_sent_at": _utc(time.time()) if state == "sent" else None, "b_provider_id": provider_id,
               "b_next": None, "b_delivered_at": None}
        if state == "sent":
            # The gateway's delivery report usually follows within a few hundred milliseconds: holding the
            # 'sent' row that long lets one UPDATE record both, halving the writes per delivery.
            self.held[job.delivery_id] = (time.monotonic(), row)
        else:
            self.updates.append(row)

    def _deactivate(self, job: Job, reason: str) -> None:
        if job.device_id:
            self.metrics.pruned(job.channel)
            self.deactivations.append({"b_id": job.device_id, "b_reason": reason, "b_at": clock.now()})

    def delivery_reports(self, keys: list[str]) -> None:
        """The gateways' delivery reports (their webhook): these deliveries reached the device or inbox."""
        self.receipts.extend(keys)

    # -- writing outcomes back -------------------------------------------------------------------------------------
    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            await self._flush_once()

    HOLD_SENT = 0.5  # seconds a 'sent' outcome may wait for its delivery report before it is written alone

    async def _flush_once(self, *, everything: bool = False) -> None:
        if self.receipts:
            at = clock.now()
            leftover = []
            for key in self.receipts:
                held = self.held.pop(key, None)
                if held is None:
                    leftover.append(key)
                else:
                    row = held[1]
                    row["b_state"], row["b_delivered_at"] = "delivered", at
                    self.updates.append(row)
            self.receipts = leftover
        if self.held:
            cutoff = time.monotonic() - self.HOLD_SENT
            for key in [k for k, (t, _) in self.held.items() if everything or t < cutoff]:
                self.updates.append(self.held.pop(key)[1])
        if not (self.updates or self.receipts or self.deactivations):
            return
        updates, self.updates = self.updates, []
        receipts, self.receipts = self.receipts, []
        deactivations, self.deactivations = self.deactivations, []
        try:
            await self._db(self._apply, updates, receipts, deactivations)
        except Exception:
            log.exception("writing %d delivery outcomes failed; they will be tried again", len(updates))
            self.updates[:0], self.receipts[:0], self.deactivations[:0] = updates, receipts, deactivations

    def _apply(self, updates: list[dict[str, Any]], receipts: list[str], deactivations: list[dict[str, Any]]) -> None:
        with self.database.engine.begin() as conn:
            if deactivations:
                conn.execute(update(Device).where(Device.id == bindparam("b_id"), Device.active.is_(True))
                             .values(active=False, deactivated_at=bindparam("b_at"),
                                     deactivated_reason=bindparam("b_reason")), deactivations)
            update_rows(conn, DELIVERIES, OUTCOME_ASSIGNMENTS, "id", [
                (u["b_state"], u["b_reason"], u["b_attempts"], u["b_sent_at"], u["b_provider_id"], u["b_next"],
                 u["b_delivered_at"], u["b_id"]) for u in updates])
            at = clock.now()
            for i in range(0, len(receipts), 500):
                # A report can beat the provider's own answer to us: the send happened, so it counts as an attempt.
                conn.execute(update(Delivery).where(Delivery.id.in_(receipts[i:i + 500]),
                                                    Delivery.state.in_(("queued", "sent")))
                             .values(state="delivered", delivered_at=at,
                                     attempts=case((Delivery.attempts < 1, 1), else_=Delivery.attempts)))
