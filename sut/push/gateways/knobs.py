"""Fault knobs of a fake gateway: latency, stalls, unregistered tokens, 429 bursts, 5xx, a stream limit.

Set at start (``python -m sut --gateway-knobs``) or at run time through the inspection API. Every knob but the
latency can be scoped to given tokens (or addresses), so one test's faults touch only its own devices.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Knob(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stall(_Knob):
    seconds: float = Field(0, ge=0, le=300, description="hold each matching answer this long")
    count: int | None = Field(None, ge=0, description="how many requests to stall; null: every one while set")
    tokens: list[str] | None = Field(None, description="only these tokens or addresses; null: all")


class Unregistered(_Knob):
    tokens: list[str] = Field(default_factory=list, description="answer 410 / UNREGISTERED for these")
    share: float = Field(0, ge=0, le=1, description="and for this share of all tokens (fixed per token)")


class Throttle(_Knob):
    count: int = Field(0, ge=0, description="the next N matching requests get 429")
    retry_after: int = Field(1, ge=0, le=3600, description="seconds, in the retry-after header")
    tokens: list[str] | None = None


class Errors(_Knob):
    rate: float = Field(0, ge=0, le=1, description="share of matching requests answered with status")
    count: int = Field(0, ge=0, description="the next N matching requests answered with status")
    status: Literal[500, 503] = 503
    tokens: list[str] | None = None


class KnobSet(_Knob):
    latency_ms: float = Field(0, ge=0, le=60_000, description="fixed latency added to every answer")
    latency_random_ms: float = Field(0, ge=0, le=60_000, description="plus a uniform random 0..N ms")
    stall: Stall = Field(default_factory=Stall)
    unregistered: Unregistered = Field(default_factory=Unregistered)
    throttle: Throttle = Field(default_factory=Throttle)
    errors: Errors = Field(default_factory=Errors)
    max_streams: int = Field(1000, ge=1, le=100_000, description="SETTINGS_MAX_CONCURRENT_STREAMS (HTTP/2 only)")
    receipts: bool = Field(True, description="send delivery reports to the backend's webhook")


@dataclass(slots=True)
class Decision:
    kind: str  # ok, unregistered, throttled, error
    status: int = 200
    retry_after: int = 0
    delay: float = 0.0


def _share_of(token: str) -> float:
    """A fixed number in [0, 1) per token, so a 'share' always picks the same tokens."""
    return int(hashlib.sha1(token.encode(), usedforsecurity=False).hexdigest()[:8], 16) / 2**32


class Knobs:
    def __init__(self, initial: KnobSet | None = None, rng: random.Random | None = None) -> None:
        self.initial = initial or KnobSet()
        self.rng = rng or random.Random()  # nosec B311 # fault knobs, not security
        self.model = self.initial
        self.set(self.initial)

    def set(self, model: KnobSet) -> None:
        self.model = model
        self.stall_left = model.stall.count
        self.throttle_left = model.throttle.count
        self.errors_left = model.errors.count
        self.unregistered = frozenset(model.unregistered.tokens)
        self._scopes = {name: (frozenset(getattr(model, name).tokens)
                               if getattr(model, name).tokens is not None else None)
                        for name in ("stall", "throttle", "errors")}

    def merge(self, changes: dict) -> KnobSet:
        """A knob set with ``changes`` applied over the current one (PATCH semantics, top-level keys)."""
        return KnobSet.model_validate({**self.model.model_dump(), **changes})

    def view(self) -> dict:
        return {**self.model.model_dump(), "remaining": {"stall": self.stall_left, "throttle": self.throttle_left,
                                                         "errors": self.errors_left}}

    def _matches(self, name: str, token: str) -> bool:
        scope = self._scopes[name]
        return scope is None or token in scope

    def is_unregistered(self, token: str) -> bool:
        share = self.model.unregistered.share
        return token in self.unregistered or (share > 0 and _share_of(token) < share)

    def decide(self, token: str) -> Decision:
        model = self.model
        delay = model.latency_ms / 1000
        if model.latency_random_ms:
            delay += self.rng.uniform(0, model.latency_random_ms) / 1000
        if model.stall.seconds and self._matches("stall", token) and (self.stall_left is None or self.stall_left > 0):
            delay += model.stall.seconds
            if self.stall_left is not None:
                self.stall_left -= 1
        if self.is_unregistered(token):
            return Decision("unregistered", 410, delay=delay)
        if self.throttle_left > 0 and self._matches("throttle", token):
            self.throttle_left -= 1
            return Decision("throttled", 429, retry_after=model.throttle.retry_after, delay=delay)
        if self._matches("errors", token):
            if self.errors_left > 0:
                self.errors_left -= 1
                return Decision("error", model.errors.status, delay=delay)
            if model.errors.rate and self.rng.random() < model.errors.rate:
                return Decision("error", model.errors.status, delay=delay)
        return Decision("ok", 200, delay=delay)
