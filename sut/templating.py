"""One Jinja2 environment for every server-rendered page (web e-services and the identity provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import faults
from .auth import app_client

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)
env.globals["fault"] = faults.active


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; ``in_app`` tells templates to hide print and download (BR-REG-3)."""
    client = app_client(request.headers.get("user-agent"))
    html = env.get_template(template).render(request=request, in_app=client is not None, app_client=client,
                                             **context)
    return HTMLResponse(html, status_code=status)
