"""The fan-out's driver-level executemany writes what the ORM would write: same values read back, same text form of
a datetime in SQLite (so comparisons in SQL still order correctly), and an outcome never downgrades a delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from sut.db import Delivery, OutboxEvent, init_db, make_engine, unit_of_work
from sut.push.fanout import DELIVERIES, DELIVERY_COLUMNS, OUTCOME_ASSIGNMENTS
from sut.push.storage import insert_rows, update_rows

AT = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 0, 1, 250000, tzinfo=UTC)


def test_rows_written_by_the_driver_read_back_as_the_orm_writes_them(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'push.db'}")
    sessions = init_db(engine)
    with unit_of_work(sessions) as db:
        db.add(OutboxEvent(kind="message.created", message_id="m1", patient_id="p1", created_at=AT,
                           state="done", idempotency_key="k1"))
        db.flush()
        outbox_id = db.scalar(select(OutboxEvent.id))
        db.add(Delivery(id="orm", outbox_id=outbox_id, message_id="m1", subject_id="p1", recipient_id="p1",
                        channel="apns", device_id="d0", address="t0", state="queued", attempts=0, enqueued_at=AT))
        insert_rows(db.connection(), DELIVERIES, DELIVERY_COLUMNS, [
            (key, outbox_id, None, "m1", "p1", "p1", "apns", f"d-{key}", f"t-{key}", "queued", 0, AT)
            for key in ("a", "b")])
    with unit_of_work(sessions) as db:
        stored = {row.id: row.enqueued_at for row in db.execute(text("SELECT id, enqueued_at FROM deliveries"))}
        assert stored["a"] == stored["b"] == stored["orm"], "the same text form as the ORM's"
        assert db.get(Delivery, "a").enqueued_at == AT.replace(tzinfo=None)
    with engine.begin() as conn:  # 'a' was reported delivered first; then its 'sent' outcome arrives
        conn.execute(text("UPDATE deliveries SET state = 'delivered', delivered_at = :at WHERE id = 'a'"),
                     {"at": LATER.replace(tzinfo=None).isoformat(" ")})
        update_rows(conn, DELIVERIES, OUTCOME_ASSIGNMENTS, "id", [
            ("sent", None, 1, LATER, "apns-a", None, None, "a"),
            ("queued", "apns 503", 1, None, None, LATER, None, "b")])
    with unit_of_work(sessions) as db:
        a, b = db.get(Delivery, "a"), db.get(Delivery, "b")
        assert (a.state, a.attempts, a.provider_id, a.sent_at) == ("delivered", 1, "apns-a", LATER.replace(tzinfo=None))
        assert a.delivered_at == LATER.replace(tzinfo=None), "an outcome never blanks a delivery report"
        assert (b.state, b.reason, b.next_attempt_at, b.sent_at) == ("queued", "apns 503", LATER.replace(tzinfo=None),
                                                                     None)
        assert db.scalars(select(Delivery.id).where(Delivery.next_attempt_at > AT)).all() == ["b"]
    engine.dispose()
