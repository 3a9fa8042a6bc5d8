"""Versioned schema migrations (Alembic), run at start-up: the database is brought to this code's newest revision.

A model change comes with a revision in ``versions/``: Alembic's ``command.revision(alembic_config(connection),
message, autogenerate=True, rev_id="000N")`` on a connection to a database at the newest revision writes one, to be
read and corrected by hand. tests/test_migrations.py fails while the models and the revisions disagree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
INITIAL = "0001"  # the schema that create_all made before there were migrations
_PG_LOCK_KEY = 1177_0002  # one migrating process at a time on a shared PostgreSQL database

Tables = dict[str, set[str]]  # table name: its column names


class SchemaError(RuntimeError):
    """The database's schema is not one this version can use (a one-line message naming the revisions)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without alembic.ini: the scripts beside this file, run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def upgrade(engine: Engine) -> str:
    """Bring the database to this code's newest revision and return it; refuse a schema it cannot use."""
    script = scripts()
    head = script.get_current_head()
    known = {rev.revision for rev in script.walk_revisions()}
    with engine.begin() as conn:  # one transaction: on both engines a failed upgrade leaves the schema as it was
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        context = MigrationContext.configure(conn)
        current = context.get_current_heads()
        newer = [rev for rev in current if rev not in known]
        if newer:
            raise SchemaError(f"the database is at schema revision {', '.join(newer)}, which this version does not "
                              f"know (its newest is {head}): it was made by a newer version; start that version or "
                              f"use another database")
        if not current:
            _adopt(conn, context, script)
        if context.get_current_heads() != (head,):
            command.upgrade(alembic_config(conn), "head")
    return str(head)


def tables(conn: Connection) -> Tables:
    """The system's tables in a database and their columns (Alembic's own table left out)."""
    found = inspect(conn)
    return {name: {column["name"] for column in found.get_columns(name)}
            for name in found.get_table_names() if name != "alembic_version"}


def initial_tables() -> Tables:
    """The tables and columns of the initial revision, made in a throwaway in-memory database."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(conn), INITIAL)
            return tables(conn)
    finally:
        scratch.dispose()


def _adopt(conn: Connection, context: MigrationContext, script: ScriptDirectory) -> None:
    """A database without a revision: empty, or made by create_all before migrations existed. The latter is
    stamped at the initial revision when its tables are exactly that revision's, else refused: guessing what an
    unknown schema lacks could lose data."""
    found = tables(conn)
    if not found:  # the usual case, a fresh database: no need to make the initial revision's tables to compare
        return
    expected = initial_tables()
    present = {name: columns for name, columns in found.items() if name in expected}
    if not present:
        return
    problems = [f"no table {name}" for name in sorted(expected.keys() - present.keys())]
    for name, columns in sorted(present.items()):
        problems += [f"{name} lacks {column}" for column in sorted(expected[name] - columns)]
        problems += [f"{name} has an unknown column {column}" for column in sorted(columns - expected[name])]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SchemaError(f"the database has the system's tables but no schema revision, and they differ from "
                          f"revision {INITIAL} ({shown}): bring it to revision {INITIAL} by hand or use another "
                          f"database")
    context.stamp(script, INITIAL)
