"""The staff API /staff/v1 (OpenAPI at /staff/v1/openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI

from . import problems
from .context import Context
from .push.bulk import create_bulk_router


def create_staff_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 staff API (personalverktyg)", version="1.0.0", docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    problems.install(app)
    app.include_router(create_bulk_router(ctx))  # owned by the push fan-out
    return app
