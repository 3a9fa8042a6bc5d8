"""Errors as RFC 9457 problem+json, never a stack trace and never a 500 for bad input (BR-SEC-1)."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import Depends, FastAPI, Request, params
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

STATUS_DETAILS = {
    400: "Begäran kunde inte hanteras.", 401: "Du behöver logga in.", 403: "Du har inte behörighet till det här.",
    404: "Det finns inget här.", 405: "Metoden stöds inte här.", 406: "Svaret kan inte ges i det format som begärs.",
    413: "Innehållet är för stort.", 415: "Innehållet har fel format.",
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


# Validation errors as a 1177 user reads them, one Swedish sentence per pydantic error type; the type itself
# stays in ``reason`` for machines. Placeholders come from the error's context.
MESSAGES = {
    "missing": "Uppgiften saknas.",
    "extra_forbidden": "Uppgiften är inte tillåten här.",
    "string_type": "Ska vara en text.",
    "bool_type": "Ska vara true eller false.",
    "int_type": "Ska vara ett heltal.",
    "int_parsing": "Ska vara ett heltal.",
    "int_from_float": "Ska vara ett heltal.",
    "float_type": "Ska vara ett tal.",
    "float_parsing": "Ska vara ett tal.",
    "string_too_short": "Ska vara minst {min_length} tecken.",
    "string_too_long": "Får vara högst {max_length} tecken.",
    "string_pattern_mismatch": "Har inte rätt format.",
    "literal_error": "Ska vara {expected}.",
    "enum": "Ska vara {expected}.",
    "model_type": "Ska vara ett JSON-objekt.",
    "model_attributes_type": "Ska vara ett JSON-objekt.",
    "dict_type": "Ska vara ett JSON-objekt.",
    "list_type": "Ska vara en lista.",
    "too_short": "Ska ha minst {min_length} värden.",
    "too_long": "Får ha högst {max_length} värden.",
    "greater_than": "Ska vara större än {gt}.",
    "greater_than_equal": "Ska vara minst {ge}.",
    "less_than": "Ska vara mindre än {lt}.",
    "less_than_equal": "Får vara högst {le}.",
    "uuid_type": "Ska vara ett UUID.",
    "uuid_parsing": "Ska vara ett UUID.",
    "datetime_type": "Ska vara en tidpunkt (ISO 8601).",
    "datetime_parsing": "Ska vara en tidpunkt (ISO 8601).",
    "union_tag_invalid": "Har inte en av de tillåtna formerna.",
    "union_tag_not_found": "Har inte en av de tillåtna formerna.",
}
SOMETHING_WRONG = "Värdet är inte giltigt."


def swedish(error: dict[str, Any]) -> str:
    """The Swedish message for one pydantic error; its own English text is never shown."""
    context = {k: str(v).replace(" or ", " eller ") for k, v in (error.get("ctx") or {}).items()}
    try:
        return MESSAGES.get(error.get("type", ""), SOMETHING_WRONG).format(**context)
    except (KeyError, IndexError):
        return SOMETHING_WRONG


def _json_position(exc: RequestValidationError, offset: Any) -> tuple[int, int]:
    """Line and column (from 1) of a JSON syntax error; FastAPI gives the character offset and the document."""
    document = exc.body if isinstance(exc.body, str) else ""
    offset = offset if isinstance(offset, int) else 0
    before = document[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _validation_detail(exc: RequestValidationError) -> tuple[int, str, dict[str, Any]]:
    errors = []
    for err in exc.errors():
        kind = err.get("type", "")
        loc = err.get("loc", ())
        if kind == "json_invalid":
            # A syntax error has a place in the text, not a field: say where (RFC 8259 text, lines from 1).
            line, column = _json_position(exc, loc[-1] if loc else 0)
            detail = f"Innehållet är inte giltig JSON: fel på rad {line}, kolumn {column}."
            return 400, detail, {"line": line, "column": column,
                                 "errors": [{"field": "body", "reason": kind, "message": detail}]}
        field = ".".join(str(p) for p in loc if p != "body")
        # The offending input is left out on purpose: it may be a personnummer or a token.
        errors.append({"field": field or "body", "reason": kind, "message": swedish(err)})
    return 422, "Uppgifterna i begäran är inte giltiga.", {"errors": errors}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_body_media_type(request: Request) -> None:
    """415 for a body in a media type the operation does not take (RFC 9110 15.5.16), before FastAPI would
    read it as something else and answer 422 about the fields."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    has_body = request.headers.get("content-length", "0") not in {"", "0"} or "transfer-encoding" in request.headers
    if body_field is None or not has_body:
        return
    media = _media_type(request)
    if isinstance(body_field.field_info, params.Form):
        accepted = media in {"application/x-www-form-urlencoded", "multipart/form-data"}
        wanted = "application/x-www-form-urlencoded"
    else:
        accepted = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
        wanted = "application/json"
    if not accepted:
        raise Problem(415, f"Innehållet ska skickas som {wanted}.")


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
    """Errors as problem+json for one application; call before its routes are added (the media type check
    joins every route)."""
    app.router.dependencies.append(Depends(require_body_media_type))

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, type_=exc.type, title=exc.title,
                                instance=request.url.path, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, extra = _validation_detail(exc)
        return problem_response(status, detail, instance=request.url.path, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if not detail or detail == TITLES.get(exc.status_code):  # Starlette's English reason phrase
            detail = STATUS_DETAILS.get(exc.status_code, "Begäran kunde inte hanteras.")
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
        return problem_response(422, "Begäran innehåller ett värde som inte kan sparas (till exempel ett NUL-tecken).",
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        extra: dict[str, Any] = {}
        if faults.active("stacktrace-leak"):
            extra["traceback"] = traceback.format_exception(exc)
        return problem_response(500, "Ett oväntat fel inträffade. Försök igen senare.", instance=request.url.path,
                                **extra)


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


class RequestedCrash(RuntimeError):
    """An unexpected error asked for through the control API (``POST /_sut/crash-next``, test mode only)."""


def crash_when_asked(request: Request) -> None:
    """A dependency of every API operation: raise once for a path the control API named, inside the app."""
    pending: set[str] = request.app.state.ctx.extras.get("crash_next", set())
    if request.url.path in pending:
        pending.discard(request.url.path)
        raise RequestedCrash("a crash asked for by the control API")
