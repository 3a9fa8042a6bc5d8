"""One Jinja2 environment for every server-rendered page (web e-services and the identity provider)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import clock, faults
from .auth import app_client
from .persons import login_choices

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)
env.globals["fault"] = faults.active
env.globals["test_persons"] = login_choices  # the login page's clickable test persons, in test mode only

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
          "november", "december")
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


try:
    from zoneinfo import ZoneInfo

    SWEDEN: Any = ZoneInfo("Europe/Stockholm")
except (ImportError, KeyError, OSError):  # a machine without a time zone database: standard time will do
    SWEDEN = timezone(timedelta(hours=1), "CET")


def _local(value: datetime) -> datetime:
    return clock.as_utc(value).astimezone(SWEDEN)


def swedish_date(value: datetime | str | None, with_time: bool = True, with_weekday: bool = False) -> str:
    """'3 mars 2026 kl. 14:05' (Språkrådet's style for dates and times); takes datetimes or ISO strings."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = _local(value)
    text = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    if with_weekday:
        text = f"{WEEKDAYS[local.weekday()].capitalize()} {text}"
    if with_time:
        text += f" kl. {local:%H:%M}"
    return text


def iso(value: datetime | str | None) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return clock.as_utc(value).isoformat() if value else ""


env.filters["datum"] = swedish_date
env.filters["iso"] = iso


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; ``in_app`` and ``show_print`` tell templates to hide print and download (BR-REG-3)."""
    client = app_client(request.headers.get("user-agent"))
    in_app = client is not None
    show_print = not in_app or faults.active("print-shown-in-app")
    html = env.get_template(template).render(request=request, in_app=in_app, app_client=client,
                                             show_print=show_print, **context)
    return HTMLResponse(html, status_code=status)
