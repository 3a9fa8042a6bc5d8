"""Error details are in Swedish, as a 1177 user reads them; the machine-readable type stays as it is.

Every ``Problem(status, detail)`` the system raises towards the app, the web or a partner is looked at in the
source, so a new English detail cannot slip in. The test-only control API and the gateways' internal webhook speak
to test code and gateways, not to users, and stay in English.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SUT = Path(__file__).resolve().parent.parent / "sut"
INTERNAL = {"control.py", "push/control.py", "push/metrics.py", "push/gateways"}
# Words that occur in English sentences and never in Swedish ones.
ENGLISH = re.compile(r"\b(the|is|not|has|been|this|for|was|are|must|unknown|invalid|required|already)\b", re.I)


def _internal(path: Path) -> bool:
    rel = path.relative_to(SUT).as_posix()
    return any(rel == name or rel.startswith(f"{name}/") for name in INTERNAL)


def _details() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SUT.rglob("*.py")):
        if _internal(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem" and len(node.args) > 1):
                continue
            detail = node.args[1]
            if isinstance(detail, ast.Constant) and isinstance(detail.value, str):
                text = detail.value
            elif isinstance(detail, ast.JoinedStr):
                text = "".join(v.value for v in detail.values if isinstance(v, ast.Constant))
            else:
                continue
            found.append((f"{path.relative_to(SUT)}:{node.lineno}", text))
    return found


def test_the_scan_finds_the_details() -> None:
    details = dict(_details())
    assert len(details) > 30  # the scan would pass vacuously if it found nothing
    assert any("personnummer" in text for text in details.values())


@pytest.mark.parametrize(("where", "detail"), _details(), ids=lambda value: str(value)[:40])
def test_error_detail_is_swedish(where: str, detail: str) -> None:
    assert not ENGLISH.search(detail), f"{where}: English error detail {detail!r}"
