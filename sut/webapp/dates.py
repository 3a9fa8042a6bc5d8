"""Dates and times as a Swedish user reads them: in Europe/Stockholm, in Swedish words from CLDR (through babel),
and in a ``<time>`` element whose ``datetime`` a machine can read (WCAG 1.3.1).

One style everywhere: CLDR's Swedish "29 november 2026 kl. 05:05", "söndag 29 november 2026" with the weekday,
and "i dag", "i går", "i morgon" for the days next to today.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale, localedata
from babel.dates import format_date, format_time
from markupsafe import Markup, escape

from .. import clock

LOCALE = Locale.parse("sv_SE")
SWEDEN = ZoneInfo("Europe/Stockholm")
# CLDR's words for yesterday, today and tomorrow ("i går", "i dag", "i morgon"); further days get their date.
RELATIVE_DAYS = {n: text for n, text in localedata.load("sv")["date_fields"]["day"]["relative"].items()
                 if abs(n) <= 1}
# CLDR's "date at time" pattern, "{1} 'kl'. {0}"; the quotes only mark a literal.
AT_TIME = LOCALE.datetime_formats_relative["long"].replace("'", "")


def as_datetime(value: datetime | str | None) -> datetime | None:
    """Datetimes pass; the ISO strings of the service layer are read; stored naive values count as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return clock.as_utc(value)


def local(value: datetime | str) -> datetime:
    moment = as_datetime(value)
    if moment is None:
        raise ValueError("no date to show")
    return moment.astimezone(SWEDEN)


def today() -> date:
    return clock.now().astimezone(SWEDEN).date()


def text(value: datetime | str | None, *, with_time: bool = True, with_weekday: bool = False,
         relative: bool = True, start: bool = False) -> str:
    """'29 november 2026 kl. 05:05'; 'i går kl. 16:30' next to today when ``relative``; ``start`` capitalises
    the first letter for the beginning of a heading or sentence."""
    if as_datetime(value) is None:
        return ""
    moment = local(value)  # type: ignore[arg-type]
    offset = (moment.date() - today()).days
    if relative and offset in RELATIVE_DAYS:
        day = RELATIVE_DAYS[offset]
    else:
        day = format_date(moment, "full" if with_weekday else "long", locale=LOCALE)
    result = AT_TIME.format(format_time(moment, "short", locale=LOCALE), day) if with_time else day
    return result[:1].upper() + result[1:] if start else result


def iso(value: datetime | str | None) -> str:
    """The machine-readable form, in UTC to the second (a valid HTML datetime string)."""
    moment = as_datetime(value)
    return moment.isoformat(timespec="seconds") if moment else ""


def time_element(value: datetime | str | None, **options: bool) -> Markup:
    """``<time datetime="2026-11-29T04:05:00+00:00">29 november 2026 kl. 05:05</time>``; empty for no value."""
    if as_datetime(value) is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(iso(value), escape(text(value, **options)))
