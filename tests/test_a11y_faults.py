"""The accessibility checks catch the accessibility faults of the reference system in a real browser, naming the
WCAG criterion, and find nothing on the clean system."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import FaultSwitch, reset_keeping_faults

from harness import a11y

VIEWPORT = {"width": 412, "height": 839}
pytestmark = pytest.mark.xdist_group("faults")  # faults are global to the running system


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    from harness.act import launch_chromium

    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def faults(http: httpx.Client) -> Iterator[FaultSwitch]:
    reset_keeping_faults(http)  # a fresh login limit: every test here logs in from 127.0.0.1
    switch = FaultSwitch(http)
    yield switch
    switch.off()


@pytest.fixture
def open_page(chromium: Any, base_url: str, new_person: Callable[[str], dict[str, Any]]) -> Iterator[Callable]:
    """``open_page(path, scheme, logged_in)``: a page of the web e-services, as a logged-in adult or logged out."""
    contexts: list[Any] = []

    def open_(path: str, *, scheme: str = "light", logged_in: bool = True) -> Any:
        context = chromium.new_context(viewport=VIEWPORT, color_scheme=scheme, locale="sv-SE")
        contexts.append(context)
        page = context.new_page()
        if logged_in:
            page.goto(f"{base_url.rstrip('/')}/login?next={path}")
            page.get_by_label("Personnummer").fill(new_person("adult")["personnummer"])
            page.get_by_test_id("login-submit").click()
            page.wait_for_url(lambda url: "/idp/" not in url)
        else:
            page.goto(f"{base_url.rstrip('/')}{path}")
        return page

    yield open_
    for context in contexts:
        context.close()


def _axe(page: Any) -> list[a11y.Finding]:
    from axe_playwright_python.sync_playwright import Axe

    return [f for f in a11y.findings_from_axe(a11y.run_axe(page, Axe())) if f.fails]


@pytest.mark.parametrize(("fault", "path", "scheme", "logged_in", "rule", "criterion"), [
    ("img-missing-alt", "/logged-out", "light", False, "image-alt", "1.1.1"),
    ("low-contrast-dark", "/settings", "dark", True, "color-contrast", "1.4.3"),
    ("unlabelled-input", "/settings", "light", True, "label", "4.1.2"),
])
def test_axe_catches_the_fault_and_names_the_criterion(open_page: Callable, faults: FaultSwitch, fault: str,
                                                        path: str, scheme: str, logged_in: bool, rule: str,
                                                        criterion: str) -> None:
    assert _axe(open_page(path, scheme=scheme, logged_in=logged_in)) == []
    faults(fault)
    found = _axe(open_page(path, scheme=scheme, logged_in=logged_in))
    assert rule in {f.rule for f in found}, [f.describe() for f in found]
    message = a11y.failure_message(path, found)
    assert f"WCAG {criterion}" in message and a11y.requirement_id(criterion) in message and "BR-A11Y-1" in message


def test_the_keyboard_check_catches_the_keyboard_trap(open_page: Callable, faults: FaultSwitch) -> None:
    assert a11y.page_checks(open_page("/settings"), viewport=VIEWPORT) == []
    faults("keyboard-trap")
    found = a11y.page_checks(open_page("/settings"), viewport=VIEWPORT)
    assert [f.rule for f in found] == ["keyboard-trap"]
    assert "WCAG 2.1.2" in found[0].describe() and "WCAG-2-1-2" in found[0].requirements


def test_the_crawl_finds_each_page_once_and_never_logs_out(open_page: Callable, base_url: str) -> None:
    page = open_page("/")
    pages = a11y.crawl(page, f"{base_url.rstrip('/')}/login")  # a logged-in user's /login lands on the start page
    assert {"/", "/inbox", "/inbox/{id}", "/settings", "/my-data"} <= set(pages)
    assert "/login" not in pages and all(a11y.page_pattern(url) == key for key, url in pages.items())
    assert page.get_by_test_id("logout-button").count() == 1, "the crawl followed no link that logs out"
