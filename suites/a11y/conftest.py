"""The accessibility layer's glue: the states a user can be in, the pages of each, the audit policy, the evidence.

A state is who is logged in and how (data in the target file's [a11y] table: targets/local.toml for the reference
system; a real site's file names its pages and the steps of its login page); its pages are found by crawling from
its entry pages. Each test writes its findings
to ``<run-dir>/a11y/``; at the end of the run the controller builds the draft tillgänglighetsredogörelse from them
(``<run-dir>/tillganglighetsredogorelse.md`` and ``.html``).

Options: ``--a11y-sweep`` audits every page in every selected profile and both colour schemes (by default the
whole crawl runs in the first mobile profile and on the desktop, the other profiles audit each state's entry
pages); ``--a11y-fail-on wcag22aa,best-practice`` makes more of axe's tags fail (by default WCAG 2.0/2.1 A and AA).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from audit import states

from harness import a11y
from harness.identities import Person
from harness.targets import AuditState, Target
from harness.web_steps import run_steps


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness")
    group.addoption("--a11y-sweep", action="store_true", default=False,
                    help="audit every page in every selected profile and both colour schemes (slow)")
    group.addoption("--a11y-fail-on", default="", metavar="TAGS",
                    help="axe tags that fail besides WCAG 2.0/2.1 A and AA, e.g. wcag22aa,best-practice")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``state``: each state of the target's [a11y] table; none is a skip that says where to write them."""
    if "state" not in metafunc.fixturenames:
        return
    found = states(metafunc.config)
    if found:
        metafunc.parametrize("state", found, ids=[s.name for s in found])
        return
    from fixtures.target import choice

    target = choice(metafunc.config).target
    metafunc.parametrize("state", [pytest.param(None, marks=pytest.mark.skip(
        reason=f"target {target.name!r} names no pages to audit: add [[a11y.states]] to {target.display_path}"))],
        ids=["no-states"])


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
               web_url: str, target: Target, target_urls: dict[str, str]) -> Callable[..., Audit]:
    """``open_state(state, profile, scheme, crawl=True)``: a context in that state and the pages to audit.

    A state's person logs in through the target file's login steps, or on the reference system through the login
    page the harness knows; the state's own steps run next. Pages are found by following links from the entries."""
    plan = target.a11y
    skip = re.compile(f"{a11y.SKIP_PATHS.pattern}|{plan.skip}") if plan.skip else a11y.SKIP_PATHS

    def open_(state: AuditState, profile: str, scheme: str, *, crawl: bool = True) -> Audit:
        page = new_context(profile, color_scheme=scheme).new_page()
        values = {"web": web_url, "login": target_urls.get("login", "")}
        if state.person is not None:
            person = new_person(state.person)
            values["personnummer"] = person.personnummer
            if plan.login:
                run_steps(page, plan.login, values, where=f"{target.display_path}, a11y.login")
            else:
                web_login(page, person)
        run_steps(page, state.steps, values, where=f"{target.display_path}, state {state.name}")
        entries = {path: path if path.startswith("http") else f"{web_url}{path}" for path in state.entries}
        if crawl and state.crawl:
            pages: dict[str, str] = {}
            for entry in entries.values():
                pages.update({k: v for k, v in a11y.crawl(page, entry, skip=skip).items() if k not in pages})
        else:
            pages = entries
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
