"""Staff bulk send (BR-STAFF-1): one call notifies many patients, answered at once with a job id."""

from __future__ import annotations

from fastapi import APIRouter

from ..context import Context


def create_bulk_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    return router
