"""The ASGI application: web e-services at /, the APIs and the identity provider mounted beneath it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from . import problems
from .apidocs import create_apidocs_router
from .context import Context
from .control import create_control
from .idp import create_idp
from .middleware import BodyLimit, HeadAsGet, SecurityHeaders
from .mobile import create_mobile_api
from .push.metrics import create_metrics_router
from .staff import create_staff_api
from .web import create_web_router
from .webapp.session import page_for_error

access_log = logging.getLogger("sut.access")
STATIC = Path(__file__).parent / "static"


class AccessLog:
    """Method, path and status only: query strings may carry codes, so they are never logged (BR-SEC-1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def capture(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            access_log.info("%s %s %s %.1fms", scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000)


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 reference system", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    problems.install(app)
    api_not_found = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _page_not_found(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser asking for a page that does not exist gets a Swedish HTML page, API clients problem+json."""
        if "text/html" in request.headers.get("accept", ""):
            return await page_for_error(request, problems.Problem(exc.status_code, str(exc.detail)))
        return await api_not_found(request, exc)

    app.include_router(create_apidocs_router(ctx))  # the API roots' index pages: before the mounts, to answer first
    app.mount("/api/v1", create_mobile_api(ctx))
    app.mount("/staff/v1", create_staff_api(ctx))
    app.mount("/idp", create_idp(ctx))
    if ctx.settings.test_mode:
        app.mount("/_sut", create_control(ctx))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for /favicon.ico whatever the page says; the logo is the icon (an SVG, as the pages'
        link rel=icon names it)."""
        return FileResponse(STATIC / "logo.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(create_metrics_router(ctx))
    app.include_router(create_web_router(ctx))
    app.add_middleware(BodyLimit, max_bytes=ctx.settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    app.add_middleware(AccessLog)
    return app
