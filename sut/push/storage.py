"""The fan-out's own connections to the system's database: a small pool of its own and a larger page cache.

The fan-out and the bulk writer touch every row of a 100,000-strong send through indexes keyed by random UUIDs;
with SQLite's default 2 MB page cache each such insert reads pages back from the OS. Their own engine gives them
a 32 MB cache without changing the connections the web requests use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..context import Context
from ..db import make_engine, unit_of_work

CACHE_KIB = 32 * 1024


class PushDatabase:
    def __init__(self, ctx: Context) -> None:
        url = ctx.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self.own = not in_memory  # an in-memory database exists only behind the system's own engine
        self.engine: Engine = make_engine(url.render_as_string(hide_password=False)) if self.own else ctx.engine
        if self.own and url.get_backend_name() == "sqlite":
            @event.listens_for(self.engine, "connect")
            def _cache(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                cursor.close()
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A unit of work, as Context.db."""
        with unit_of_work(self.sessions) as session:
            yield session

    def dispose(self) -> None:
        if self.own:
            self.engine.dispose()
