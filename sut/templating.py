"""One Jinja2 environment for every server-rendered page (web e-services and the identity provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import faults
from .auth import app_client
from .persons import login_choices
from .webapp import dates

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)
env.globals["fault"] = faults.active
env.globals["test_persons"] = login_choices  # the login page's clickable test persons, in test mode only

# Dates in Swedish, in Stockholm time, from CLDR (sut/webapp/dates.py): text, ISO, and a whole <time> element.
env.filters["datum"] = dates.text
env.filters["iso"] = dates.iso
env.filters["when"] = dates.time_element


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; ``in_app`` and ``show_print`` tell templates to hide print and download (BR-REG-3)."""
    client = app_client(request.headers.get("user-agent"))
    in_app = client is not None
    show_print = not in_app or faults.active("print-shown-in-app")
    html = env.get_template(template).render(request=request, in_app=in_app, app_client=client,
                                             show_print=show_print, **context)
    return HTMLResponse(html, status_code=status)
