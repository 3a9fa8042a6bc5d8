"""The migration scenarios, run on any engine: tests/test_migrations.py (SQLite) and tests/postgres (PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import Engine

from sut import migrations
from sut.db import Base, Region

NEWER = "f00dcafe"  # a revision no version of this code has


def head() -> str:
    return str(migrations.scripts().get_current_head())


def revision_of(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads()


def model_differences(engine: Engine, metadata: MetaData = Base.metadata) -> list[object]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def fresh_database_reaches_head_and_agrees_with_the_models(engine: Engine) -> None:
    assert migrations.upgrade(engine) == head()
    assert revision_of(engine) == (head(),)
    with engine.connect() as conn:
        assert migrations.tables(conn).keys() == Base.metadata.tables.keys()
    assert model_differences(engine) == [], "a model change needs a revision in sut/migrations/versions"


def older_revision_is_upgraded(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
        assert migrations.tables(conn) == {}
    assert revision_of(engine) == ()
    migrations.upgrade(engine)
    assert revision_of(engine) == (head(),)
    assert model_differences(engine) == []


def create_all_database_is_stamped_and_keeps_its_data(engine: Engine) -> None:
    Base.metadata.create_all(engine)  # how earlier versions made the schema, with no revision table
    with engine.begin() as conn:
        conn.execute(Region.__table__.insert().values(code="01", name="Region Stockholm", joined=True,
                                                      video_mode="inera"))
    migrations.upgrade(engine)
    assert revision_of(engine) == (head(),)
    with engine.connect() as conn:
        assert conn.execute(select(Region.name)).scalars().all() == ["Region Stockholm"]


def make_newer(engine: Engine) -> None:
    """A database as a newer version of the code would leave it."""
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": NEWER})


def newer_revision_is_refused_and_left_alone(engine: Engine) -> None:
    make_newer(engine)
    with pytest.raises(migrations.SchemaError) as refused:
        migrations.upgrade(engine)
    message = str(refused.value)
    assert "\n" not in message and NEWER in message and f"newest is {head()}" in message
    assert revision_of(engine) == (NEWER,)


# Every engine runs these; pass as @pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id).
SCENARIOS = [fresh_database_reaches_head_and_agrees_with_the_models, older_revision_is_upgraded,
             create_all_database_is_stamped_and_keeps_its_data, newer_revision_is_refused_and_left_alone]


def scenario_id(scenario: object) -> str:
    return getattr(scenario, "__name__", str(scenario))
