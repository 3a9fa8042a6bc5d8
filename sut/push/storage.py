"""The fan-out's own connections to the system's database: a small pool of its own and a larger page cache.

The fan-out and the bulk writer touch every row of a 100,000-strong send through indexes keyed by random UUIDs;
with SQLite's default 2 MB page cache each such insert reads pages back from the OS. Their own engine gives them
a 32 MB cache without changing the connections the web requests use.

They also write their rows by the hundred through the driver's own executemany (``insert_rows``, ``update_rows``):
SQLAlchemy's executemany builds and converts a parameter dictionary per row in Python, about a tenth of the
backend's time in a 100,000-device send, while the statement here is made once per batch and each value is
converted by its column type's own bind processor, as SQLAlchemy would convert it, and only where the type has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection, Engine
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


def _marker(conn: Connection) -> str:
    """The driver's positional parameter marker."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"no positional parameter marker for paramstyle {style!r}")


def _converted(conn: Connection, table: Table, names: Sequence[str],
               rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """The rows with each value as the column type's bind processor makes it (SQLite keeps datetimes as text):
    only the columns whose type has one, each distinct value converted once (a batch shares its timestamps)."""
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(names):
        column_type = table.c[name].type
        processor = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if processor is not None:
            processors.append((i, processor))
    if not processors:
        return rows
    seen: dict[tuple[int, Any], Any] = {}
    out = []
    for row in rows:
        values = list(row)
        for i, processor in processors:
            value = values[i]
            if value is not None:
                key = (i, value)
                if key not in seen:
                    seen[key] = processor(value)
                values[i] = seen[key]
        out.append(tuple(values))
    return out


def insert_rows(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (tuples in the order of ``names``) into ``table`` with one executemany."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    marker = _marker(conn)
    columns, values = ", ".join(quote(n) for n in names), ", ".join([marker] * len(names))
    # The statement holds only the model's own names; every value is bound.
    sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({values})"  # noqa: S608 # nosec B608 # names only
    conn.exec_driver_sql(sql, list(_converted(conn, table, names, rows)))


def update_rows(conn: Connection, table: Table, assignments: Sequence[tuple[str, str]], key: str,
                rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE ``table`` once per row with one executemany: ``assignments`` are (column, SQL expression) pairs in
    which ``{}`` stands for the row's value (``COALESCE({}, sent_at)``); the last value of each row is ``key``'s."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    marker = _marker(conn)
    sets = ", ".join(f"{quote(column)} = {expression.format(marker)}" for column, expression in assignments)
    # The statement holds only the model's own names and the caller's fixed expressions; every value is bound.
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(key)} = {marker}"  # noqa: S608 # nosec B608 # names only
    conn.exec_driver_sql(sql, list(_converted(conn, table, [c for c, _ in assignments] + [key], rows)))
