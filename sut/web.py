"""The web e-services: server-rendered, Swedish, mobile-first pages at /."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .context import Context
from .templating import render


def create_web_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def start(request: Request) -> Response:
        return render(request, "base.html")

    return router
