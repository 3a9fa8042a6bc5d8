"""Versioned migrations on PostgreSQL, each scenario on a fresh database of its own in the throwaway cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import migration_checks as checks
import pytest
from sqlalchemy.engine import Engine

from sut.db import make_engine

pytestmark = pytest.mark.xdist_group("postgres")  # one cluster per worker: share the one test_postgres starts


@pytest.fixture
def engine(postgres_cluster: Any) -> Iterator[Engine]:
    """An engine on a fresh, empty database of the cluster, with the system's engine settings."""
    made = make_engine(postgres_cluster.create_database("migrate"))
    yield made
    made.dispose()


@pytest.mark.parametrize("scenario", checks.SCENARIOS, ids=checks.scenario_id)
def test_migration_scenario(engine: Engine, scenario: Callable[[Engine], None]) -> None:
    scenario(engine)
