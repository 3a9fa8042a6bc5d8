"""Versioned migrations on SQLite: a fresh, an older and a pre-migration database are brought to this version's
schema; a newer one is refused at start; the models and the revisions never disagree."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import migration_checks as checks
import pytest
from sqlalchemy import Column, MetaData, String, Table, select, text
from sqlalchemy.engine import Engine

from sut import migrations
from sut.db import Base, Region, init_db, make_engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file of its own, with the system's engine settings."""
    made = make_engine(f"sqlite:///{tmp_path / 'sut.sqlite3'}")
    yield made
    made.dispose()


@pytest.mark.parametrize("scenario", checks.SCENARIOS, ids=checks.scenario_id)
def test_migration_scenario(engine: Engine, scenario: Callable[[Engine], None]) -> None:
    scenario(engine)


def test_the_agreement_check_sees_a_model_change_without_a_revision(engine: Engine) -> None:
    migrations.upgrade(engine)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["persons"].append_column(Column("nickname", String(40)))
    Table("notes", changed, Column("id", String(36), primary_key=True))
    # Alembic's diff tuples: ("add_column", schema, table, column) and ("add_table", table).
    found = {(diff[0], diff[3].name if diff[0] == "add_column" else diff[1].name)  # type: ignore[index]
             for diff in checks.model_differences(engine, changed)}
    assert found == {("add_column", "nickname"), ("add_table", "notes")}


def test_start_up_upgrades_an_emptied_database_to_usable_tables(engine: Engine) -> None:
    checks.older_revision_is_upgraded(engine)
    sessions = init_db(engine)  # what start-up does, on a database now at the newest revision
    with sessions() as db:
        assert db.scalars(select(Region)).all() == []


def test_database_from_an_even_older_create_all_is_refused(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE app_sessions DROP COLUMN origin_session_id"))
    with pytest.raises(migrations.SchemaError) as refused:
        migrations.upgrade(engine)
    message = str(refused.value)
    assert "\n" not in message and migrations.INITIAL in message
    assert "app_sessions lacks origin_session_id" in message
    assert checks.revision_of(engine) == ()  # nothing was stamped


def test_tables_of_another_application_are_left_alone(engine: Engine) -> None:
    """A database shared with something else (PostgreSQL, say) holds no table of ours: it counts as fresh."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE other_application (id INTEGER PRIMARY KEY)"))
    assert migrations.upgrade(engine) == checks.head()
    with engine.connect() as conn:
        assert migrations.tables(conn).keys() == {*Base.metadata.tables, "other_application"}


def test_start_on_a_newer_database_exits_with_one_line_naming_both_revisions(engine: Engine, tmp_path: Path) -> None:
    checks.make_newer(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUT_")}
    result = subprocess.run([sys.executable, "-m", "sut", "--database-url", str(engine.url),  # noqa: S603
                             "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert checks.NEWER in lines[0] and f"newest is {checks.head()}" in lines[0]
