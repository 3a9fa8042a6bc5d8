"""The inspection API of the fake gateways (JSON over HTTP): what each received, and its fault knobs.

Per gateway (apns, fcm, sms, email):
  GET  /{gw}/summary                    counts: requests, delivered, replays, duplicates, rejected, by status
  GET  /{gw}/deliveries?token=&key=&ref=&message_id=&outcome=&offset=&limit=
  GET  /{gw}/devices/{token}            one device (token or address): counts, timing, every request
  GET  /{gw}/messages/{message_id}      one message: counts per device, every request
  GET  /{gw}/timings                    CSV for benchmarks: key, outcome, receive time
  GET  /{gw}/records.csv                every request (rejected too): token, key, ref, status, receive/answer time
  GET  /{gw}/connections                HTTP/2 connections and their peak concurrent streams
  GET|PUT|PATCH /{gw}/knobs             fault knobs (PUT replaces, PATCH merges top-level keys)
  POST /{gw}/reset                      forget what was received; knobs back to their start values
And: GET / (the gateways' URLs), GET /ca.pem (the run's CA), POST /reset (all), GET /apns/provider-tokens,
GET /fcm/access-tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .h2server import H2Server
from .knobs import Knobs, KnobSet
from .store import Store


@dataclass
class Gateway:
    name: str
    url: str
    store: Store
    knobs: Knobs
    server: H2Server | None = None  # HTTP/2 gateways only

    def set_knobs(self, model: KnobSet) -> None:
        self.knobs.set(model)
        if self.server is not None and self.server.max_streams != model.max_streams:
            self.server.set_max_streams(model.max_streams)

    def reset(self) -> None:
        self.store.reset()
        self.set_knobs(self.knobs.initial)
        if self.server is not None:
            self.server.reset_stats()


def _int(request: Request, name: str, default: int, maximum: int = 1_000_000) -> int:
    try:
        return max(0, min(maximum, int(request.query_params.get(name, default))))
    except ValueError:
        return default


def create_inspect_app(gateways: dict[str, Gateway], ca_pem: str, extras: dict[str, Any]) -> Starlette:
    def gateway(request: Request) -> Gateway:
        name = request.path_params["gw"]
        if name not in gateways:
            raise LookupError(name)
        return gateways[name]

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"gateways": {n: g.url for n, g in gateways.items()}, "ca": "/ca.pem"})

    async def ca(request: Request) -> Response:
        return PlainTextResponse(ca_pem, media_type="application/x-pem-file")

    async def reset_all(request: Request) -> JSONResponse:
        for g in gateways.values():
            g.reset()
        return JSONResponse({"reset": sorted(gateways)})

    async def summary(request: Request) -> JSONResponse:
        g = gateway(request)
        return JSONResponse({**g.store.summary(), "url": g.url, "knobs": g.knobs.view()})

    async def deliveries(request: Request) -> JSONResponse:
        q = request.query_params
        rows = gateway(request).store.select(token=q.get("token"), key=q.get("key"), ref=q.get("ref"),
                                             message_id=q.get("message_id"), outcome=q.get("outcome"),
                                             offset=_int(request, "offset", 0), limit=_int(request, "limit", 1000))
        return JSONResponse({"deliveries": rows, "count": len(rows)})

    async def device(request: Request) -> JSONResponse:
        limit = _int(request, "limit", 1000)
        return JSONResponse(gateway(request).store.device(request.path_params["token"], limit))

    async def message(request: Request) -> JSONResponse:
        return JSONResponse(gateway(request).store.message(request.path_params["message_id"]))

    async def timings(request: Request) -> StreamingResponse:
        return StreamingResponse(gateway(request).store.timings_csv(), media_type="text/csv")

    async def records(request: Request) -> StreamingResponse:
        return StreamingResponse(gateway(request).store.records_csv(), media_type="text/csv")

    async def connections(request: Request) -> JSONResponse:
        g = gateway(request)
        stats = [s.view() for s in g.server.stats] if g.server else []
        return JSONResponse({"max_streams": g.server.max_streams if g.server else None, "connections": stats,
                             "peak_streams": max((s["peak_streams"] for s in stats), default=0)})

    async def knobs(request: Request) -> JSONResponse:
        g = gateway(request)
        if request.method in {"PUT", "PATCH"}:
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise TypeError("knobs must be a JSON object")
                model = KnobSet.model_validate(changes) if request.method == "PUT" else g.knobs.merge(changes)
            except (ValueError, TypeError, ValidationError) as exc:
                errors = exc.errors(include_input=False) if isinstance(exc, ValidationError) else str(exc)
                return JSONResponse({"error": "invalid knobs", "detail": errors}, status_code=422)
            g.set_knobs(model)
        return JSONResponse(g.knobs.view())

    async def reset(request: Request) -> JSONResponse:
        gateway(request).reset()
        return JSONResponse({"reset": [request.path_params["gw"]]})

    async def provider_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"provider_tokens": extras["apns"].provider_tokens})

    async def access_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"issued": extras["fcm"].tokens_issued})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "no such gateway or resource"}, status_code=404)

    routes = [
        Route("/", index), Route("/ca.pem", ca), Route("/reset", reset_all, methods=["POST"]),
        Route("/apns/provider-tokens", provider_tokens), Route("/fcm/access-tokens", access_tokens),
        Route("/{gw}/summary", summary), Route("/{gw}/deliveries", deliveries),
        Route("/{gw}/devices/{token:path}", device), Route("/{gw}/messages/{message_id}", message),
        Route("/{gw}/timings", timings), Route("/{gw}/records.csv", records), Route("/{gw}/connections", connections),
        Route("/{gw}/knobs", knobs, methods=["GET", "PUT", "PATCH"]), Route("/{gw}/reset", reset, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={LookupError: not_found})
