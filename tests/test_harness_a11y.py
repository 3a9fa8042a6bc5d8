"""harness/a11y.py: axe findings named by WCAG criterion, EN 301 549 clause and requirement; the browser checks axe
does not make; the manual-check register; the draft accessibility statement."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import a11y
from harness.requirements import load_catalogue

CATALOGUE = load_catalogue()
VIEWPORT = {"width": 1024, "height": 700}


def _violation(rule: str, tags: list[str], help_text: str = "Hjälp") -> dict[str, Any]:
    return {"id": rule, "tags": tags, "help": help_text, "impact": "serious", "helpUrl": "https://example.invalid/",
            "nodes": [{"target": ["main img"]}, {"target": ["footer img"]}]}


def test_criteria_and_clauses_come_from_axe_tags() -> None:
    tags = ["cat.color", "wcag2aa", "wcag143", "wcag1410", "EN-301-549", "EN-9.1.4.3", "ACT"]
    assert a11y.criteria_from_tags(tags) == ("1.4.3", "1.4.10")
    assert a11y.en_clauses(tags, ("1.4.3",)) == ("9.1.4.3",)
    # Older engines carry no EN tags: the clause follows from the criterion (EN 301 549 clause 9 is WCAG's web part).
    assert a11y.en_clauses(["wcag2a", "wcag111"], ("1.1.1",)) == ("9.1.1.1",)


def test_wcag21_aa_fails_and_wcag22_and_best_practice_are_reported() -> None:
    result = {"violations": [_violation("image-alt", ["wcag2a", "wcag111", "EN-9.1.1.1"]),
                             _violation("target-size", ["wcag22aa", "wcag258"]),
                             _violation("region", ["best-practice"])]}
    found = {f.rule: f for f in a11y.findings_from_axe(result, known=CATALOGUE.requirements)}
    assert found["image-alt"].fails
    assert found["image-alt"].requirements == ("WCAG-1-1-1", "BR-A11Y-1", "DOS-10", "MDFFS-4-5")
    assert not found["target-size"].fails and not found["region"].fails
    # WCAG 2.2's 2.5.8 is outside the catalogue (DOS-lagen asks for 2.1): reported, but no requirement is claimed.
    assert "WCAG-2-5-8" not in found["target-size"].requirements
    stricter = a11y.Policy.with_extra(["wcag22aa"])
    assert [f.rule for f in a11y.findings_from_axe(result, stricter) if f.fails] == ["image-alt", "target-size"]


def test_failure_message_names_criterion_clause_and_requirement() -> None:
    found = a11y.findings_from_axe({"violations": [_violation("color-contrast", ["wcag2aa", "wcag143"],
                                                              "Text must have sufficient contrast")]})
    message = a11y.failure_message("/inbox (inloggad, android, mörkt)", found)
    assert "1 brott mot WCAG 2.1 A/AA" in message
    for part in ("color-contrast", "WCAG 1.4.3", "EN 301 549 9.1.4.3", "WCAG-1-4-3", "BR-A11Y-1", "main img"):
        assert part in message


def test_every_criterion_the_checks_name_is_in_the_catalogue() -> None:
    for criterion in ("1.1.1", "1.3.1", "1.3.4", "1.4.3", "1.4.4", "1.4.10", "1.4.12", "2.1.1", "2.1.2", "2.4.2",
                      "2.4.7", "3.1.1", "3.3.2", "4.1.2"):
        assert a11y.requirement_id(criterion) in CATALOGUE
    wcag = [r for r in CATALOGUE.requirements if r.startswith("WCAG-")]
    assert len(wcag) == 50  # every level A and AA success criterion of WCAG 2.1 (EN 301 549 V3.2.1 Annex A)


def test_page_pattern_and_duplicate_titles() -> None:
    assert a11y.page_pattern("http://h/inbox/7ba639c1-4ee1-4d01-8371-78982597b0ef") == "/inbox/{id}"
    assert a11y.page_pattern("http://h/video/123?x=1") == "/video/{id}"
    assert a11y.page_pattern("http://h/my-data") == "/my-data"
    assert a11y.duplicate_titles({"/a": "Start – 1177", "/b": "Start – 1177", "/c": "Inkorg – 1177"}) == {
        "Start – 1177": ["/a", "/b"]}
    assert a11y.SKIP_PATHS.search("/inbox/1/download") and a11y.SKIP_PATHS.search("/my-data/export.json")
    assert not a11y.SKIP_PATHS.search("/inbox")


# --- the manual-check register ----------------------------------------------------------------------------------------
CHECK = """checks:
  - criterion: WCAG-1-3-3
    title: Sensoriska egenskaper
    who: Tillgänglighetsgranskare
    approver: Tillgänglighetsansvarig
    when: 2026-01-10
    result: {result}
    evidence: https://dokument.example.invalid/1
    expiry: {expiry}
"""


def _register(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manual-checks.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_projects_register_is_valid_and_current() -> None:
    checks = a11y.load_manual_checks(known=CATALOGUE.requirements)
    assert checks and all(c.result in a11y.MANUAL_RESULTS for c in checks)
    assert not [c for c in checks if c.expired(dt.date(2026, 12, 2))]


def test_an_expired_check_is_reported_and_no_longer_counts(tmp_path: Path) -> None:
    path = _register(tmp_path, CHECK.format(result="godkänd", expiry="2026-06-30"))
    (check,) = a11y.load_manual_checks(path, known=CATALOGUE.requirements)
    assert not check.expired(dt.date(2026, 6, 30)) and check.expired(dt.date(2026, 7, 1))
    statement = a11y.build_statement([], [check], CATALOGUE.requirements, today=dt.date(2026, 7, 1),
                                     axe="axe-core 4.12.1", coverage="1 sida")
    assert statement.expired == [check] and "1.3.3" in statement.pending
    assert "gick ut 2026-06-30" in statement.render("md")


@pytest.mark.parametrize(("text", "message"), [
    (CHECK.format(result="ok", expiry="2027-01-01"), "line 2: result must be one of godkänd"),
    (CHECK.format(result="godkänd", expiry="snart"), "line 9: 'expiry' must be a date"),
    (CHECK.format(result="godkänd", expiry="2025-01-01"), "line 2: expiry is before the check was made"),
    (CHECK.format(result="godkänd", expiry="2027-01-01").replace("WCAG-1-3-3", "WCAG-9-9-9"),
     "criterion 'WCAG-9-9-9' is not in the catalogue"),
    (CHECK.format(result="godkänd", expiry="2027-01-01") + "    signed: yes\n", "line 10: unknown key 'signed'"),
    (CHECK.format(result="godkänd", expiry="2027-01-01").replace("https://", "file:///"), "evidence must be"),
    (CHECK.format(result="godkänd", expiry="2027-01-01").replace("    approver: Tillgänglighetsansvarig\n", ""),
     "line 2: missing approver"),
])
def test_a_broken_register_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(a11y.RegisterError, match=r"manual-checks\.yaml") as error:
        a11y.load_manual_checks(_register(tmp_path, text), known=CATALOGUE.requirements)
    assert message in str(error.value)


# --- the statement ----------------------------------------------------------------------------------------------------
def test_statement_has_digg_s_parts_and_follows_the_findings(tmp_path: Path) -> None:
    found = a11y.findings_from_axe({"violations": [_violation("image-alt", ["wcag2a", "wcag111"],
                                                              "Bilder måste ha alternativtext")]})
    checks = [a11y.ManualCheck(criterion=c, title="t", who="granskare", when=dt.date(2026, 11, 1),
                               result="godkänd", evidence="https://e.invalid/", expiry=dt.date(2027, 5, 1))
              for c in CATALOGUE.requirements if c.startswith("WCAG-")]
    clean = a11y.build_statement([], checks, CATALOGUE.requirements, today=dt.date(2026, 12, 2),
                                 axe="axe-core 4.12.1", coverage="14 sidor")
    assert clean.status == "helt" and not clean.pending
    timing = next(c for c in checks if c.criterion == "WCAG-2-2-1")
    failed = dataclasses.replace(timing, result="underkänd", note="Sessionen avslutas utan varning.")
    broken = a11y.build_statement([("/start", f) for f in found], [*checks, failed], CATALOGUE.requirements,
                                  today=dt.date(2026, 12, 2), axe="axe-core 4.12.1", coverage="14 sidor")
    assert broken.status == "delvis"
    md, html = broken.write(tmp_path)
    text = md.read_text(encoding="utf-8")
    for part in ("delvis förenlig", "WCAG 1.1.1 Non-text content", "Bilder måste ha alternativtext", "/start",
                 "2026-12-02", "axe-core 4.12.1", "Rapportera brister", "https://www.digg.se/tdosanmalan",
                 "Sessionen avslutas utan varning. Hittat vid manuell granskning 2026-11-01."):
        assert part in text
    assert ".." not in text  # a gap's own full stop and the sentence's are one
    page = html.read_text(encoding="utf-8")
    assert '<html lang="sv">' in page and 'data-status="delvis"' in page
    assert '<a href="https://www.digg.se/tdosanmalan">' in page


def test_half_the_criteria_failing_is_not_compliant() -> None:
    many = [("/", a11y.finding(f"r{n}", "fel", [c.removeprefix("WCAG-").replace("-", ".")]))
            for n, c in enumerate(sorted(r for r in CATALOGUE.requirements if r.startswith("WCAG-"))[:25])]
    statement = a11y.build_statement(many, [], CATALOGUE.requirements, today=dt.date(2026, 12, 2), axe="a",
                                     coverage="c")
    assert statement.status == "inte" and statement.status_text == "inte förenlig"


# --- the checks axe does not make, in a real browser ------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium_page() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    from harness.act import launch_chromium

    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        yield page
        browser.close()


def _rules(page: Any, html: str) -> dict[str, a11y.Finding]:
    page.set_content(html)
    return {f.rule: f for f in a11y.page_checks(page, viewport=VIEWPORT)}


GOOD = """<!doctype html><html lang="sv"><head><title>Start</title></head><body>
<a href="#a">Ett</a> <button>Två</button> <input aria-label="Tre"></body></html>"""


def test_a_good_page_passes_every_browser_check(chromium_page: Any) -> None:
    assert _rules(chromium_page, GOOD) == {}


def test_a_keyboard_trap_is_found(chromium_page: Any) -> None:
    trap = GOOD.replace("<input", """<div id="box"><input id="f1" aria-label="a"><input id="f2" aria-label="b"></div>
    <script>document.getElementById('box').addEventListener('keydown', e => {
      if (e.key !== 'Tab') return; e.preventDefault();
      document.getElementById(document.activeElement.id === 'f1' ? 'f2' : 'f1').focus(); });</script><input""")
    found = _rules(chromium_page, trap)
    assert list(found) == ["keyboard-trap"] and found["keyboard-trap"].requirements[0] == "WCAG-2-1-2"


def test_focus_reach_reflow_text_size_spacing_language_and_title(chromium_page: Any) -> None:
    assert "focus-visible" in _rules(chromium_page, GOOD.replace("<head>", "<head><style>:focus{outline:none}"
                                                                           "</style>"))
    assert "keyboard-reach" in _rules(chromium_page, GOOD.replace("<button>", '<button tabindex="-1">'))
    assert "reflow" in _rules(chromium_page, GOOD.replace("</body>", '<div style="width:600px">bred</div></body>'))
    clipped = GOOD.replace("</body>", '<p style="height:20px;overflow:hidden;font-size:16px">Text som klipps '
                                      'när den blir dubbelt så stor</p></body>')
    assert "text-resize" in _rules(chromium_page, clipped)
    spaced = GOOD.replace("</body>", '<p style="letter-spacing:0.05em !important">Tätt</p></body>')
    assert set(_rules(chromium_page, spaced)) == {"letter-spacing"}
    found = _rules(chromium_page, GOOD.replace('lang="sv"', 'lang="en"').replace("<title>Start</title>", ""))
    assert {"page-language", "page-title"} <= set(found)
    assert found["page-language"].criteria == ("3.1.1",) and found["page-title"].criteria == ("2.4.2",)


def test_orientation_lock_is_found(chromium_page: Any) -> None:
    chromium_page.set_content("""<html lang="sv"><style>@media (orientation: portrait) {
      html { transform: rotate(90deg); } }</style><body><p>Text</p></body></html>""")
    assert a11y.orientation_locked(chromium_page)
    chromium_page.set_content(GOOD)
    assert not a11y.orientation_locked(chromium_page)


def test_the_statement_page_is_itself_accessible(chromium_page: Any, tmp_path: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = a11y.findings_from_axe({"violations": [_violation("image-alt", ["wcag2a", "wcag111"])]})
    statement = a11y.build_statement([("/start", f) for f in found], [], CATALOGUE.requirements,
                                     today=dt.date(2026, 12, 2), axe="axe-core 4.12.1", coverage="1 sida")
    chromium_page.set_content(statement.render("html"))
    result = Axe().run(chromium_page).response
    assert [f.describe() for f in a11y.findings_from_axe(result) if f.fails] == []
    assert a11y.page_checks(chromium_page, viewport=VIEWPORT) == []
