"""What the accessibility layer audits: the states a user can be in (data in the target file's [a11y] table), and
how findings become evidence."""

from __future__ import annotations

import json
import re
from typing import Any

import allure
import pytest

from fixtures.evidence import BROKEN_REQUIREMENTS
from harness import a11y
from harness.targets import AuditState

FULL_CRAWL_PROFILES = ("android", "desktop")  # the default sweep: the whole crawl in these, entry pages elsewhere


def states(config: pytest.Config) -> list[AuditState]:
    """The states to audit: the target file's [a11y] table (targets/local.toml for the reference system)."""
    from fixtures.target import choice

    return list(choice(config).target.a11y.states)


def smoke_state(config: pytest.Config) -> AuditState | None:
    """The state of the quick dark-mode check: the first logged-in state, else the first state."""
    found = states(config)
    return next((s for s in found if s.person is not None), found[0] if found else None)


def record(request: pytest.FixtureRequest, kind: str, where: str, findings: list[a11y.Finding],
           extra: dict[str, Any] | None = None) -> None:
    """The findings as evidence: in Allure (named by WCAG criterion) and in ``<run-dir>/a11y/`` for the statement;
    on failure the requirements they break, so the test's other requirements are not claimed broken."""
    from fixtures.report import run_dir

    failing = [f for f in findings if f.fails]
    for criterion in sorted({c for f in failing for c in f.criteria}):
        allure.dynamic.tag(f"WCAG {criterion}")
    if failing:
        broken = sorted({r for f in failing for r in f.requirements})
        request.node.user_properties.append((BROKEN_REQUIREMENTS, ",".join(broken)))
    body = {"test": request.node.nodeid, "kind": kind, "where": where, **(extra or {}),
            "findings": [f.as_dict() for f in findings]}
    allure.attach(json.dumps(body, ensure_ascii=False, indent=1), name=f"{kind}: {where}.json",
                  attachment_type=allure.attachment_type.JSON)
    folder = run_dir(request.config)
    if folder is not None:
        out = folder / "a11y"
        out.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{request.node.nodeid}-{where}")[:180]
        (out / f"{name}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
