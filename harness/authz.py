"""The authorization matrix as data: roles x resources, each cell an expected outcome and its requirements.

The matrix lives in a YAML file (suites/api/authz_matrix.yaml); this module reads it, forges the bad tokens
(tampered, ``alg: none``) and judges a response against a cell's expected outcome. It knows nothing of pytest.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

OUTCOMES = ("allow", "deny", "own-only", "unauthenticated")
CALLERS = ("patient", "other-patient", "guardian", "staff-right-unit", "staff-other-unit")
SUBJECTS = ("patient", "child-under-13", "child-13-17")
TOKENS = ("valid", "none", "expired", "tampered", "alg-none")
EVIDENCE = ("message_id", "booking_id", "installation_id", "subject_id")


class MatrixError(ValueError):
    """The matrix file is inconsistent; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Role:
    name: str
    caller: str
    subject: str
    acting_for: bool = False
    token: str = "valid"  # noqa: S105 - which kind of token a role sends, not a secret
    description: str = ""

    @property
    def is_staff(self) -> bool:
        return self.caller.startswith("staff-")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Resource:
    name: str
    evidence: str
    mobile: Request | None = None
    staff: Request | None = None
    destructive: bool = False


@dataclass(frozen=True)
class Cell:
    role: Role
    resource: Resource
    expect: str
    requirements: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.role.name}-{self.resource.name}"

    def __str__(self) -> str:
        return self.id


@dataclass
class Matrix:
    roles: dict[str, Role]
    resources: dict[str, Resource]
    cells: list[Cell] = field(default_factory=list)


def _request(data: dict[str, Any] | None) -> Request | None:
    if data is None:
        return None
    return Request(method=data["method"].upper(), path=data["path"], json=data.get("json"))


def load_matrix(path: Path) -> Matrix:
    """Read and check the matrix: every role x every resource has exactly one cell."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name

    def fail(message: str) -> MatrixError:
        return MatrixError(f"{where}: {message}")

    roles = {}
    for name, spec in data["roles"].items():
        role = Role(name=name, caller=spec["caller"], subject=spec["subject"],
                    acting_for=bool(spec.get("acting_for", False)), token=spec.get("token", "valid"),
                    description=spec.get("description", ""))
        if role.caller not in CALLERS or role.subject not in SUBJECTS or role.token not in TOKENS:
            raise fail(f"role {name!r}: caller, subject or token not known")
        roles[name] = role
    resources = {}
    for name, spec in data["resources"].items():
        res = Resource(name=name, evidence=spec["evidence"], mobile=_request(spec.get("mobile")),
                       staff=_request(spec.get("staff")), destructive=bool(spec.get("destructive", False)))
        if res.evidence not in EVIDENCE:
            raise fail(f"resource {name!r}: evidence must be one of {', '.join(EVIDENCE)}")
        if res.mobile is None and res.staff is None:
            raise fail(f"resource {name!r}: needs a mobile or a staff request")
        resources[name] = res
    base_reqs = data.get("requirements", {})
    matrix = Matrix(roles=roles, resources=resources)
    for role_name, row in data["cells"].items():
        if role_name not in roles:
            raise fail(f"cells: unknown role {role_name!r}")
        missing = set(resources) - set(row)
        extra = set(row) - set(resources)
        if missing or extra:
            raise fail(f"cells.{role_name}: missing {sorted(missing)}, unknown {sorted(extra)}")
        for res_name, cell in row.items():
            spec = cell if isinstance(cell, dict) else {"expect": cell}
            if spec["expect"] not in OUTCOMES:
                raise fail(f"cells.{role_name}.{res_name}: expect must be one of {', '.join(OUTCOMES)}")
            reqs = tuple(dict.fromkeys([*base_reqs.get(res_name, []), *spec.get("req", [])]))
            if not reqs:
                raise fail(f"cells.{role_name}.{res_name}: names no requirement")
            matrix.cells.append(Cell(role=roles[role_name], resource=resources[res_name], expect=spec["expect"],
                                     requirements=reqs))
    missing_roles = set(roles) - set(data["cells"])
    if missing_roles:
        raise fail(f"cells: no row for role(s) {sorted(missing_roles)}")
    return matrix


# --- bad tokens --------------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tampered(token: str, **claims: Any) -> str:
    """The same header and signature over a changed payload (here: a later expiry, or other claims)."""
    header, payload, signature = token.split(".")
    body = json.loads(_unb64(payload))
    body.update(claims or {"exp": int(body.get("exp", 0)) + 3600})
    return f"{header}.{_b64(json.dumps(body, separators=(',', ':')).encode())}.{signature}"


def alg_none(token: str) -> str:
    """An unsigned token with the same claims: ``{"alg": "none"}`` and an empty signature."""
    _, payload, _ = token.split(".")
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    return f"{header}.{payload}."


# --- judging ------------------------------------------------------------------------------------------------------

def _contains(response: httpx.Response, value: str) -> bool:
    """Whether the answer carries ``value``; a problem's ``instance`` (the request path echoed) does not count."""
    if not value:
        return False
    text = response.text
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            body.pop("instance", None)
            text = json.dumps(body)
    return value in text


def judge(expect: str, response: httpx.Response, evidence: str) -> list[str]:
    """What is wrong with ``response`` for the expected outcome; empty when it is right.

    ``evidence`` is the subject's value (an id) that must appear when access is allowed and must not when not.
    """
    status = response.status_code
    problems: list[str] = []
    is_problem = response.headers.get("content-type", "").startswith("application/problem+json")
    if expect == "allow":
        if not 200 <= status < 300:
            problems.append(f"expected access (2xx), got HTTP {status}")
        elif not _contains(response, evidence):
            problems.append("expected the subject's resource in the answer, it is missing")
        return problems
    if _contains(response, evidence):
        problems.append(f"the subject's resource ({evidence[:8]}...) is in the answer: access was not refused")
    if expect == "own-only":
        if not 200 <= status < 300:
            problems.append(f"expected the caller's own data (2xx), got HTTP {status}")
    elif expect == "deny":
        if status not in (403, 404):
            problems.append(f"expected a refusal (403 or 404), got HTTP {status}")
        elif not is_problem:
            problems.append("the refusal is not problem+json (BR-SEC-1)")
    elif expect == "unauthenticated":
        if status != 401:
            problems.append(f"expected 401 for a missing or invalid token, got HTTP {status}")
        else:
            if not is_problem:
                problems.append("the 401 is not problem+json (BR-SEC-1)")
            if not response.headers.get("www-authenticate", "").lower().startswith("bearer"):
                problems.append("the 401 has no Bearer challenge (WWW-Authenticate)")
    return problems
