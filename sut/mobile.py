"""The mobile API /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI

from . import problems
from .context import Context


def create_mobile_api(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 mobile API", version="1.0.0", docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    problems.install(app)
    return app
