"""What every part of the running system shares: settings, database, keys, limits."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import clock
from .config import Settings
from .db import unit_of_work
from .security import Keys


class RateLimiter:
    """A sliding one-minute window per key (BR-SEC-1: rate limits on login and sends)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one attempt; return the seconds to wait when over the limit, else None.

        The window runs on the system's clock, so a test that stops it sees exactly the limit, however slowly the
        machine answers, and a test that moves it forward sees the window pass."""
        now = clock.now().timestamp()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] > 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1.0, 60 - (now - hits[0]))
            hits.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    keys: Keys = field(default_factory=Keys)
    urls: dict[str, str] = field(default_factory=dict)  # filled in once the servers listen
    extras: dict[str, Any] = field(default_factory=dict)  # parts added by later components (push fan-out)
    login_limiter: RateLimiter = field(init=False)
    send_limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.login_limiter = RateLimiter(self.settings.login_rate_limit)
        self.send_limiter = RateLimiter(self.settings.send_rate_limit)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        with unit_of_work(self.sessions) as session:
            yield session
