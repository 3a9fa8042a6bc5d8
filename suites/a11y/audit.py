"""What the accessibility layer audits: the states a user can be in, as data, and how findings become evidence."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import allure
import pytest

from fixtures.evidence import BROKEN_REQUIREMENTS
from harness import a11y

FULL_CRAWL_PROFILES = ("android", "desktop")  # the default sweep: the whole crawl in these, entry pages elsewhere
ZERO_ID = "00000000-0000-4000-8000-000000000000"  # a message or meeting nobody has: the error page


@dataclass(frozen=True)
class State:
    """Who is logged in (a role, or nobody), whether as ombud for a child, where the audit starts, and whether
    the pages are found by following links from there."""

    name: str
    role: str | None
    entries: tuple[str, ...]
    crawl: bool = True
    acting_for_child: bool = False


STATES = {s.name: s for s in (
    # The login page lists test persons as links that log in: crawling it would leave the state, so no crawl.
    State("utloggad", None, ("/", "/logged-out", "/finns-inte"), crawl=False),
    State("inloggad", "adult", ("/",)),
    State("ombud", "guardian", ("/",), acting_for_child=True),
    State("ej-ansluten", "adult-not-joined", ("/",)),
    State("felsidor", "adult", ("/finns-inte", f"/inbox/{ZERO_ID}", f"/video/{ZERO_ID}"), crawl=False),
)}


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
