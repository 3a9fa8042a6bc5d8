"""The authorization matrix as data: roles x resources, each cell an expected outcome and its requirements.

The matrix lives in a YAML file (suites/api/authz_matrix.yaml); this module reads it, derives each cell's
requirements from the file's rules, forges the bad tokens (tampered, ``alg: none``) and judges a response against
a cell's expected outcome. It knows nothing of pytest.

A cell names only the requirements its check exercises: the rules say, from what a cell checks (the caller, whose
data, the token, the resource, the expected outcome), which requirement that check verifies. A cell cannot name
requirements of its own, so "a patient's expired token on staff send" is evidence for token expiry (BR-ID-2), not
for staff access (PDL-4-1).
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
CALLERS = ("patient", "other-patient", "guardian", "staff-right-unit", "staff-other-unit", "staff-other-region",
           "staff-related-other-region")
SUBJECTS = ("patient", "child-under-13", "child-13-17")
TOKENS = ("valid", "none", "expired", "tampered", "alg-none")
EVIDENCE = ("message_id", "booking_id", "installation_id", "subject_id")
APIS = ("mobile", "staff")
RECORD_COUNTS = ("few", "many")  # a subject's records: the seed's few, or several pages of each list
CHANGES = ("none", "protected-identity", "moved")  # what the population register told after seeding
# What a rule's `when` may test, and the values each may take (resource names are checked against the file).
CONDITIONS = {"caller": CALLERS, "subject": SUBJECTS, "token": TOKENS, "acting_for": (True, False),
              "expect": OUTCOMES, "api": APIS, "resource": None, "records": RECORD_COUNTS, "change": CHANGES}
# The requirement a refusal's form (problem+json) verifies: a failure of the form breaks it and nothing else, and a
# failure of access does not break it (the form was never reached).
FORM_REQUIREMENT = "BR-SEC-1"
FORM_PROBLEM = "(BR-SEC-1)"  # how the judge marks a problem of form
# The status a reader sees for each outcome, in test names.
EXPECT_TEXT = {"allow": "200", "deny": "403/404", "own-only": "200, bara egna data", "unauthenticated": "401"}


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
    label: str = ""  # Swedish, for the report: "vårdnadshavare för barn under 13"
    records: str = "few"
    change: str = "none"

    @property
    def is_staff(self) -> bool:
        return self.caller.startswith("staff-")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: dict[str, Any] | None = None
    operation: str = ""  # the operationId: how the oracles of ownership know the answer (harness/oracles.py)


@dataclass(frozen=True)
class Resource:
    name: str
    evidence: str
    mobile: Request | None = None
    staff: Request | None = None
    destructive: bool = False
    action: str = ""  # Swedish, for the report: "läser {vems} meddelande" ({vems}: patientens / barnets)

    def request_for(self, role: Role) -> Request:
        """The request a role makes: staff use the staff API where the resource has one, everyone else the app's."""
        spec = self.staff if (self.mobile is None or (role.is_staff and self.staff)) else self.mobile
        if spec is None:  # the loader refuses a resource with neither
            raise RuntimeError(f"{self.name}: no API document for the role {role.name}")
        return spec

    def api_for(self, role: Role) -> str:
        return "staff" if self.request_for(role) is self.staff else "mobile"


@dataclass(frozen=True)
class Rule:
    """Which requirement a kind of check verifies: every cell that matches ``when`` carries ``req``."""

    checks: str  # one Swedish sentence on what such a cell checks
    when: dict[str, tuple[Any, ...]]
    req: tuple[str, ...]

    def matches(self, facts: dict[str, Any]) -> bool:
        return all(facts[key] in values for key, values in self.when.items())


@dataclass(frozen=True)
class Cell:
    role: Role
    resource: Resource
    expect: str
    requirements: tuple[str, ...]
    checks: tuple[str, ...] = ()  # the sentences of the rules that gave the requirements

    @property
    def id(self) -> str:
        return f"{self.role.name}-{self.resource.name}-{self.expect}"

    @property
    def facts(self) -> dict[str, Any]:
        """What the cell checks, as the rules see it."""
        return cell_facts(self.role, self.resource, self.expect)

    @property
    def title(self) -> str:
        """'vårdnadshavare för barn under 13 läser barnets meddelande -> 200'."""
        child = self.role.subject != "patient"
        action = self.resource.action.format(vems="barnets" if child else "patientens",
                                             vem="barnet" if child else "patienten")
        return f"{self.role.label or self.role.name} {action or self.resource.name} -> {EXPECT_TEXT[self.expect]}"

    def broken(self, problems: list[str]) -> tuple[str, ...]:
        """The requirements ``problems`` (from :func:`judge`) break: the form's, the access ones, or both."""
        form = any(p.endswith(FORM_PROBLEM) for p in problems)
        access = any(not p.endswith(FORM_PROBLEM) for p in problems)
        return tuple(r for r in self.requirements if (form if r == FORM_REQUIREMENT else access))

    @property
    def sentence(self) -> str:
        """What the cell checks, in Swedish: the checks of its rules."""
        return " ".join(self.checks)

    def __str__(self) -> str:
        return self.id


def cell_facts(role: Role, resource: Resource, expect: str) -> dict[str, Any]:
    return {"caller": role.caller, "subject": role.subject, "token": role.token, "acting_for": role.acting_for,
            "expect": expect, "api": resource.api_for(role), "resource": resource.name, "records": role.records,
            "change": role.change}


@dataclass
class Matrix:
    roles: dict[str, Role]
    resources: dict[str, Resource]
    rules: list[Rule] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)


def _request(data: dict[str, Any] | None) -> Request | None:
    if data is None:
        return None
    return Request(method=data["method"].upper(), path=data["path"], json=data.get("json"),
                   operation=data.get("operation", ""))


def load_matrix(path: Path) -> Matrix:
    """Read and check the matrix: every role x every resource has exactly one cell."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name

    def fail(message: str) -> MatrixError:
        return MatrixError(f"{where}: {message}")

    if "requirements" in data:
        raise fail("'requirements' per resource is gone: a cell's requirements follow from 'rules' over what the "
                   "cell checks")
    roles = {}
    for name, spec in data["roles"].items():
        role = Role(name=name, caller=spec["caller"], subject=spec["subject"],
                    acting_for=bool(spec.get("acting_for", False)), token=spec.get("token", "valid"),
                    description=spec.get("description", ""), label=spec.get("label", ""),
                    records=spec.get("records", "few"), change=spec.get("change", "none"))
        if role.caller not in CALLERS or role.subject not in SUBJECTS or role.token not in TOKENS \
                or role.records not in RECORD_COUNTS or role.change not in CHANGES:
            raise fail(f"role {name!r}: caller, subject, token, records or change not known")
        roles[name] = role
    resources = {}
    for name, spec in data["resources"].items():
        res = Resource(name=name, evidence=spec["evidence"], mobile=_request(spec.get("mobile")),
                       staff=_request(spec.get("staff")), destructive=bool(spec.get("destructive", False)),
                       action=spec.get("action", ""))
        if res.evidence not in EVIDENCE:
            raise fail(f"resource {name!r}: evidence must be one of {', '.join(EVIDENCE)}")
        if res.mobile is None and res.staff is None:
            raise fail(f"resource {name!r}: needs a mobile or a staff request")
        resources[name] = res
    matrix = Matrix(roles=roles, resources=resources, rules=_rules(data.get("rules") or [], resources, fail))
    for role_name, row in data["cells"].items():
        if role_name not in roles:
            raise fail(f"cells: unknown role {role_name!r}")
        missing = set(resources) - set(row)
        extra = set(row) - set(resources)
        if missing or extra:
            raise fail(f"cells.{role_name}: missing {sorted(missing)}, unknown {sorted(extra)}")
        for res_name, cell in row.items():
            where_cell = f"cells.{role_name}.{res_name}"
            if not isinstance(cell, str):
                raise fail(f"{where_cell}: a cell is its expected outcome only; its requirements follow from "
                           "'rules'")
            if cell not in OUTCOMES:
                raise fail(f"{where_cell}: expect must be one of {', '.join(OUTCOMES)}")
            role, resource = roles[role_name], resources[res_name]
            facts = cell_facts(role, resource, cell)
            matched = [rule for rule in matrix.rules if rule.matches(facts)]
            reqs = tuple(dict.fromkeys(r for rule in matched for r in rule.req))
            if not reqs:
                raise fail(f"{where_cell}: no rule gives it a requirement (what does it check?)")
            matrix.cells.append(Cell(role=role, resource=resource, expect=cell, requirements=reqs,
                                     checks=tuple(dict.fromkeys(rule.checks for rule in matched))))
    missing_roles = set(roles) - set(data["cells"])
    if missing_roles:
        raise fail(f"cells: no row for role(s) {sorted(missing_roles)}")
    return matrix


def _rules(items: list[Any], resources: dict[str, Resource], fail: Any) -> list[Rule]:
    rules = []
    for n, item in enumerate(items, start=1):
        where = f"rules[{n}]"
        if not isinstance(item, dict) or set(item) != {"checks", "when", "req"}:
            raise fail(f"{where}: a rule has exactly 'checks' (a sentence), 'when' (conditions) and 'req' (IDs)")
        if not isinstance(item["req"], list) or not item["req"] or not isinstance(item["when"], dict):
            raise fail(f"{where}: 'req' must be a non-empty list and 'when' a mapping")
        when: dict[str, tuple[Any, ...]] = {}
        for key, value in item["when"].items():
            allowed = CONDITIONS.get(key, ()) if key != "resource" else tuple(resources)
            if key not in CONDITIONS:
                raise fail(f"{where}: unknown condition {key!r}; conditions: {', '.join(CONDITIONS)}")
            values = tuple(value) if isinstance(value, list) else (value,)
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise fail(f"{where}: {key} {unknown} not known; one of {', '.join(map(str, allowed))}")
            when[key] = values
        rules.append(Rule(checks=str(item["checks"]).strip(), when=when, req=tuple(item["req"])))
    return rules


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
    if status >= 500:
        # A crash says nothing about access: it is a server error, which only the rule against 500s covers.
        return [f"server error: the system answered HTTP {status}, a defect of the system, not a verdict on access "
                f"{FORM_PROBLEM}"]
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
            problems.append(f"the refusal is not problem+json {FORM_PROBLEM}")
    elif expect == "unauthenticated":
        if status != 401:
            problems.append(f"expected 401 for a missing or invalid token, got HTTP {status}")
        else:
            if not is_problem:
                problems.append(f"the 401 is not problem+json {FORM_PROBLEM}")
            if not response.headers.get("www-authenticate", "").lower().startswith("bearer"):
                problems.append("the 401 has no Bearer challenge (WWW-Authenticate)")
    return problems
