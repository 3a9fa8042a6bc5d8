"""The authorization matrix as data: complete, consistent, and judged strictly (harness/authz.py)."""

from __future__ import annotations

import base64
import json
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
    by_id = {cell.id: cell for cell in matrix.cells}
    assert by_id["guardian-under-13-message"].expect == "allow"
    assert by_id["guardian-13-plus-message"].expect == "deny"
    assert by_id["guardian-under-13-audit-extract"].expect == "deny"  # never as ombud (PDL-5-5-OMBUD)
    assert all(by_id[f"{role}-export"].expect == "unauthenticated"
               for role in ("no-token", "expired-token", "tampered-token", "alg-none"))


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
