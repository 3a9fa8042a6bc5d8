"""Index pages for the API roots and a browsable API reference rendered on the server from the OpenAPI documents.

Every URL of the ready line answers something useful: an API root answers JSON to programs and a small page to
browsers. The reference is plain HTML from our own templates, so it works offline and under the strict CSP
(``script-src 'self'; style-src 'self'``: no script, no inline style, nothing from another host) and needs no
JavaScript at all. Descriptions are CommonMark, as OpenAPI 3 specifies, rendered without raw HTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from .context import Context
from .templating import env, render

REFERENCE = "/api-reference"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
UNTAGGED = "Övrigt"

# "js-default" escapes raw HTML in descriptions: a description is text from a document, never markup of our page.
_markdown = MarkdownIt("js-default")


def commonmark(text: str | None) -> Markup:
    return Markup(_markdown.render(text or ""))  # noqa: S704 - markdown-it escapes the HTML in its input # nosec B704 # markdown-it js-default escapes raw HTML


env.filters["commonmark"] = commonmark


@dataclass(frozen=True)
class Api:
    key: str
    root: str  # where the API is mounted
    title: str  # Swedish
    title_en: str
    pages: tuple[tuple[str, str], ...] = ()  # pages outside the OpenAPI document: (path, Swedish text)
    test_only: bool = False


APIS = (
    Api("mobile", "/api/v1", "Mobil-API:t", "Mobile API"),
    Api("staff", "/staff/v1", "Personal-API:t", "Staff API"),
    Api("idp", "/idp", "Identitetsleverantören", "Identity provider",
        pages=(("/idp/authorize", "Inloggningssidan för webben (BankID och Freja eID+, simulerade)"),)),
    Api("control", "/_sut", "Testkontroll-API:t", "Test control API", test_only=True),
)


def _served(ctx: Context) -> list[Api]:
    return [api for api in APIS if ctx.settings.test_mode or not api.test_only]


def _mounted(request: Request, api: Api) -> FastAPI | None:
    for route in request.app.router.routes:
        if isinstance(route, Mount) and route.path == api.root and isinstance(route.app, FastAPI):
            return route.app
    return None


def _document(request: Request, api: Api) -> tuple[dict[str, Any], str | None]:
    """The API's OpenAPI document and the URL path it is served at (None if it is not served)."""
    app = _mounted(request, api)
    if app is None:
        raise HTTPException(404, "Not Found")
    return app.openapi(), (api.root + app.openapi_url if app.openapi_url else None)


def _operations(document: dict[str, Any], root: str) -> list[dict[str, Any]]:
    found = []
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if (operation := item.get(method)) is not None:
                found.append({**operation, "method": method.upper(), "path": root + path,
                              "parameters": [*shared, *operation.get("parameters", [])],
                              "anchor": operation.get("operationId") or f"{method}-{root}{path}"})
    return found


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def _index(request: Request, api: Api) -> Response:
    document, openapi = _document(request, api)
    operations = _operations(document, api.root)
    reference = f"{REFERENCE}/{api.key}"
    if _wants_html(request):
        return render(request, "api_index.html", api=api, document=document, operations=operations,
                      openapi=openapi, reference=reference)
    return JSONResponse({
        "name": api.title_en, "title": document.get("info", {}).get("title"),
        "version": document.get("info", {}).get("version"),
        "openapi": _absolute(request, openapi) if openapi else None, "reference": _absolute(request, reference),
        "pages": [{"url": _absolute(request, path), "description": text} for path, text in api.pages],
        "endpoints": [{"method": op["method"], "url": _absolute(request, op["path"]), "summary": op.get("summary")}
                      for op in operations],
    })


# --- the reference: every tag, operation, parameter, schema and example of a document ---

def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def schema_type(schema: dict[str, Any] | None) -> str:
    """A schema in a few words: 'string (date-time)', 'array of Message', 'integer | null'."""
    if not schema:
        return "valfritt"
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return (" & " if key == "allOf" else " | ").join(schema_type(part) for part in schema[key])
    kind = schema.get("type", "object" if "properties" in schema else "valfritt")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {schema_type(schema.get('items'))}"
    return f"{kind} ({schema['format']})" if "format" in schema else kind


CONSTRAINTS = (("enum", "ett av"), ("pattern", "mönster"), ("minLength", "minst tecken"),
               ("maxLength", "högst tecken"), ("minimum", "minst"), ("maximum", "högst"),
               ("exclusiveMinimum", "större än"), ("exclusiveMaximum", "mindre än"), ("minItems", "minst poster"),
               ("maxItems", "högst poster"), ("default", "standardvärde"), ("const", "alltid"))


def constraints(schema: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The schema's rules as (Swedish label, value) pairs, looking through one level of anyOf (nullable)."""
    if not schema:
        return []
    parts = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    found = []
    for part in parts:
        for key, label in CONSTRAINTS:
            if key in part:
                value = part[key]
                found.append((label, ", ".join(map(json.dumps, value)) if key == "enum" else json.dumps(value)))
    return found


def examples(holder: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Every example of a media type, parameter or schema: (title, JSON text)."""
    if not holder:
        return []
    found: list[tuple[str, str]] = []
    if "example" in holder:
        found.append(("Exempel", _json(holder["example"])))
    named = holder.get("examples")
    if isinstance(named, dict):
        for name, example in named.items():
            if isinstance(example, dict) and "value" in example:
                found.append((example.get("summary") or name, _json(example["value"])))
    elif isinstance(named, list):
        found.extend((f"Exempel {i}", _json(value)) for i, value in enumerate(named, start=1))
    return found


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def slug(name: str) -> str:
    """An element id from a tag name ('Inbox and messages' -> 'tag-inbox-and-messages')."""
    return "tag-" + "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


env.filters["schema_type"] = schema_type
env.filters["slug"] = slug
env.globals["constraints"] = constraints
env.globals["examples"] = examples
env.globals["ref_name"] = _ref_name


def _tags(document: dict[str, Any], operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The document's tags in its order, then tags only operations name; each with its operations."""
    tags = {tag["name"]: {**tag, "operations": []} for tag in document.get("tags", [])}
    for operation in operations:
        for name in operation.get("tags") or [UNTAGGED]:
            tags.setdefault(name, {"name": name, "operations": []})["operations"].append(operation)
    return list(tags.values())


def _reference(request: Request, api: Api) -> Response:
    document, openapi = _document(request, api)
    operations = _operations(document, api.root)
    components = document.get("components", {})
    return render(request, "api_reference.html", api=api, document=document, openapi=openapi,
                  tags=_tags(document, operations), schemas=components.get("schemas", {}),
                  security_schemes=components.get("securitySchemes", {}))


def create_apidocs_router(ctx: Context) -> APIRouter:
    """The API roots' index pages and the reference; included before the mounts, so they answer first."""
    router = APIRouter(include_in_schema=False)
    served = _served(ctx)
    by_key = {api.key: api for api in served}

    def index_of(api: Api) -> Callable[[Request], Response]:
        def index(request: Request) -> Response:
            return _index(request, api)
        return index

    for api in served:
        for path in (api.root, api.root + "/"):
            router.add_api_route(path, index_of(api), methods=["GET"], name=f"index-{api.key}")

    @router.get(REFERENCE)
    def reference_index(request: Request) -> Response:
        documents = [(api, *_document(request, api)) for api in served]
        return render(request, "api_reference_index.html", documents=documents)

    @router.get(REFERENCE + "/{key}")
    def reference(request: Request, key: str) -> Response:
        if key not in by_key:
            raise HTTPException(404, "Not Found")
        return _reference(request, by_key[key])

    return router
