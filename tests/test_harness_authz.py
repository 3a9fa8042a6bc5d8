"""The authorization matrix as data: complete, consistent, claiming only what each cell checks, and judged
strictly (harness/authz.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import authz
from harness.requirements import load_catalogue

MATRIX_FILE = Path(__file__).resolve().parent.parent / "suites" / "api" / "authz_matrix.yaml"


def test_every_role_meets_every_resource_with_known_requirements() -> None:
    matrix = authz.load_matrix(MATRIX_FILE)
    assert len(matrix.cells) == len(matrix.roles) * len(matrix.resources)
    issue_roles = {"self", "other-patient", "guardian-under-13", "guardian-13-plus", "staff-right-unit",
                   "staff-other-unit", "no-token", "expired-token", "tampered-token", "alg-none"}
    issue_resources = {"message", "booking", "settings", "devices", "audit-extract", "export", "acting-for"}
    assert issue_roles <= set(matrix.roles) and issue_resources <= set(matrix.resources)
    catalogue = load_catalogue()
    for cell in matrix.cells:
        assert cell.requirements and not catalogue.unknown(cell.requirements), cell.id
    by_id = {f"{cell.role.name}-{cell.resource.name}": cell for cell in matrix.cells}
    assert by_id["guardian-under-13-message"].expect == "allow"
    assert by_id["guardian-13-plus-message"].expect == "deny"
    assert by_id["guardian-under-13-audit-extract"].expect == "deny"  # never as ombud (PDL-5-5-OMBUD)
    assert all(by_id[f"{role}-export"].expect == "unauthenticated"
               for role in ("no-token", "expired-token", "tampered-token", "alg-none"))


# What a cell must check to count as evidence for a requirement: a condition on the cell's caller, subject, token,
# resource and expected outcome, written from the requirement's text and independently of the matrix's rules. A
# rule that tags a cell whose check does not meet its requirement's condition is overclaiming.
RECORDS = {"message", "booking", "booking-cancel", "audit-extract", "export"}
PATIENTS = {"patient", "other-patient"}
STAFF = {"staff-right-unit", "staff-other-unit", "staff-other-region", "staff-related-other-region"}
BAD_TOKENS = {"none", "tampered", "alg-none"}


def _valid(f: dict) -> bool:
    return f["token"] == "valid"


def _own_log(f: dict) -> bool:
    return _valid(f) and f["resource"] == "audit-extract" and f["caller"] == "patient" and f["expect"] == "allow"


def _own_export(f: dict) -> bool:
    return _valid(f) and f["resource"] == "export" and f["caller"] == "patient" and f["expect"] == "allow"


def _bad_token(f: dict) -> bool:
    return f["token"] in BAD_TOKENS and f["expect"] == "unauthenticated"


def _protected_export(f: dict) -> bool:
    """A person with protected identity reads their own export: whether the address stays in the backend."""
    return _valid(f) and f["change"] == "protected-identity" and f["resource"] == "export" and f["expect"] == "allow"


EXERCISES: dict[str, Callable[[dict], bool]] = {
    # A bad token refused: login through the IdP and strong authentication before access.
    "BR-ID-1": lambda f: _bad_token(f) or _protected_export(f),
    "OSL-21-3": _protected_export,
    "HSLF-FS-2016-40-3-15": _bad_token,
    "BR-ID-2": lambda f: f["token"] == "expired" and f["expect"] == "unauthenticated",
    # The refusal's form (problem+json) is judged only on refusals.
    "BR-SEC-1": lambda f: f["expect"] in {"deny", "unauthenticated"},
    # Everything below is about who may reach what, so it needs a valid token.
    "BR-INBOX-1": lambda f: _valid(f) and f["resource"] == "message" and f["caller"] not in STAFF,
    "PDL-5-5": lambda f: _valid(f) and f["resource"] in RECORDS and f["caller"] in PATIENTS,
    "BR-NOTIF-1": lambda f: _valid(f) and f["resource"] in {"settings", "devices"} and f["caller"] in PATIENTS,
    "BR-AUDIT-1": _own_log,
    "PDL-8-5": _own_log,
    "BR-GDPR-1": _own_export,
    "GDPR-15": _own_export,
    "BR-PROXY-1": lambda f: _valid(f) and f["api"] == "mobile" and f["caller"] not in STAFF
    and (f["acting_for"] or f["resource"] == "acting-for"),
    # Only a real ombud (a guardian of a child under 13) refused the log shows the ombud rule, not another one.
    "PDL-5-5-OMBUD": lambda f: _valid(f) and f["caller"] == "guardian" and f["acting_for"]
    and f["subject"] == "child-under-13" and f["resource"] == "audit-extract" and f["expect"] == "deny",
    "OSL-12-3": lambda f: _valid(f) and f["caller"] == "guardian" and f["subject"] == "child-13-17"
    and f["api"] == "mobile",
    "PDL-4-1": lambda f: _valid(f) and f["caller"] in STAFF,
    "BR-STAFF-1": lambda f: _valid(f) and (f["caller"] in STAFF or f["resource"] == "staff-send"),
}


def overclaims(matrix: authz.Matrix) -> list[str]:
    """Every (cell, requirement) whose check does not exercise the requirement."""
    found = []
    for cell in matrix.cells:
        for req in cell.requirements:
            exercised = EXERCISES.get(req)
            if exercised is None:
                found.append(f"{cell.id}: {req} has no condition in EXERCISES (say what a cell must check for it)")
            elif not exercised(cell.facts):
                found.append(f"{cell.id}: carries {req}, which its check does not exercise")
    return found


def test_no_cell_claims_a_requirement_its_check_does_not_exercise() -> None:
    matrix = authz.load_matrix(MATRIX_FILE)
    assert overclaims(matrix) == []
    by_id = {cell.id: cell for cell in matrix.cells}
    # The compliance review's cases: a token cell is evidence for the token rule, not for the resource it calls.
    assert set(by_id["expired-token-staff-send-unauthenticated"].requirements) == {"BR-ID-2", "BR-SEC-1"}
    assert set(by_id["staff-other-unit-message-deny"].requirements) == {"BR-STAFF-1", "PDL-4-1", "BR-SEC-1"}
    assert set(by_id["guardian-under-13-audit-extract-deny"].requirements) >= {"BR-PROXY-1", "PDL-5-5-OMBUD"}
    assert set(by_id["guardian-13-plus-message-deny"].requirements) >= {"BR-PROXY-1", "OSL-12-3"}
    assert not any("PDL-4-1" in c.requirements for c in matrix.cells if c.role.token != "valid")


def test_resource_wide_requirements_would_be_caught(tmp_path: Path) -> None:
    """The old way (every cell of staff-send claims PDL-4-1) is found, cell by cell, by the same check."""
    broad_rule = ('\nrules:\n  - checks: "Allt som rör personalens utskick."\n'
                  "    when: {resource: staff-send}\n    req: [PDL-4-1]\n")
    broad = tmp_path / "matrix.yaml"
    broad.write_text(MATRIX_FILE.read_text(encoding="utf-8").replace("\nrules:\n", broad_rule, 1), encoding="utf-8")
    found = overclaims(authz.load_matrix(broad))
    assert "expired-token-staff-send-unauthenticated: carries PDL-4-1, which its check does not exercise" in found
    assert "self-staff-send-deny: carries PDL-4-1, which its check does not exercise" in found
    assert not any(line.startswith("staff-other-unit-staff-send") for line in found)


EXPORT_RULE = ('  - checks: "Patientens dataexport innehåller patientens meddelande."\n'
               "    when: {caller: patient, token: valid, resource: export, expect: allow}\n"
               "    req: [BR-GDPR-1, GDPR-15]\n")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    staff-send: allow\n", "    staff-send: {expect: allow, req: [BR-STAFF-1]}\n",
     r"cells\.staff-right-unit\.staff-send: a cell is its expected outcome only"),
    ("\ncells:\n", "\nrequirements:\n  message: [BR-INBOX-1]\ncells:\n", r"'requirements' per resource is gone"),
    ("    when: {token: expired}\n", "    when: {token: stale}\n", r"rules\[3\]: token \['stale'\] not known"),
    ("    when: {token: expired}\n", "    when: {colour: blue}\n", r"rules\[3\]: unknown condition 'colour'"),
    (EXPORT_RULE, "", r"cells\.self\.export: no rule gives it a requirement"),
])
def test_requirements_come_only_from_rules(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = MATRIX_FILE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "matrix.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(authz.MatrixError, match=message):
        authz.load_matrix(broken)


def test_cells_have_readable_names_and_checks() -> None:
    matrix = authz.load_matrix(MATRIX_FILE)
    assert len({cell.id for cell in matrix.cells}) == len(matrix.cells)
    by_id = {cell.id: cell for cell in matrix.cells}
    assert by_id["guardian-under-13-message-allow"].title == \
        "vårdnadshavare för barn under 13 läser barnets meddelande -> 200"
    assert by_id["other-patient-booking-own-only"].title == \
        "en annan patient listar patientens bokningar -> 200, bara egna data"
    assert by_id["expired-token-message-unauthenticated"].sentence.startswith("Ett utgånget token nekas (401).")
    for cell in matrix.cells:
        assert cell.id.isascii() and " " not in cell.id, cell.id
        assert "{" not in cell.title and "Cell(" not in cell.title, cell.title
        assert cell.sentence.endswith("."), cell.id


def test_a_failure_breaks_only_what_failed() -> None:
    """A refusal in the wrong form breaks BR-SEC-1 only; a refusal that did not happen breaks the access rules only."""
    cell = {c.id: c for c in authz.load_matrix(MATRIX_FILE).cells}["other-patient-message-deny"]
    secret = "3f1c9a2e-0000-4000-8000-000000000001"
    assert set(cell.requirements) == {"PDL-5-5", "BR-INBOX-1", "BR-SEC-1"}
    wrong_form = authz.judge("deny", _response(403, {"detail": "no"}), secret)
    assert cell.broken(wrong_form) == ("BR-SEC-1",)
    leaked = authz.judge("deny", _response(200, {"id": secret}), secret)
    assert set(cell.broken(leaked)) == {"PDL-5-5", "BR-INBOX-1"}
    assert cell.broken([]) == ()


def test_a_missing_cell_is_an_error(tmp_path: Path) -> None:
    text = MATRIX_FILE.read_text(encoding="utf-8").replace("    devices: own-only\n", "", 1)
    broken = tmp_path / "matrix.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(authz.MatrixError, match=r"cells\.other-patient: missing \['devices'\]"):
        authz.load_matrix(broken)


def _response(status: int, body: dict, problem: bool = False, headers: dict | None = None) -> httpx.Response:
    content_type = "application/problem+json" if problem else "application/json"
    return httpx.Response(status, json=body, headers={"content-type": content_type, **(headers or {})})


def test_judging_each_outcome() -> None:
    secret = "3f1c9a2e-0000-4000-8000-000000000001"
    assert authz.judge("allow", _response(200, {"id": secret}), secret) == []
    assert authz.judge("allow", _response(200, {"id": "other"}), secret)
    assert authz.judge("allow", _response(404, {}, problem=True), secret)
    assert authz.judge("deny", _response(404, {"instance": f"/x/{secret}", "status": 404}, problem=True),
                       secret) == []  # the echoed request path does not count as a leak
    assert authz.judge("deny", _response(200, {"id": secret}), secret)
    assert authz.judge("deny", _response(403, {"detail": "no"}), secret)  # not problem+json
    assert authz.judge("own-only", _response(200, {"items": []}), secret) == []
    assert authz.judge("own-only", _response(200, {"items": [secret]}), secret)
    challenge = {"www-authenticate": 'Bearer error="invalid_token"'}
    assert authz.judge("unauthenticated", _response(401, {}, problem=True, headers=challenge), secret) == []
    assert authz.judge("unauthenticated", _response(401, {}, problem=True), secret)
    assert authz.judge("unauthenticated", _response(403, {}, problem=True, headers=challenge), secret)


def _part(token: str, index: int) -> dict:
    piece = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4)))


def test_forged_tokens() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":"a","exp":100}').rstrip(b"=").decode()
    token = f"{header}.{payload}.c2lnbmF0dXJl"
    changed = authz.tampered(token)
    assert changed.split(".")[0] == header and changed.split(".")[2] == "c2lnbmF0dXJl"
    assert _part(changed, 1)["exp"] > 100
    unsigned = authz.alg_none(token)
    assert _part(unsigned, 0) == {"alg": "none", "typ": "JWT"} and unsigned.endswith(".")
    assert _part(unsigned, 1) == {"sub": "a", "exp": 100}


def test_a_500_is_a_server_error_not_a_verdict_on_access() -> None:
    """A crash breaks only "never a 500" (BR-SEC-1); an allow cell, which does not carry it, blames no rule."""
    cells = {c.id: c for c in authz.load_matrix(MATRIX_FILE).cells}
    secret = "3f1c9a2e-0000-4000-8000-000000000001"
    for expect in ("deny", "allow", "own-only", "unauthenticated"):
        problems = authz.judge(expect, _response(500, {"detail": "Ett oväntat fel inträffade."}), secret)
        assert len(problems) == 1 and problems[0].startswith("server error"), problems
    crash = authz.judge("deny", _response(500, {}), secret)
    assert cells["other-patient-message-deny"].broken(crash) == ("BR-SEC-1",)
    assert cells["guardian-under-13-message-allow"].broken(crash) == ()
