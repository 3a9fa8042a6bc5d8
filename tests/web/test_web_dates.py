"""Dates read as a Swedish user reads them: in Swedish, in Stockholm time, "i dag" and "i går" next to today, and
a machine-readable <time> element behind each (BR-A11Y-1: WCAG 1.3.1; the pages are in Swedish, DOS-lagen)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from web_support import WebUser

from sut import clock
from sut.webapp import dates

ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
SWEDISH_DATE = re.compile(r"\d{1,2} (januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november"
                          r"|december) \d{4} kl\. \d{2}:\d{2}")


@pytest.mark.parametrize(("moment", "options", "shown"), [
    ("2026-11-29T04:05:58.056259+00:00", {}, "29 november 2026 kl. 05:05"),  # winter: UTC+1
    ("2026-07-01T10:00:00+00:00", {}, "1 juli 2026 kl. 12:00"),  # summer: UTC+2
    ("2026-03-29T00:30:00+00:00", {}, "29 mars 2026 kl. 01:30"),  # the night the clocks go forward
    ("2026-11-29T04:05:00+00:00", {"with_weekday": True}, "söndag 29 november 2026 kl. 05:05"),
    ("2026-11-29T04:05:00+00:00", {"with_weekday": True, "start": True}, "Söndag 29 november 2026 kl. 05:05"),
    ("2026-11-29T23:30:00+00:00", {"with_time": False}, "30 november 2026"),  # already the 30th in Stockholm
])
def test_a_moment_reads_in_swedish_in_stockholm_time(moment: str, options: dict, shown: str) -> None:
    assert dates.text(moment, relative=False, **options) == shown


def test_the_days_next_to_today_are_said_in_words() -> None:
    now = clock.now()
    assert dates.text(now).startswith("i dag kl. ")
    assert dates.text(now - timedelta(days=1), start=True).startswith("I går kl. ")
    assert dates.text(now + timedelta(days=1), with_weekday=True).startswith("i morgon kl. ")
    assert SWEDISH_DATE.fullmatch(dates.text(now - timedelta(days=3)))


def test_a_time_element_carries_the_moment_for_machines() -> None:
    element = str(dates.time_element(datetime(2026, 11, 29, 4, 5, 58, 56259, tzinfo=UTC), relative=False))
    assert element == '<time datetime="2026-11-29T04:05:58+00:00">29 november 2026 kl. 05:05</time>'
    assert str(dates.time_element(None)) == ""


def test_no_page_shows_a_timestamp_and_every_date_is_a_time_element(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    message_id = user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    user.page(f"/inbox/{message_id}")
    for path in ("/", "/inbox", f"/inbox/{message_id}", "/bookings", "/journal", "/audit-extract", "/video"):
        page = user.page(path)
        visible = page.one("body").text(separator=" ")
        assert not ISO_TIMESTAMP.search(visible), (path, ISO_TIMESTAMP.search(visible))
        times = page.css("main time")
        assert times, path
        for node in times:
            moment = datetime.fromisoformat(node.attributes["datetime"])
            assert moment.tzinfo is not None and moment.microsecond == 0, node.attributes
    newest = user.page("/inbox").testid("message-item")[0].css_first("time")
    assert newest.text(strip=True).startswith("i går kl. "), "the message of yesterday says so"


def test_a_downloaded_message_gives_its_date_in_full(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    message_id = user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    download = user.get(f"/inbox/{message_id}/download").text
    assert not ISO_TIMESTAMP.search(download)
    sent = next(line for line in download.splitlines() if line.startswith("Skickat: "))
    assert SWEDISH_DATE.fullmatch(sent.removeprefix("Skickat: ")), sent
