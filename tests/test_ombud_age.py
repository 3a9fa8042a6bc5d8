"""The age-13 cutoff for ombud (BR-PROXY-1, OSL 12 kap. 3 §) holds to the day: a guardian acts for a child the
day before the 13th birthday, and no longer on the birthday itself. Checked by moving the system's clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from support import app_tokens, problem, reset_keeping_faults

API = "/api/v1"
APP_UA = "1177-appen/3.2.0 (ios)"


def thirteenth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + 13)
    except ValueError:  # born on 29 February: the birthday is passed once 28 February is over
        return date(born.year + 13, 3, 1)


@pytest.fixture
def clock(http: httpx.Client) -> Iterator[Callable[[date], None]]:
    """Move the system's clock to noon (UTC) of a given day; the control API's reset brings it back."""

    def to_noon_of(day: date) -> None:
        now = datetime.fromisoformat(http.post("/_sut/clock/advance", json={"seconds": 0}).json()["now"])
        target = datetime.combine(day, time(12), tzinfo=UTC)
        assert target >= now, "the clock only moves forward"
        assert http.post("/_sut/clock/advance", json={"seconds": (target - now).total_seconds()}).status_code == 200

    yield to_noon_of
    reset_keeping_faults(http)


def inbox_as_ombud(http: httpx.Client, guardian: dict[str, Any], child_id: str) -> httpx.Response:
    # A fresh login at the moved clock: the earlier session has long passed its idle timeout.
    tokens = app_tokens(http, guardian["personnummer"])
    return http.get(f"{API}/inbox/messages", headers={"Authorization": f"Bearer {tokens['access_token']}",
                                                      "User-Agent": APP_UA, "X-Acting-For": child_id})


@pytest.mark.xdist_group("clock")
def test_ombud_ends_on_the_thirteenth_birthday(http: httpx.Client, clock: Callable[[date], None]) -> None:
    # A child whose 13th birthday is ten days after the system's date: a drawn age (2 to 12) could put the
    # birthday more than the clock's longest step away, and the test would then depend on the draw.
    today = datetime.fromisoformat(http.post("/_sut/clock/advance", json={"seconds": 0}).json()["now"]).date()
    soon = today + timedelta(days=10)
    born = soon.replace(year=soon.year - 13) if (soon.month, soon.day) != (2, 29) else date(soon.year - 13, 3, 1)
    seeded = http.post("/_sut/persons", json={"role": "guardian", "children": [born.isoformat()]})
    assert seeded.status_code == 201, seeded.text
    guardian = seeded.json()
    child = next(c for c in guardian["children"] if c["role"] == "child-under-13")
    birthday = thirteenth_birthday(date.fromisoformat(child["birth_date"]))

    clock(birthday - timedelta(days=1))
    day_before = inbox_as_ombud(http, guardian, child["id"])
    assert day_before.status_code == 200, day_before.text
    assert day_before.json()["messages"], "the child's inbox, read as ombud"

    clock(birthday)
    problem(inbox_as_ombud(http, guardian, child["id"]), 403, "urn:1177:problem:not-ombud")
