"""The accessibility layer: axe-core on every page of every state, in the device profiles and colour schemes; the
checks axe does not make; the register of manual checks (BR-A11Y-1, DOS-lagen, EN 301 549 / WCAG 2.1 AA)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from audit import FULL_CRAWL_PROFILES, record, smoke_state
from axe_playwright_python.sync_playwright import Axe

from harness import a11y
from harness.targets import AuditState

LAW = ("BR-A11Y-1", "DOS-10", "MDFFS-4-5")
# The WCAG 2.1 A/AA criteria axe-core's rules judge (in whole or in part); a failure names which it broke.
AXE_CRITERIA = ("1.1.1", "1.2.2", "1.3.1", "1.3.5", "1.4.1", "1.4.2", "1.4.3", "1.4.4", "1.4.12", "2.1.1", "2.2.1",
                "2.2.2", "2.4.1", "2.4.2", "2.4.4", "2.5.3", "3.1.1", "3.1.2", "3.3.2", "4.1.2")
BROWSER_CRITERIA = ("1.3.1", "1.3.4", "1.4.4", "1.4.10", "1.4.12", "2.1.1", "2.1.2", "2.4.2", "2.4.7", "3.1.1",
                    "4.1.2")
SCHEMES = ("light", "dark")
_axe = Axe()


def _message(found: list[tuple[str, a11y.Finding]], label: str) -> str:
    """Each page with its failing findings, named by criterion, clause and requirement."""
    pages = dict.fromkeys(where for where, f in found if f.fails)
    return "\n".join(a11y.failure_message(f"{where} ({label})", [f for w, f in found if w == where])
                     for where in pages)


@pytest.mark.req(*LAW, *(a11y.requirement_id(c) for c in AXE_CRITERIA))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_axe_finds_no_wcag_violation(request: pytest.FixtureRequest, open_state: Callable[..., Any],
                                     profile_name: str, state: AuditState, scheme: str, full_sweep: bool,
                                     a11y_policy: a11y.Policy, known_requirements: set[str]) -> None:
    """Varje sida i läget klarar axe-cores kontroller av WCAG 2.1 A och AA, i ljust och mörkt läge."""
    audit = open_state(state, profile_name, scheme,
                       crawl=full_sweep or profile_name in FULL_CRAWL_PROFILES)
    found, engine = [], "axe-core"
    for where, url in audit.pages.items():
        audit.page.goto(url)
        result = a11y.run_axe(audit.page, _axe)
        engine = a11y.axe_version(result)
        found += [(where, f) for f in a11y.findings_from_axe(result, a11y_policy, known=known_requirements)]
    label = f"{state.name}, {profile_name}, {scheme}"
    for where in audit.pages:
        record(request, "axe", where, [f for w, f in found if w == where],
               {"axe": engine, "state": state.name, "profile": profile_name, "scheme": scheme,
                "pages": [f"{state.name} {where}"]})
    assert not [f for _, f in found if f.fails], _message(found, label)


# Every page of a state walked by keyboard, at 320 px and at 200 %: bounded (a fixed number of key presses per page),
# but about 20 s on an idle machine and two minutes on a busy one, past the default limit meant for a hang.
@pytest.mark.timeout(600)
@pytest.mark.profiles("desktop")
@pytest.mark.req(*LAW, *(a11y.requirement_id(c) for c in BROWSER_CRITERIA))
def test_pages_work_by_keyboard_reflow_and_zoom(request: pytest.FixtureRequest, open_state: Callable[..., Any],
                                                profile_name: str, state: AuditState,
                                                known_requirements: set[str]) -> None:
    """Varje sida nås med tangentbord med synligt fokus och utan fälla, flödar om vid 320 px, tål 200 % text och
    textavstånd, låser inte orienteringen, har en egen titel och svenska som språk."""
    audit = open_state(state, profile_name, "light")
    viewport = audit.page.viewport_size
    found, titles = [], {}
    for where, url in audit.pages.items():
        response = audit.page.goto(url)
        if response is None or response.status < 400:  # error pages share a title by design: one error, one name
            titles[where] = audit.page.title()
        page_found = a11y.page_checks(audit.page, viewport=viewport, known=known_requirements)
        if a11y.orientation_locked(audit.page):
            page_found.append(a11y.finding("orientation", "sidan är låst i ett läge", ["1.3.4"],
                                           known=known_requirements))
        audit.page.set_viewport_size(viewport)
        found += [(where, f) for f in page_found]
    for title, pages in a11y.duplicate_titles(titles).items():
        found.append((pages[0], a11y.finding("page-title-unique", f'sidorna {", ".join(pages)} har samma titel '
                                             f'"{title}"', ["2.4.2"], pages, known=known_requirements)))
    for where in audit.pages:
        record(request, "browser", where, [f for w, f in found if w == where],
               {"state": state.name, "profile": profile_name, "scheme": "light",
                "pages": [f"{state.name} {where}"]})
    assert not found, _message(found, state.name)


@pytest.mark.smoke
@pytest.mark.profiles("android")
@pytest.mark.req(*LAW, "WCAG-1-4-3", "WCAG-1-1-1", "WCAG-2-1-2", "WCAG-2-4-7")
def test_start_page_in_dark_mode(request: pytest.FixtureRequest, open_state: Callable[..., Any], profile_name: str,
                                 a11y_policy: a11y.Policy, known_requirements: set[str]) -> None:
    """Startsidan för en inloggad användare klarar axe och tangentbordet i mörkt läge på en mobil."""
    state = smoke_state(request.config)
    if state is None:
        pytest.skip("the target names no pages to audit ([[a11y.states]] in its target file)")
    audit = open_state(state, profile_name, "dark", crawl=False)
    where, url = next(iter(audit.pages.items()))
    audit.page.goto(url)
    result = a11y.run_axe(audit.page, _axe)
    found = a11y.findings_from_axe(result, a11y_policy, known=known_requirements)
    found += a11y.page_checks(audit.page, viewport=audit.page.viewport_size, known=known_requirements)
    record(request, "smoke", where, found, {"axe": a11y.axe_version(result)})
    assert not [f for f in found if f.fails], a11y.failure_message(f"{where} ({state.name}, {profile_name}, mörkt)",
                                                                    found)


@pytest.mark.req("MDFFS-4-5", "MDFFS-6")
def test_manual_checks_are_current(known_requirements: set[str]) -> None:
    """Registret över manuella kontroller är giltigt och ingen kontroll har gått ut."""
    checks = a11y.load_manual_checks(known=known_requirements)
    expired = [c for c in checks if c.expired(dt.date.today())]
    assert not expired, "manuella kontroller som har gått ut: " + "; ".join(
        f"{c.criterion} {c.title} (gick ut {c.expiry.isoformat()}, a11y.MANUAL_CHECKS rad {c.line})"
        for c in expired)
