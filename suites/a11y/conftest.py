"""The accessibility layer's glue: the states a user can be in, the pages of each, the audit policy, the evidence.

A state is who is logged in and how (data in ``STATES``); its pages are found by crawling from its entry pages.
Each test writes its findings
to ``<run-dir>/a11y/``; at the end of the run the controller builds the draft tillgänglighetsredogörelse from them
(``<run-dir>/tillganglighetsredogorelse.md`` and ``.html``).

Options: ``--a11y-sweep`` audits every page in every selected profile and both colour schemes (by default the
whole crawl runs in the first mobile profile and on the desktop, the other profiles audit each state's entry
pages); ``--a11y-fail-on wcag22aa,best-practice`` makes more of axe's tags fail (by default WCAG 2.0/2.1 A and AA).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from audit import State

from harness import a11y
from harness.identities import Person


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness")
    group.addoption("--a11y-sweep", action="store_true", default=False,
                    help="audit every page in every selected profile and both colour schemes (slow)")
    group.addoption("--a11y-fail-on", default="", metavar="TAGS",
                    help="axe tags that fail besides WCAG 2.0/2.1 A and AA, e.g. wcag22aa,best-practice")


@pytest.fixture(scope="session")
def a11y_policy(pytestconfig: pytest.Config) -> a11y.Policy:
    return a11y.Policy.with_extra(pytestconfig.getoption("--a11y-fail-on").split(","))


@pytest.fixture(scope="session")
def full_sweep(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--a11y-sweep"))


@pytest.fixture(scope="session")
def known_requirements(pytestconfig: pytest.Config) -> set[str]:
    from fixtures.evidence import catalogue

    return set(catalogue(pytestconfig).requirements)


@dataclass
class Audit:
    """One state opened in a browser context: its page, and the pages to audit in it."""

    page: Any
    pages: dict[str, str]


@pytest.fixture
def open_state(new_context: Callable[..., Any], new_person: Callable[..., Person], web_login: Callable[..., str],
               web_url: str) -> Callable[..., Audit]:
    """``open_state(state, profile, scheme, crawl=True)``: a context in that state and the pages to audit."""

    def open_(state: State, profile: str, scheme: str, *, crawl: bool = True) -> Audit:
        page = new_context(profile, color_scheme=scheme).new_page()
        if state.role is not None:
            person = new_person(state.role)
            web_login(page, person)
            if state.acting_for_child:
                page.goto(f"{web_url}/acting-for")
                page.get_by_test_id("acting-for-child").first.check()
                page.get_by_test_id("acting-for-submit").click()
                page.get_by_test_id("acting-for-banner").wait_for()
        entries = [f"{web_url}{path}" for path in state.entries]
        if crawl and state.crawl:
            pages: dict[str, str] = {}
            for entry in entries:
                pages.update({k: v for k, v in a11y.crawl(page, entry).items() if k not in pages})
        else:
            pages = {path: url for path, url in zip(state.entries, entries, strict=True)}
        return Audit(page=page, pages=pages)

    return open_


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The draft statement from every finding of the run, once, by the controller."""
    from fixtures.evidence import catalogue
    from fixtures.report import run_dir

    folder = run_dir(session.config)
    if _is_worker(session.config) or folder is None or not (folder / "a11y").is_dir():
        return
    found: list[tuple[str, a11y.Finding]] = []
    engines, pages, combos = set(), set(), set()
    for path in sorted((folder / "a11y").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        engines.update([body["axe"]] if body.get("axe") else [])
        pages.update(body.get("pages", []))
        combos.add((body.get("state"), body.get("profile"), body.get("scheme")))
        for item in body["findings"]:
            item = {k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}
            found.append((body["where"], a11y.Finding(**item)))
    known = catalogue(session.config).requirements
    statement = a11y.build_statement(
        found, a11y.load_manual_checks(known=known), known, today=dt.date.today(),
        axe=", ".join(sorted(engines)) or "axe-core",
        coverage=f"{len(pages)} sidor i {len(combos)} kombinationer av läge, enhet och färgschema")
    statement.write(Path(folder))
