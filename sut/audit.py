"""The audit log: append-only and hash-chained (BR-AUDIT-1, PDL 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §)."""

from __future__ import annotations

import hashlib
import json
import threading

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from . import clock
from .db import AuditRecord

GENESIS = "0" * 64
_lock = threading.Lock()  # one writer at a time keeps the chain linear
_PG_LOCK_KEY = 1177_0001  # the advisory lock of the audit chain's appender on PostgreSQL

_FIELDS = ("seq", "at", "actor_kind", "actor_id", "subject_id", "role", "action", "resource_type",
           "resource_id", "care_unit_id", "prev_hash")


def _hash(record: AuditRecord) -> str:
    data = {k: getattr(record, k) for k in _FIELDS}
    data["at"] = clock.as_utc(record.at).isoformat()
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record(db: Session, *, actor_kind: str, actor_id: str, subject_id: str, role: str, action: str,
           resource_type: str, resource_id: str | None = None, care_unit_id: str | None = None) -> None:
    """Append one record in its own short transaction, so a read is never served without its record."""
    if db.get_bind().dialect.name == "sqlite":
        # Take SQLite's write lock before the chain's lock: a caller that has written already (a seed, a settings
        # change) holds it, and waiting for the chain's lock while another appender waits for the write lock
        # deadlocked both until the 30 s busy timeout ("database is locked"). A no-op write starts the write
        # transaction; one writer at a time then holds both locks in the same order.
        db.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))
    with _lock:
        if db.get_bind().dialect.name == "postgresql":
            # Other processes may share a PostgreSQL database: one appender at a time across all of them too,
            # until this transaction commits (the lock is the transaction's).
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        last = db.execute(select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        entry = AuditRecord(seq=seq, at=clock.now(), actor_kind=actor_kind, actor_id=actor_id,
                            subject_id=subject_id, role=role, action=action, resource_type=resource_type,
                            resource_id=resource_id, care_unit_id=care_unit_id, prev_hash=prev, hash="")
        entry.hash = _hash(entry)
        db.add(entry)
        db.commit()


def verify_chain(db: Session) -> int | None:
    """The seq of the first record that breaks the chain, or None when the whole chain holds."""
    prev = GENESIS
    expected_seq = 1
    for entry in db.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
        if entry.seq != expected_seq or entry.prev_hash != prev or entry.hash != _hash(entry):
            return entry.seq
        prev = entry.hash
        expected_seq += 1
    return None
