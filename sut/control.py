"""The test-only control API under /_sut: seed persons, reset, move the clock, list and switch faults.

It is mounted only in test mode; outside it every /_sut path answers 404 (a test proves it).
"""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from . import audit, clock, faults, problems
from .context import Context
from .db import Staff
from .persons import running_listing
from .push.control import create_push_control
from .seed import ROLES, new_person, person_view


class SeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal[ROLES]  # type: ignore[valid-type]


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class FaultsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: list[str]


def create_control(ctx: Context) -> FastAPI:
    app = FastAPI(title="1177 reference system: test control API", version="1", docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    problems.install(app)
    rng = random.Random(ctx.settings.seed + 1)

    @app.post("/persons", status_code=201)
    def seed_person(body: SeedRequest) -> dict:
        """A fresh person of the given role, with records; a guardian comes with two children."""
        with ctx.db() as db:
            seeded = new_person(db, body.role, rng)
            return {**person_view(seeded.person), "children": [person_view(c) for c in seeded.children]}

    @app.get("/persons")
    def list_persons() -> list[dict]:
        """The persons seeded at start (as printed and on the login page); those made by POST are its answers."""
        return [{**asdict(p), "written": p.written} for p in running_listing(ctx).persons]

    @app.get("/staff")
    def list_staff(care_unit: str | None = None) -> list[dict]:
        with ctx.db() as db:
            query = select(Staff).order_by(Staff.hsa_id)
            if care_unit:
                query = query.where(Staff.care_unit_id == care_unit)
            return [{"id": s.id, "hsa_id": s.hsa_id, "name": s.name, "care_unit": s.care_unit_id}
                    for s in db.scalars(query)]

    @app.get("/faults")
    def list_faults() -> dict:
        return {"active": sorted(faults.current()),
                "catalogue": [{"name": f.name, "component": f.component, "description": f.description,
                               "breaks": list(f.breaks)} for f in faults.CATALOGUE.values()]}

    @app.put("/faults")
    def set_faults(body: FaultsRequest) -> dict:
        try:
            active = faults.activate(body.active)
        except faults.UnknownFaultError as exc:
            raise problems.Problem(422, str(exc)) from exc
        return {"active": sorted(active)}

    @app.post("/clock/advance")
    def advance(body: ClockRequest) -> dict:
        return {"now": clock.advance(body.seconds).isoformat()}

    @app.post("/reset")
    def reset() -> dict:
        """Undo what tests change globally: the clock, the faults given at start, the rate limits."""
        clock.reset()
        faults.activate(ctx.settings.faults)
        ctx.login_limiter.reset()
        ctx.send_limiter.reset()
        return {"active": sorted(faults.current())}

    @app.get("/audit/verify")
    def audit_verify() -> dict:
        with ctx.db() as db:
            broken = audit.verify_chain(db)
        return {"intact": broken is None, "first_broken_seq": broken}

    app.include_router(create_push_control(ctx))  # /_sut/push: owned by the push fan-out
    return app
