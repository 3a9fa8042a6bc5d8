"""The compliance layer's library (suites/compliance), free of pytest: which operations of an OpenAPI document read
patient data, the stored audit log, and what a notification may carry.

- A schema holds patient data when the layer's map says so (``patient_data.yaml``); an operation reads patient data
  when its success answer reaches such a schema through ``$ref``, arrays and nested objects. Every schema of the
  documents must be in the map, so a new schema (and the operation that returns it) cannot slip past the audit check
  (BR-AUDIT-1, PdL 4 kap. 3 §).
- ``AuditLog`` reads the audit records as the system stored them (the embedded target's control API).
- ``content_findings`` judges what a push, SMS or e-mail gateway received: apart from the address it was sent to,
  every text is one of the system's fixed texts or an opaque reference, and no personnummer appears anywhere
  (BR-NOTIF-3, GDPR art. 5.1 c, 32).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from .masking import PNR_MASK, mask

READ_METHODS = ("get",)  # safe methods: what reads; writes are judged by their own rules


class ComplianceDataError(ValueError):
    """A data file of the compliance layer that cannot be used; the message names the file."""


@dataclass(frozen=True)
class PatientDataMap:
    """Schema names that hold patient data and those that do not (suites/compliance/patient_data.yaml)."""

    patient_data: frozenset[str]
    not_patient_data: frozenset[str]
    file: str = ""

    def unclassified(self, document: dict[str, Any]) -> list[str]:
        """Schemas of the document that the map does not classify (a new schema must be classified first)."""
        names = document.get("components", {}).get("schemas", {})
        return sorted(set(names) - self.patient_data - self.not_patient_data)

    def reached(self, document: dict[str, Any], schema: Any) -> set[str]:
        """The names of the component schemas a schema reaches, itself included if it is a reference."""
        found: set[str] = set()
        components = document.get("components", {}).get("schemas", {})

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                    name = ref.rsplit("/", 1)[1]
                    if name not in found:
                        found.add(name)
                        walk(components.get(name))
                for key, value in node.items():
                    if key != "$ref":
                        walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(schema)
        return found

    def patient_data_of(self, document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
        """The patient-data schemas an operation's success answers reach (empty: it returns no patient data)."""
        reached: set[str] = set()
        for status, response in operation.get("responses", {}).items():
            if str(status).startswith("2"):
                reached |= self.reached(document, response.get("content", {}))
        return reached & self.patient_data


def load_patient_data_map(path: Path) -> PatientDataMap:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ComplianceDataError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"patient_data", "not_patient_data"}:
        raise ComplianceDataError(f"{path.name}: expected exactly the lists 'patient_data' and 'not_patient_data'")
    lists = {key: data[key] for key in ("patient_data", "not_patient_data")}
    for key, names in lists.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ComplianceDataError(f"{path.name}: {key!r} must be a list of schema names")
    both = set(lists["patient_data"]) & set(lists["not_patient_data"])
    if both:
        raise ComplianceDataError(f"{path.name}: classified both ways: {', '.join(sorted(both))}")
    return PatientDataMap(frozenset(lists["patient_data"]), frozenset(lists["not_patient_data"]), path.name)


@dataclass(frozen=True)
class ReadOperation:
    api: str
    method: str
    path: str
    operation_id: str
    parameters: tuple[str, ...]  # path parameters, in order
    acting_for: bool  # declares X-Acting-For (BR-PROXY-1)
    patient_data: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.api} {self.method.upper()} {self.path} ({self.operation_id})"


def read_operations(api: str, document: dict[str, Any], data_map: PatientDataMap) -> list[ReadOperation]:
    """Every read operation of a document that returns patient data."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in READ_METHODS:
                continue
            reached = data_map.patient_data_of(document, operation)
            if not reached:
                continue
            params = operation.get("parameters", [])
            found.append(ReadOperation(
                api=api, method=method, path=path, operation_id=operation.get("operationId", f"{method} {path}"),
                parameters=tuple(p["name"] for p in params if p.get("in") == "path"),
                acting_for=any(p.get("in") == "header" and p["name"].lower() == "x-acting-for" for p in params),
                patient_data=frozenset(reached)))
    return found


# --- the audit log as stored -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditRecord:
    seq: int
    actor_kind: str
    actor_id: str
    subject_id: str
    role: str
    action: str
    resource_type: str
    resource_id: str | None
    care_unit_id: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditRecord:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})  # type: ignore[arg-type]

    def describe(self) -> str:
        return (f"#{self.seq} {self.action} {self.resource_type}/{self.resource_id or '-'} by {self.actor_kind} "
                f"{self.actor_id} as {self.role} about {self.subject_id}")


class AuditLog:
    """The system's stored audit log through its control API (``GET /_sut/audit/records``)."""

    def __init__(self, control_url: str, *, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=control_url, timeout=timeout)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def last_seq(self) -> int:
        response = self.http.get("/audit/records", params={"limit": 1})
        response.raise_for_status()
        return int(response.json()["last_seq"])

    def records(self, *, subject_id: str | None = None, actor_id: str | None = None,
                after_seq: int = 0) -> list[AuditRecord]:
        """Every record after ``after_seq`` about a subject or by an actor, oldest first."""
        found: list[AuditRecord] = []
        while True:
            params = {k: v for k, v in (("subject_id", subject_id), ("actor_id", actor_id)) if v}
            response = self.http.get("/audit/records", params={**params, "after_seq": after_seq, "limit": 1000})
            response.raise_for_status()
            page = [AuditRecord.from_json(r) for r in response.json()["records"]]
            found += page
            if len(page) < 1000:
                return found
            after_seq = page[-1].seq


# --- what a notification may carry -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContentPolicy:
    """What a gateway may receive besides the address: fixed texts, and opaque references by pattern."""

    fixed_texts: frozenset[str]
    opaque: tuple[re.Pattern[str], ...]
    address_keys: frozenset[str]  # where the address itself goes (a token, a phone number, an e-mail address)
    max_push_bytes: int


def load_content_policy(path: Path) -> ContentPolicy:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return ContentPolicy(fixed_texts=frozenset(data["fixed_texts"]),
                             opaque=tuple(re.compile(p) for p in data["opaque_patterns"]),
                             address_keys=frozenset(data["address_keys"]),
                             max_push_bytes=int(data["max_push_bytes"]))
    except (KeyError, TypeError, re.error) as exc:
        raise ComplianceDataError(f"{path.name}: {type(exc).__name__}: {exc}") from None


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string leaf of a JSON value with its path (keys too, as a payload may smuggle data in a key)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}/{key}#key", str(key)
            yield from _strings(item, f"{where}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}/{i}")
    elif isinstance(value, str):
        yield where, value


def content_findings(payload: Any, policy: ContentPolicy, *, known: Iterable[str] = ()) -> list[str]:
    """What in a received payload is not allowed: a personnummer anywhere, a known personal or health text
    (``known``: names, subjects, bodies the test wrote), or any text that is neither fixed nor opaque."""
    findings = []
    known = [k for k in known if k]
    for where, text in _strings(payload):
        if PNR_MASK in mask(text) and PNR_MASK not in text:
            findings.append(f"{where}: a personnummer")
        leaked = [k for k in known if k in text]
        if leaked:
            findings.append(f"{where}: holds {len(leaked)} known personal or health text(s)")
        if where.endswith("#key"):
            continue
        if where.rsplit("/", 1)[-1] in policy.address_keys:
            continue
        if text in policy.fixed_texts or any(p.fullmatch(text) for p in policy.opaque):
            continue
        findings.append(f"{where}: free text that is not one of the system's fixed texts: {text[:80]!r}")
    return findings
