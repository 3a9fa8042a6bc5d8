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
    care_unit: str | None = None  # the person's own care unit, where the embedded target seeded their records
    # The seeded records that are this person's (kind -> [{"id", "care_unit", ...}]): the oracle of ownership.
    records: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # never the personnummer in a test id or an assertion message
        return f"Person(role={self.role!r}, id={self.id!r})"

    @classmethod
    def from_control(cls, data: dict[str, Any], *, age_group: str | None = None) -> Person:
        """From the control API's answer to ``POST /_sut/persons``: a child's age group by the system's date when
        the answer gives it (ages count from the system's clock, not this machine's)."""
        today = date.fromisoformat(data["today"]) if data.get("today") else date.today()
        children = []
        for child in data.get("children", []):
            born = date.fromisoformat(child["birth_date"])
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            children.append(cls.from_control(child, age_group="under-13" if age < 13 else "13-17"))
        records = {kind: tuple(rows) for kind, rows in data.get("records", {}).items()}
        return cls(id=data["id"], personnummer=data["personnummer"], role=data["role"],
                   given_name=data.get("given_name", ""), family_name=data.get("family_name", ""),
                   birth_date=date.fromisoformat(data["birth_date"]) if data.get("birth_date") else None,
                   region=data.get("region"), children=tuple(children), age_group=age_group,
                   care_unit=data.get("care_unit"), records=records)

    def record_ids(self, kind: str) -> set[str]:
        """The ids of this person's seeded records of a kind (messages, bookings, journal_entries, ...)."""
        return {row["id"] for row in self.records.get(kind, ())}

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
    region: str | None = None

    @classmethod
    def from_control(cls, data: dict[str, Any]) -> StaffMember:
        return cls(hsa_id=data["hsa_id"], care_unit=data.get("care_unit"), id=data.get("id"),
                   name=data.get("name", ""), region=data.get("region"))

    @classmethod
    def from_spec(cls, spec: StaffSpec, target: Target) -> StaffMember:
        return cls(hsa_id=target.resolve(spec.hsa_id), care_unit=spec.care_unit, name=spec.name)


# How a staff member's care unit stands to a patient: the relations a test chooses staff by (BR-STAFF-1).
STAFF_RELATIONS = ("own-unit", "same-region-other-unit", "other-region-unit", "related-other-region")


@dataclass(frozen=True)
class StaffChoice:
    """Staff chosen for one patient by relation, as ``GET /_sut/persons/{id}/staff`` answers."""

    patient_id: str
    own_unit: StaffMember | None
    same_region_other_unit: StaffMember | None
    other_region_unit: StaffMember | None
    related_other_region: tuple[StaffMember, ...] = ()

    @classmethod
    def from_control(cls, data: dict[str, Any]) -> StaffChoice:
        def one(key: str) -> StaffMember | None:
            return StaffMember.from_control(data[key]) if data.get(key) else None

        return cls(patient_id=data["patient_id"], own_unit=one("own_unit"),
                   same_region_other_unit=one("same_region_other_unit"), other_region_unit=one("other_region_unit"),
                   related_other_region=tuple(StaffMember.from_control(s) for s in data["related_other_region"]))

    def get(self, relation: str) -> StaffMember:
        """The staff member of a relation (STAFF_RELATIONS); a LookupError when the seed has none."""
        if relation not in STAFF_RELATIONS:
            raise ValueError(f"unknown relation {relation!r}; relations: {', '.join(STAFF_RELATIONS)}")
        found = (self.related_other_region[0] if self.related_other_region else None) \
            if relation == "related-other-region" else getattr(self, relation.replace("-", "_"))
        if found is None:
            raise LookupError(f"no staff member of relation {relation} for patient {self.patient_id}")
        return found
