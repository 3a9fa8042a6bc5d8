"""Test persons and staff as the harness sees them: seeded on the embedded target, configured elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .targets import PersonSpec, StaffSpec, Target


@dataclass(frozen=True)
class Person:
    id: str | None
    personnummer: str
    role: str
    given_name: str = ""
    family_name: str = ""
    birth_date: date | None = None
    region: str | None = None
    children: tuple[Person, ...] = field(default=(), repr=False)
    age_group: str | None = None  # for a guardian's children: under-13 or 13-17

    def __repr__(self) -> str:  # never the personnummer in a test id or an assertion message
        return f"Person(role={self.role!r}, id={self.id!r})"

    @classmethod
    def from_control(cls, data: dict[str, Any], *, age_group: str | None = None) -> Person:
        """From the control API's answer to ``POST /_sut/persons``."""
        today = date.today()
        children = []
        for child in data.get("children", []):
            born = date.fromisoformat(child["birth_date"])
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            children.append(cls.from_control(child, age_group="under-13" if age < 13 else "13-17"))
        return cls(id=data["id"], personnummer=data["personnummer"], role=data["role"],
                   given_name=data.get("given_name", ""), family_name=data.get("family_name", ""),
                   birth_date=date.fromisoformat(data["birth_date"]) if data.get("birth_date") else None,
                   region=data.get("region"), children=tuple(children), age_group=age_group)

    @classmethod
    def from_spec(cls, spec: PersonSpec, target: Target) -> Person:
        """From the target file (a real environment's configured test persons)."""
        children = tuple(cls(id=c.id, personnummer=target.resolve(c.personnummer), role=c.role,
                             age_group=c.age_group) for c in spec.children)
        return cls(id=spec.id, personnummer=target.resolve(spec.personnummer), role=spec.role, children=children)

    def child(self, age_group: str) -> Person:
        for child in self.children:
            if child.age_group == age_group:
                return child
        raise LookupError(f"{self!r} has no child in age group {age_group}")


@dataclass(frozen=True)
class StaffMember:
    hsa_id: str
    care_unit: str | None
    id: str | None = None
    name: str = ""

    @classmethod
    def from_control(cls, data: dict[str, Any]) -> StaffMember:
        return cls(hsa_id=data["hsa_id"], care_unit=data.get("care_unit"), id=data.get("id"),
                   name=data.get("name", ""))

    @classmethod
    def from_spec(cls, spec: StaffSpec, target: Target) -> StaffMember:
        return cls(hsa_id=target.resolve(spec.hsa_id), care_unit=spec.care_unit, name=spec.name)
