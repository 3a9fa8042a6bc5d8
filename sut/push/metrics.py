"""/metrics in Prometheus text format (queue depth, sends by provider and outcome, latency histograms), and the
webhook where the fake gateways report deliveries back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..context import Context
from ..db import BulkJob, Delivery, OutboxEvent
from ..problems import Problem

if TYPE_CHECKING:
    from .fanout import Fanout

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
disable_created_metrics()  # *_created series only add noise to a scrape
REPORT_MAX_AGE = 300  # seconds: an older signed report is refused (replay)


class _Depth(Collector):
    """Queue depths, read when scraped: the outbox and the deliveries in the database, the queues in memory."""

    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing to check at registration; the values need a running fan-out and a database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fanout = self.fanout
        yield GaugeMetricFamily("push_queue_depth", "Deliveries waiting in memory for a sender",
                                value=fanout.queue.qsize())
        yield GaugeMetricFamily("push_in_flight", "Provider requests awaiting an answer", value=fanout.inflight)
        yield GaugeMetricFamily("push_retry_waiting", "Deliveries waiting out a backoff or retry-after",
                                value=len(fanout.waiting))
        with fanout.ctx.db() as db:
            pending = db.scalar(select(func.count()).select_from(OutboxEvent)
                                .where(OutboxEvent.state == "pending")) or 0
            states = dict(db.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).tuples().all())
            running = db.scalar(select(func.count()).select_from(BulkJob).where(BulkJob.state == "running")) or 0
        yield GaugeMetricFamily("push_outbox_pending", "Outbox events not yet fanned out", value=pending)
        by_state = GaugeMetricFamily("push_deliveries", "Delivery rows by state", labels=["state"])
        for state in ("queued", "sent", "delivered", "failed", "pruned"):
            by_state.add_metric([state], states.get(state, 0))
        yield by_state
        yield GaugeMetricFamily("push_bulk_jobs_running", "Staff bulk sends still writing messages", value=running)


class PushMetrics:
    def __init__(self, fanout: Fanout) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._sends = Counter("push_sends", "Provider requests by provider and outcome", ["provider", "outcome"],
                              registry=r)
        self._send_seconds = Histogram("push_send_duration_seconds", "Provider request to answer", ["provider"],
                                       buckets=LATENCY_BUCKETS, registry=r)
        self._latency = Histogram("push_enqueue_to_gateway_seconds",
                                  "Delivery enqueued to accepted by the provider", ["provider"],
                                  buckets=LATENCY_BUCKETS, registry=r)
        self._finals = Counter("push_outcomes", "Deliveries finished, by channel and final state",
                               ["channel", "state"], registry=r)
        self._retries = Counter("push_retries", "Deliveries scheduled for another attempt", ["provider"], registry=r)
        self._pruned = Counter("push_tokens_pruned", "Device tokens deactivated on the provider's word",
                               ["provider"], registry=r)
        self._enqueued = Counter("push_enqueued", "Deliveries made from outbox events", registry=r)
        self._reports = Counter("push_delivery_reports", "Delivery reports received from the gateways",
                                registry=r)
        r.register(_Depth(fanout))
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def sent(self, provider: str, outcome: str, seconds: float) -> None:
        self._child(self._sends, provider, outcome).inc()
        self._child(self._send_seconds, provider).observe(seconds)

    def latency(self, provider: str, seconds: float) -> None:
        self._child(self._latency, provider).observe(seconds)

    def final(self, channel: str, state: str) -> None:
        self._child(self._finals, channel, state).inc()

    def retry(self, provider: str) -> None:
        self._child(self._retries, provider).inc()

    def pruned(self, provider: str) -> None:
        self._child(self._pruned, provider).inc()

    def enqueued(self, count: int) -> None:
        self._enqueued.inc(count)

    def reports(self, count: int) -> None:
        self._reports.inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics() -> Response:
        fanout = ctx.extras.get("push")
        body = fanout.metrics.render() if fanout is not None else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # The gateways' delivery reports live beside /metrics: both are the fan-out's own root-level endpoints.
    @router.post("/push/v1/delivery-reports", status_code=204)
    async def delivery_reports(request: Request) -> Response:
        fanout = ctx.extras.get("push")
        info = ctx.extras.get("push_gateways")
        if fanout is None or info is None:
            raise Problem(503, "The push fan-out is not running.")
        body = await request.body()
        stamp = request.headers.get("x-gateway-timestamp", "")
        expected = hmac.new(info.webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-gateway-signature", "")):
            raise Problem(401, "The report is not signed by a known gateway.")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > REPORT_MAX_AGE:
            raise Problem(401, "The report is too old.")
        try:
            reports = json.loads(body)["reports"]
            keys = [str(r["key"]) for r in reports]
        except (ValueError, KeyError, TypeError) as exc:
            raise Problem(400, "A report is a JSON object with a list of {gateway, key, at}.") from exc
        fanout.delivery_reports(keys)
        fanout.metrics.reports(len(keys))
        return Response(status_code=204)

    return router
