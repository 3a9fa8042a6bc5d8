"""Clients of the fan-out's test surfaces: the fake gateways' inspection API and the /_sut/push control API.

For the project's own tests, the benchmark and the load layer: every check of a delivery goes through what the
fake gateway received, never through the fan-out's own word.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
GATEWAYS = ("apns", "fcm", "sms", "email")


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with its last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:g} s (last: {last!r})")
        time.sleep(interval)


def poll(fetch: Callable[[], T], until: Callable[[T], bool], *, timeout: float = 10.0, interval: float = 0.05,
         what: str = "condition") -> T:
    """Fetch until ``until(value)`` holds; return that value, or fail with the last one after ``timeout`` s."""
    box: list[T] = []

    def probe() -> bool:
        box[:] = [fetch()]
        return until(box[0])

    try:
        wait_for(probe, timeout=timeout, interval=interval, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{what}: not reached in {timeout:g} s (last: {box[0] if box else None!r})") from exc
    return box[0]


class GatewayInspector:
    """What the fake APNs, FCM, SMS and e-mail gateways received, and their fault knobs."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GatewayInspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        response.raise_for_status()
        return response.json()

    def summary(self, gateway: str) -> dict[str, Any]:
        return self._get(f"/{gateway}/summary")

    def device(self, gateway: str, token: str) -> dict[str, Any]:
        """Every request for one token (or phone number, or e-mail address), with counts and outcomes."""
        return self._get(f"/{gateway}/devices/{token}")

    def message(self, gateway: str, message_id: str) -> dict[str, Any]:
        return self._get(f"/{gateway}/messages/{message_id}")

    def deliveries(self, gateway: str, **filters: Any) -> list[dict[str, Any]]:
        return self._get(f"/{gateway}/deliveries", **filters)["deliveries"]

    def connections(self, gateway: str) -> dict[str, Any]:
        return self._get(f"/{gateway}/connections")

    def provider_tokens(self) -> list[dict[str, Any]]:
        return self._get("/apns/provider-tokens")["provider_tokens"]

    def ca_pem(self) -> str:
        response = self.http.get("/ca.pem")
        response.raise_for_status()
        return response.text

    def knobs(self, gateway: str) -> dict[str, Any]:
        return self._get(f"/{gateway}/knobs")

    def patch_knobs(self, gateway: str, **changes: Any) -> dict[str, Any]:
        response = self.http.patch(f"/{gateway}/knobs", json=changes)
        response.raise_for_status()
        return response.json()

    def put_knobs(self, gateway: str, knobs: dict[str, Any]) -> dict[str, Any]:
        response = self.http.put(f"/{gateway}/knobs", json=knobs)
        response.raise_for_status()
        return response.json()

    @contextmanager
    def knobs_set(self, gateway: str, **changes: Any) -> Iterator[dict[str, Any]]:
        """Fault knobs for the block, the earlier ones restored afterwards (also when the block fails)."""
        before = {k: v for k, v in self.knobs(gateway).items() if k != "remaining"}
        try:
            yield self.patch_knobs(gateway, **changes)
        finally:
            self.put_knobs(gateway, before)

    def reset(self, gateway: str | None = None) -> None:
        self.http.post(f"/{gateway}/reset" if gateway else "/reset").raise_for_status()

    def wait_device(self, gateway: str, token: str, *, requests: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        """The device's record once it holds at least ``requests`` requests."""
        return poll(lambda: self.device(gateway, token), lambda d: d["requests"] >= requests, timeout=timeout,
                    what=f"{requests} request(s) at {gateway} for {token[:8]}…")


class PushControl:
    """The test-mode control API of the fan-out (/_sut/push) on a client of the system's base URL."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"{response.request.method} {response.request.url.path}: "
                                 f"{response.status_code} {response.text[:300]}")
        return response.json()

    def add_devices(self, person_id: str, count: int = 1, platform: str = "ios", **settings: Any) -> list[dict]:
        body = {"person_id": person_id, "count": count, "platform": platform, **settings}
        return self._ok(self.http.post("/_sut/push/devices", json=body))["devices"]

    def set_setting(self, owner_id: str, subject_id: str | None = None, *, push: bool, sms: bool,
                    email: bool) -> dict[str, Any]:
        return self._ok(self.http.put("/_sut/push/settings", json={
            "owner_id": owner_id, "subject_id": subject_id, "push": push, "sms": sms, "email": email}))

    def device(self, device_id: str) -> dict[str, Any]:
        return self._ok(self.http.get(f"/_sut/push/devices/{device_id}"))

    def care_staff(self, patient_id: str) -> list[dict[str, Any]]:
        return self._ok(self.http.get(f"/_sut/push/care-staff/{patient_id}"))["staff"]

    def cohort(self, count: int, ios_share: float = 0.5) -> dict[str, Any]:
        return self._ok(self.http.post("/_sut/push/cohort", json={"count": count, "ios_share": ios_share}))

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        return self._ok(self.http.get("/_sut/push/deliveries", params=filters))["deliveries"]

    def settled(self, *, expected: int, timeout: float = 10.0, **filters: Any) -> list[dict[str, Any]]:
        """The deliveries matching ``filters`` once there are ``expected`` of them and none is still queued."""
        def probe() -> list[dict[str, Any]] | None:
            rows = self.deliveries(**filters)
            return rows if len(rows) >= expected and all(r["state"] != "queued" for r in rows) else None
        return wait_for(probe, timeout=timeout, what=f"{expected} settled deliveries for {filters}")

    def state(self) -> dict[str, Any]:
        return self._ok(self.http.get("/_sut/push/state"))

    def config(self, **values: Any) -> dict[str, Any]:
        return self._ok(self.http.put("/_sut/push/config", json=values))

    @contextmanager
    def config_set(self, **values: Any) -> Iterator[dict[str, Any]]:
        before = self.state()["config"]
        try:
            yield self.config(**values)
        finally:
            self.config(**{k: before[k] for k in values})

    def restart_worker(self) -> dict[str, Any]:
        return self._ok(self.http.post("/_sut/push/worker/restart"))
