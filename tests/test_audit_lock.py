"""Appending to the audit chain never deadlocks against a caller that has written already (sut/audit.py).

A seed that writes records and then appends log lines holds SQLite's write lock while it waits for the chain's
lock; an appender that took the chain's lock first and then waited for the write lock deadlocked with it until
the busy timeout, and one of them failed with "database is locked" (seen as a 500 from POST /_sut/persons).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sut import audit
from sut.db import AuditRecord, Base, Region, make_engine


def test_an_appender_waits_for_a_writer_without_holding_the_chain(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(engine)
    failures: list[BaseException] = []

    def append_elsewhere() -> None:
        with Session(engine) as other:
            try:
                audit.record(other, actor_kind="person", actor_id="b", subject_id="b", role="self",
                             action="inbox.list", resource_type="message")
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

    with Session(engine) as writer:
        writer.add(Region(code="99", name="Testregion", joined=True, video_mode="inera"))
        writer.flush()  # this session now holds SQLite's write lock, as a seed does before its log lines
        other = threading.Thread(target=append_elsewhere)
        other.start()
        time.sleep(0.5)  # lets the other appender reach its wait first, as in the deadlock seen (not a timing check)
        audit.record(writer, actor_kind="staff", actor_id="a", subject_id="a", role="staff", action="message.read",
                     resource_type="message")
        other.join(timeout=60)
    assert not other.is_alive() and failures == []
    with Session(engine) as check:
        assert len(check.scalars(select(AuditRecord)).all()) == 2
        assert audit.verify_chain(check) is None
    engine.dispose()
