"""The log extract (loggutdrag, BR-AUDIT-1) a page at a time, with filters for period, role and care unit, as plain
GET links and a GET form that work without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from support import app_tokens
from web_support import Page, WebUser, query_of

from sut import clock
from sut.webapp import dates

PAGE_SIZE = 25


def words(page: Page, testid: str) -> str:
    return " ".join(page.one(f'[data-testid="{testid}"]').text(separator=" ").split())


def reads(app: httpx.Client, count: int) -> None:
    """``count`` audited reads of the person's own data (one inbox list each, one care unit)."""
    for _ in range(count):
        assert app.get("/api/v1/inbox/messages").status_code == 200


def shown(page: Page) -> list[str]:
    return [row.attributes["data-action"] for row in page.testid("audit-row")]


def test_the_extract_comes_a_page_at_a_time_and_holds_still(new_client: Callable[..., Any],
                                                             web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    reads(app, 2 * PAGE_SIZE + 3)
    expected = ["audit.extract"] + [e["action"] for e in app.get("/api/v1/audit-extract").json()["entries"]]
    user = web_login(person)
    page = user.page("/audit-extract")
    total = len(expected)
    counted = page.one('[data-testid="audit-total"]')
    assert int(counted.attributes["data-count"]) == total
    assert words(page, "audit-total") == f"Visar 1–{PAGE_SIZE} av {total} händelser."
    assert not page.has("audit-previous")
    seen = shown(page)
    while page.has("audit-next"):
        href = page.one('[data-testid="audit-next"]').attributes["href"]
        page = user.page(href)
        assert page.has("audit-previous")
        first = len(seen) + 1
        seen += shown(page)
        # Each look at the extract is logged, yet the pages after the first show the records as they were.
        assert words(page, "audit-total") == f"Visar {first}–{len(seen)} av {total} händelser.", href
    assert seen == expected, "every record once, newest first, across the pages"
    assert len(seen) > 2 * PAGE_SIZE and query_of(href)["page"] == "3"
    back = user.page(page.one('[data-testid="audit-previous"]').attributes["href"])
    assert len(shown(back)) == PAGE_SIZE
    fresh = user.page("/audit-extract")  # a fresh look shows the looks since
    assert int(fresh.one('[data-testid="audit-total"]').attributes["data-count"]) == total + 4


def test_the_extract_filters_by_period_role_and_care_unit(new_client: Callable[..., Any],
                                                          web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    reads(app, PAGE_SIZE + 5)
    user = web_login(person)
    page = user.page("/audit-extract")
    total = int(page.one('[data-testid="audit-total"]').attributes["data-count"])
    units = [o.attributes["value"] for o in page.css('[data-testid="audit-unit"] option') if o.attributes["value"]]
    assert len(units) == 1, "the care units in this person's log"
    by_unit = user.page(f"/audit-extract?unit={units[0]}")
    assert total == PAGE_SIZE + 5
    assert int(by_unit.one('[data-testid="audit-total"]').attributes["data-count"]) == total, \
        "the reads, not the first look at the extract, which names no care unit"
    everything = user.page("/audit-extract")
    assert int(everything.one('[data-testid="audit-total"]').attributes["data-count"]) == total + 2
    assert "selected" in by_unit.one(f'[data-testid="audit-unit"] option[value="{units[0]}"]').attributes
    paged = query_of(by_unit.one('[data-testid="audit-next"]').attributes["href"])
    assert paged["unit"] == units[0] and paged["page"] == "2", "paging keeps the filter"
    assert "passar filtret" in words(by_unit, "audit-total") and by_unit.has("audit-filter-clear")

    assert user.page("/audit-extract?role=ombud").has("audit-list") is False
    assert words(user.page("/audit-extract?role=ombud"), "audit-total") == "Inga händelser passar filtret."
    assert set(r.attributes["data-role"] for r in user.page("/audit-extract?role=self").testid("audit-row")) == \
        {"self"}

    today = dates.today()
    same_day = user.page(f"/audit-extract?from={today}&to={today}")
    assert int(same_day.one('[data-testid="audit-total"]').attributes["data-count"]) > total
    tomorrow = (clock.now().astimezone(dates.SWEDEN) + timedelta(days=1)).date()
    assert not user.page(f"/audit-extract?from={tomorrow}").has("audit-row")
    assert not user.page(f"/audit-extract?to={today - timedelta(days=1)}").has("audit-row")
    assert user.page(f"/audit-extract?from={today}").one('[data-testid="audit-from"]').attributes["value"] == \
        today.isoformat()


def test_a_filter_that_makes_no_sense_is_said_and_dropped(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    user.page("/inbox")
    for query in ("from=igår", "to=2026-13-40", "from=2026-05-02&to=2026-05-01"):
        page = user.page(f"/audit-extract?{query}")
        error = page.one('[data-testid="audit-filter-error"]')
        assert error.attributes["role"] == "alert" and error.text(strip=True), query
        assert page.has("audit-row"), "the extract is still shown, unfiltered"
    for query in ("page=0", "page=-1", "page=x", "role=admin", "upto=abc", "page=999"):
        assert user.page(f"/audit-extract?{query}").has("audit-total"), query


def test_an_ombud_read_shows_up_under_the_role_ombud(new_web_user: Callable[..., WebUser], http: httpx.Client,
                                                     web_login: Callable[..., WebUser]) -> None:
    guardian = new_web_user("guardian")
    switch = guardian.page("/acting-for")
    child_id = switch.one('[data-testid="acting-for-child"]').attributes["value"]
    guardian.submit(switch, '[data-testid="acting-for-form"]', subject=child_id)
    guardian.page("/inbox")
    child = next(c for c in guardian.person["children"] if c["id"] == child_id)
    app_tokens(http, child["personnummer"])  # the child can log in (BR-ID-1): it reads its own extract
    page = web_login(child).page("/audit-extract?role=ombud")
    rows = page.testid("audit-row")
    assert rows and {r.attributes["data-role"] for r in rows} == {"ombud"}
    actor = f"{guardian.person['given_name']} {guardian.person['family_name']}"
    assert {r.css_first('[data-testid="audit-actor"]').text(strip=True) for r in rows} == {actor}
