"""Errors as RFC 9457 problem+json, never a stack trace and never a 500 for bad input (BR-SEC-1)."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from . import faults

log = logging.getLogger("sut")

PROBLEM_JSON = "application/problem+json"
NOT_FOR_OMBUD = "urn:1177:problem:not-for-ombud"  # X-Acting-For where the operation does not take it (BR-PROXY-1)
TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 409: "Conflict", 410: "Gone", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 426: "Upgrade Required",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json."""

    def __init__(self, status: int, detail: str, *, type_: str = "about:blank", title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str, *, type_: str = "about:blank", title: str | None = None,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title or TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors = []
    status = 422
    for err in exc.errors():
        kind = err.get("type", "")
        if kind in {"json_invalid", "json_type"}:
            status = 400
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        # The offending input is left out on purpose: it may be a personnummer or a token.
        errors.append({"field": loc or "body", "reason": kind, "message": err.get("msg", "")})
    detail = "The request body is not valid JSON." if status == 400 else "The request is not valid."
    return status, detail, errors


def allowed_methods(request: Request) -> str:
    """Every method the path supports, across all routes (Starlette names only the first matching route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
            if "GET" in route_methods:
                methods.add("HEAD")
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, type_=exc.type, title=exc.title,
                                instance=request.url.path, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_detail(exc)
        return problem_response(status, detail, instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            headers["Allow"] = allowed
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers or None)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # Raised by PostgreSQL, never by SQLite, for a value it cannot hold: text with a NUL character, or text
        # longer than its column. Bad input, so no 500 (BR-SEC-1); the value itself is not logged.
        log.warning("refused a value the database cannot hold (%s) on %s %s", type(exc.orig).__name__,
                    request.method, request.url.path)
        return problem_response(422, "The request holds a value that cannot be stored (such as a NUL character).",
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        extra: dict[str, Any] = {}
        if faults.active("stacktrace-leak"):
            extra["traceback"] = traceback.format_exception(exc)
        return problem_response(500, "An unexpected error occurred.", instance=request.url.path, **extra)


def document_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI side of the refusals every operation shares: 415 for a body in another media type, and 403 for
    ``X-Acting-For`` on an operation that does not take it (BR-PROXY-1)."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}
            if "requestBody" in operation:
                media = " or ".join(operation["requestBody"].get("content", {})) or "JSON"
                responses.setdefault("415", {"description": f"The body is not {media}", "content": problem})
            declared = any(p.get("in") == "header" and p.get("name", "").lower() == "x-acting-for"
                           for p in operation.get("parameters", []))
            if not declared:
                refused = responses.setdefault("403", {"description": "Not allowed", "content": problem})
                refused["description"] += (f"; X-Acting-For is refused here ({NOT_FOR_OMBUD}): this operation "
                                           "is not available as ombud")
    return schema
