"""Helpers shared by the project's own tests (importable from any test module below tests/)."""

from __future__ import annotations

import httpx


def reset_keeping_faults(http: httpx.Client) -> None:
    """Reset the clock and the rate limits through the control API, keeping the faults that are switched on."""
    active = http.get("/_sut/faults").json()["active"]
    assert http.post("/_sut/reset").status_code == 200
    assert http.put("/_sut/faults", json={"active": active}).status_code == 200


class FaultSwitch:
    """Faults are global to the running system: switch some on, then back to what was on before."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.before: list[str] = http.get("/_sut/faults").json()["active"]

    def on(self, *names: str) -> None:
        response = self.http.put("/_sut/faults", json={"active": sorted({*self.before, *names})})
        assert response.status_code == 200, response.text

    __call__ = on

    def off(self) -> None:
        assert self.http.put("/_sut/faults", json={"active": self.before}).status_code == 200

