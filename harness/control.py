"""The embedded target's control API (/_sut) for the harness: seed persons with records, add care relations,
choose staff by relation, change persons after seeding, and read, stop and move the clock.

Free of pytest: fixtures/identities.py and the API layer use it; tests/ reach it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from .identities import Person, StaffChoice

RECORD_KINDS = ("messages", "bookings", "journal_entries", "audit_lines", "devices", "consents")


class ControlError(RuntimeError):
    """The control API refused a request the harness made (the message has its status and detail)."""


@dataclass(frozen=True)
class ClockState:
    now: datetime
    today: date
    frozen: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClockState:
        return cls(now=datetime.fromisoformat(data["now"]), today=date.fromisoformat(data["today"]),
                   frozen=bool(data["frozen"]))


def born_turning(years: int, on: date) -> date:
    """The latest birth date of someone who is ``years`` old on ``on``: born that day ``years`` years earlier,
    or, when ``on`` is 29 February and that year has none, on 28 February (a day later is still a year short)."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return date(on.year - years, 2, 28)


class ControlApi:
    """A client of one system's control API; ``close`` it, or use it as a context manager."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> ControlApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code != expect:
            detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else ""
            raise ControlError(f"{method} /_sut{path}: HTTP {response.status_code} {detail}".rstrip())
        return response.json()

    # --- persons ------------------------------------------------------------------------------------------------
    def seed_person(self, role: str = "adult", *, region: str | None = None, birth_date: date | None = None,
                    children: list[date] | None = None, care_unit: str | None = None, **records: int) -> Person:
        """A fresh person; ``records`` counts per kind (messages=60, audit_lines=60, ...), for each person seeded.
        ``care_unit="new"`` gives the person a care unit no one else's (its staff's unit-wide sends reach no other
        test's persons); a unit's id puts them in that unit (of their region)."""
        unknown = set(records) - set(RECORD_KINDS)
        if unknown:
            raise ValueError(f"unknown record kinds {sorted(unknown)}; kinds: {', '.join(RECORD_KINDS)}")
        body: dict[str, Any] = {"role": role, "records": records}
        if region is not None:
            body["region"] = region
        if birth_date is not None:
            body["birth_date"] = birth_date.isoformat()
        if children is not None:
            body["children"] = [born.isoformat() for born in children]
        if care_unit is not None:
            body["care_unit"] = care_unit
        return Person.from_control(self._call("POST", "/persons", 201, json=body))

    def add_care_relation(self, person: Person, *, region: str | None = None, care_unit: str | None = None,
                          messages: int = 1) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": messages}
        body.update({"region": region} if region is not None else {"care_unit": care_unit})
        return self._call("POST", f"/persons/{person.id}/care-relations", 201, json=body)

    def staff_for(self, person: Person) -> StaffChoice:
        return StaffChoice.from_control(self._call("GET", f"/persons/{person.id}/staff"))

    def change(self, person: Person, change: str, *, region: str | None = None,
               joined: bool | None = None) -> dict[str, Any]:
        """What the population register tells after seeding: deceased, moved, protected-identity, samordningsnummer."""
        body: dict[str, Any] = {"change": change}
        if region is not None:
            body["region"] = region
        if joined is not None:
            body["joined"] = joined
        return self._call("POST", f"/persons/{person.id}/changes", json=body)

    # --- clock --------------------------------------------------------------------------------------------------
    def clock(self) -> ClockState:
        return ClockState.from_json(self._call("GET", "/clock"))

    def freeze(self, at: datetime | None = None) -> ClockState:
        body: dict[str, Any] = {"frozen": True, **({"at": at.isoformat()} if at is not None else {})}
        return ClockState.from_json(self._call("PUT", "/clock", json=body))

    def advance(self, seconds: float) -> ClockState:
        return ClockState.from_json(self._call("POST", "/clock/advance", json={"seconds": seconds}))

    def advance_to(self, instant: datetime) -> ClockState:
        """Move a stopped clock to exactly ``instant`` (never back)."""
        state = self.clock()
        if not state.frozen:
            raise ControlError("move the clock to an instant only while it is stopped (freeze first)")
        return self.advance((instant - state.now).total_seconds())

    def reset(self) -> None:
        """The clock back to the real time and running, the start's faults, the rate limits."""
        self._call("POST", "/reset")

    def faults(self) -> list[str]:
        return list(self._call("GET", "/faults")["active"])

    # --- security: what only the system's own key or a defect could make ---------------------------------------
    def remint(self, token: str, *, set: dict[str, Any] | None = None, shift: dict[str, int] | None = None,
               drop: list[str] | None = None) -> str:
        """The access token signed again by the system's key with claims changed (a wrong audience, a time moved)."""
        body = {"token": token, "set": set or {}, "shift": shift or {}, "drop": drop or []}
        return str(self._call("POST", "/tokens/remint", json=body)["token"])

    def crash_next(self, path: str) -> None:
        """The next request to ``path`` raises an unexpected error inside the app."""
        self.http.post("/crash-next", json={"path": path}).raise_for_status()

    def set_faults(self, names: list[str]) -> None:
        self._call("PUT", "/faults", json={"active": sorted(names)})
