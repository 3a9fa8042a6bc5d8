"""Retention of delivery records (BR-RETENTION-1, GDPR art. 5.1 e): a delivery row holds the address a notice went
to (a push token, a phone number, an e-mail address) and is needed only to send it exactly once and to answer
questions about it for a while. Thirty days after its message was sent it is deleted, with the outbox event behind
it; the message itself is a health record and is kept (PdL 3 kap. 17 §, Arkivlagen).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import clock, faults
from ..db import Delivery, OutboxEvent

RETENTION_DAYS = 30
RETENTION_INTERVAL_S = 3600.0  # how often the fan-out runs the job; the control API can run it at once
SETTLED = ("sent", "delivered", "failed", "pruned")  # a queued delivery is still work, whatever its age


def cutoff(now: datetime | None = None) -> datetime:
    """Outbox events created before this instant are past retention."""
    return (now or clock.now()) - timedelta(days=RETENTION_DAYS)


def purge(db: Session, now: datetime | None = None) -> dict[str, Any]:
    """Delete settled deliveries of events older than the retention period, and those events once empty."""
    before = cutoff(now)
    if faults.active("delivery-retention-skipped"):
        return {"deliveries": 0, "outbox_events": 0, "cutoff": before.isoformat()}
    old_events = select(OutboxEvent.id).where(OutboxEvent.created_at < before, OutboxEvent.state == "done")
    deliveries = db.execute(delete(Delivery).where(Delivery.outbox_id.in_(old_events), Delivery.state.in_(SETTLED))
                            .execution_options(synchronize_session=False)).rowcount or 0
    still_used = select(Delivery.outbox_id).where(Delivery.outbox_id.in_(old_events))
    events = db.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(old_events), OutboxEvent.id.not_in(still_used))
                        .execution_options(synchronize_session=False)).rowcount or 0
    return {"deliveries": deliveries, "outbox_events": events, "cutoff": before.isoformat()}
