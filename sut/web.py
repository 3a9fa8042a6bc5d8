"""The web e-services: server-rendered, Swedish, mobile-first pages at / (see ``sut/webapp/``)."""

from __future__ import annotations

from fastapi import APIRouter

from .context import Context
from .webapp.auth import create_auth_router
from .webapp.pages import create_pages_router


def create_web_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(create_auth_router(ctx))
    router.include_router(create_pages_router(ctx))
    return router
