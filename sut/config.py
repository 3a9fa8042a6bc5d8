"""Settings of the reference system, from the command line and the environment (SUT_*)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from . import faults


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: a fresh SQLite file in data_dir
    data_dir: str | None = None  # None: a fresh temporary folder, removed at shutdown
    test_mode: bool = False  # the /_sut control API exists only in test mode
    faults: frozenset[str] = frozenset()
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    joined_regions: int = 17  # of 21 (BR-REG-1)
    seed: int = 1177  # makes the synthetic seed data reproducible
    min_app_version: dict[str, str] = field(default_factory=lambda: {"ios": "3.0.0", "android": "3.0.0"})
    access_token_ttl: int = 300  # seconds; BR-ID-2 "short-lived"
    refresh_token_ttl: int = 12 * 3600
    idle_timeout: int = 30 * 60  # BR-ID-2
    sso_ticket_ttl: int = 60  # BR-ID-3
    web_session_ttl: int = 30 * 60
    login_rate_limit: int = 20  # login attempts per minute per client address (BR-SEC-1)
    send_rate_limit: int = 600  # staff sends per minute per staff member (BR-SEC-1)
    max_body_bytes: int = 64 * 1024
    max_pending_web_logins: int = 10_000  # logins in progress at once: a flood of /login cannot grow without bound
    # push fan-out (sut/push)
    push_workers: int = 256  # concurrent sender tasks
    push_connections: int = 2  # HTTP/2 connections per provider, each with many streams
    push_batch_size: int = 500  # outbox events claimed per transaction
    push_send_timeout: float = 5.0  # seconds for one provider request
    apns_token_refresh: int = 40 * 60  # re-mint the APNs provider token after this (Apple: 20 to 60 minutes)
    gateway_knobs: str | None = None  # JSON {"apns": {...}, "fcm": {...}, "sms": ..., "email": ...} at start
    bulk_max_recipients: int = 100_000  # BR-STAFF-1

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment first, then explicit overrides (the command line)."""
        values: dict[str, object] = {}
        if url := os.environ.get("SUT_DATABASE_URL"):
            values["database_url"] = url
        if _env_flag("SUT_TEST_MODE"):
            values["test_mode"] = True
        if spec := os.environ.get("SUT_FAULTS"):
            values["faults"] = faults.parse(spec)
        if joined := os.environ.get("SUT_JOINED_REGIONS"):
            values["joined_regions"] = int(joined)
        if pending := os.environ.get("SUT_MAX_PENDING_WEB_LOGINS"):
            values["max_pending_web_logins"] = int(pending)
        if workers := os.environ.get("SUT_PUSH_WORKERS"):
            values["push_workers"] = int(workers)
        if knobs := os.environ.get("SUT_GATEWAY_KNOBS"):
            values["gateway_knobs"] = knobs
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if not 0 <= settings.joined_regions <= 21:
            raise ValueError("joined_regions must be between 0 and 21")
        if not 1 <= settings.push_workers <= 10_000 or not 1 <= settings.push_connections <= 64:
            raise ValueError("push workers must be 1 to 10000 and push connections 1 to 64")
        if not 20 * 60 <= settings.apns_token_refresh <= 60 * 60:
            raise ValueError("the APNs provider token must be renewed every 20 to 60 minutes")
        if settings.gateway_knobs and not isinstance(json.loads(settings.gateway_knobs), dict):
            raise ValueError("gateway knobs must be a JSON object")
        return settings
