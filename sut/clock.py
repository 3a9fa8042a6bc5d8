"""A clock that tests can move forward, so session and ticket expiry are testable without sleeping.

It is one clock for the whole system, and it only ever moves forward: a test that moves it moves it for every
other test of the same system. Time tests therefore run on a system of their own (the API layer's private
target), where they may also stop the clock, so that a boundary (the 30-minute idle limit, a token's expiry)
is hit exactly, however slowly the machine answers. Age rules need no clock at all: a test seeds a birth date
counted from the system's own ``today``.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SWEDEN = ZoneInfo("Europe/Stockholm")

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None  # while set, time stands still at this instant


class ClockError(ValueError):
    """A request to move the clock backwards."""


def now() -> datetime:
    """The system's idea of 'now', always timezone-aware UTC."""
    frozen = _frozen
    return frozen if frozen is not None else datetime.now(UTC) + _offset


def today() -> date:
    """The date in Sweden: ages turn over at midnight Swedish time, not UTC (BR-PROXY-1: the 13th birthday)."""
    return now().astimezone(SWEDEN).date()


def advance(seconds: float) -> datetime:
    """Move the clock forward (test mode only: the control API is the one caller)."""
    global _offset, _frozen
    if seconds < 0:
        raise ClockError("the clock only moves forward")
    with _lock:
        if _frozen is not None:
            _frozen += timedelta(seconds=seconds)
        else:
            _offset += timedelta(seconds=seconds)
    return now()


def freeze(at: datetime | None = None) -> datetime:
    """Stop the clock, now or at a later instant ``at``; ``advance`` still moves it, by exactly what it is told."""
    global _frozen
    with _lock:
        current = now()
        at = as_utc(at) if at is not None else current
        if at < current:
            raise ClockError(f"the clock only moves forward: it is {current.isoformat()} already")
        _frozen = at
    return at


def thaw() -> datetime:
    """Let the clock run again from where it stands (never back to the real time: it only moves forward)."""
    global _offset, _frozen
    with _lock:
        if _frozen is not None:
            _offset = _frozen - datetime.now(UTC)
            _frozen = None
    return now()


def is_frozen() -> bool:
    return _frozen is not None


def offset() -> timedelta:
    """How far the system's clock is ahead of the real time."""
    return now() - datetime.now(UTC)


def reset() -> None:
    """Back to the real time, running (the control API's reset: the one way the clock goes back)."""
    global _offset, _frozen
    with _lock:
        _offset = timedelta(0)
        _frozen = None


def as_utc(value: datetime) -> datetime:
    """Everything we store is UTC: SQLite hands it back naive, PostgreSQL in its session's time zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
