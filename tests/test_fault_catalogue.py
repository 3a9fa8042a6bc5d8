"""The fault catalogue is complete: every fault is implemented where its component lives, names requirements
the catalogue knows, and is switched on by at least one of the project's tests that must catch it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.requirements import load_catalogue
from sut import faults

ROOT = Path(__file__).resolve().parent.parent
SUT = ROOT / "sut"
CODE_SUFFIXES = {".py", ".html", ".css", ".js"}


def _texts(folder: Path, *, skip: set[Path] = frozenset()) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in folder.rglob("*")
            if p.suffix in CODE_SUFFIXES and p.is_file() and p not in skip}


SUT_CODE = _texts(SUT, skip={SUT / "faults.py"})
TEST_CODE = _texts(ROOT / "tests", skip={Path(__file__).resolve()})


@pytest.mark.parametrize("name", sorted(faults.CATALOGUE))
def test_fault_is_implemented_and_caught(name: str) -> None:
    # The switch is read where the defect lives: faults.active("name") in code, fault("name") in templates.
    switch = re.compile(rf"""(active|fault)\(\s*["']{re.escape(name)}["']""")
    assert any(switch.search(text) for text in SUT_CODE.values()), f"{name}: no code in sut/ reads this switch"
    assert any(re.search(rf"""["']{re.escape(name)}["']""", text) for text in TEST_CODE.values()), \
        f"{name}: no test in tests/ switches this fault on"


def test_faults_break_known_requirements() -> None:
    catalogue = load_catalogue()
    for fault in faults.CATALOGUE.values():
        assert fault.breaks, fault.name
        assert fault.description.endswith("."), fault.name
        for requirement in fault.breaks:
            assert requirement in catalogue, f"{fault.name} breaks {requirement}, which the catalogue lacks"


def test_at_least_fourteen_faults_over_every_component() -> None:
    components = {f.component for f in faults.CATALOGUE.values()}
    assert len(faults.CATALOGUE) >= 14
    assert {"idp", "api", "staff", "web", "push"} <= components


def test_active_refuses_a_name_outside_the_catalogue() -> None:
    with pytest.raises(KeyError):
        faults.active("no-such-fault")
    with pytest.raises(faults.UnknownFaultError, match="idor-message"):
        faults.parse("idor-message,no-such-fault")
