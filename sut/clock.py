"""A clock that tests can move forward, so session and ticket expiry are testable without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """The system's idea of 'now', always timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def advance(seconds: float) -> datetime:
    """Move the clock forward (test mode only: the control API is the one caller)."""
    global _offset
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    with _lock:
        _offset += timedelta(seconds=seconds)
    return now()


def reset() -> None:
    global _offset
    with _lock:
        _offset = timedelta(0)


def as_utc(value: datetime) -> datetime:
    """Everything we store is UTC: SQLite hands it back naive, PostgreSQL in its session's time zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
