"""Alembic's environment: run on the connection the system hands over (sut.migrations), no alembic.ini."""

from __future__ import annotations

from alembic import context

from sut.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it: later revisions then work on both engines.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
