"""/metrics in Prometheus text format: queue depth, sends by provider and outcome, latency histograms."""

from __future__ import annotations

from fastapi import APIRouter

from ..context import Context


def create_metrics_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    return router
