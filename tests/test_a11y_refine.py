"""The refinement of axe's results (harness/a11y.py ``refine_axe``), which the layer applies on every page: nodes the
criterion does not judge leave the result with their reason, everything else stays, on small pages of our own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import a11y, act

VIEWPORT = {"width": 1024, "height": 768}
FAINT = "color: #999; background: #fff"  # 2.8:1, below 4.5:1


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api")
    with act.browser_page(VIEWPORT) as browser_page:
        yield browser_page


@pytest.fixture(scope="module")
def axe() -> Any:
    sync_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")
    return sync_playwright.Axe()


def _axe_on(page: Any, axe: Any, body: str) -> dict[str, Any]:
    page.set_content(f'<!doctype html><html lang="sv"><head><title>Prov</title></head><body><main>{body}</main>'
                     "</body></html>")
    return a11y.run_axe(page, axe)


def _nodes(result: dict[str, Any], rule: str) -> list[str]:
    return [" ".join(map(str, node["target"])) for kind in ("violations", "incomplete") for found in result[kind]
            if found["id"] == rule for node in found["nodes"]]


def test_faint_text_in_words_still_fails_and_symbols_only_do_not(page: Any, axe: Any) -> None:
    words = f'<p id="ord" style="{FAINT}">Din tid hos vårdcentralen är bokad</p>'
    digits = f'<p id="siffror" style="{FAINT}">08:15</p>'
    result = _axe_on(page, axe, words + digits)
    assert _nodes(result, "color-contrast") == ["#ord", "#siffror"] and result["refined"] == []
    assert "color-contrast" in {f.rule for f in a11y.findings_from_axe(result) if f.fails}

    symbols = f'<p id="tecken" style="{FAINT}">→ ★★★ — ••• %</p>'
    icon_font = f'<span id="ikon" style="{FAINT}">\ue0a1</span>'  # a private-use glyph of an icon font
    result = _axe_on(page, axe, words + symbols + icon_font)
    assert _nodes(result, "color-contrast") == ["#ord"]
    assert {r["target"][0] for r in result["refined"] if r["rule"] == "color-contrast"} == {"#tecken", "#ikon"}
    assert all("human language" in r["reason"] for r in result["refined"])
    middle = '<p id="mellan" style="color: #666; background: #fff">Provsvaret finns i journalen</p>'  # 5.7:1
    result = _axe_on(page, axe, middle)  # the AAA rule (7:1) runs too; it is reported, not failed
    assert _nodes(result, "color-contrast") == [] and _nodes(result, "color-contrast-enhanced") == ["#mellan"]
    assert [f.fails for f in a11y.findings_from_axe(result) if f.rule == "color-contrast-enhanced"] == [False]


def test_a_lone_glyph_counts_only_where_no_author_name_replaces_it(page: Any, axe: Any) -> None:
    style = "color: #777; background: #eee"  # 3.9:1
    info = f'<button id="info" aria-label="Mer information om avgifter" style="{style}">i</button>'
    word = f'<button id="ok" aria-label="Bekräfta" style="{style}">OK</button>'  # a word is more than a glyph
    result = _axe_on(page, axe, info + word)
    assert _nodes(result, "color-contrast") == ["#ok"]  # axe could not tell for "i"; the name says it is an icon
    assert [r["target"][0] for r in result["refined"] if r["rule"] == "color-contrast"] == ["#info"]
    page_two = f'<button id="sida" aria-label="Sida 2" style="{style}">2</button>'  # the glyph is in the name
    bare = f'<button id="bar" style="{style}">A</button>'  # no other name: the letter is what is read
    spelled = f'<span id="bokstav" style="{style}">B</span>'
    page.set_content(f"<main>{info}{page_two}{bare}{spelled}</main>")
    nodes = [{"target": [f"#{name}"]} for name in ("info", "sida", "bar", "bokstav")]
    result = a11y.refine_axe(page, {"violations": [{"id": "color-contrast", "nodes": nodes}]})
    assert [n["target"] for n in result["violations"][0]["nodes"]] == [["#sida"], ["#bar"], ["#bokstav"]]


def test_inline_spacing_counts_only_on_text_of_its_own(page: Any, axe: Any) -> None:
    text = "Kallelsen kom i brevlådan en regnig tisdag i november."
    own = f'<p id="egen" style="letter-spacing: 0.05em !important">{text}</p>'
    result = _axe_on(page, axe, own)
    assert _nodes(result, "avoid-inline-spacing") == ["#egen"] and result["refined"] == []

    wrapper = f'<div id="ram" style="word-spacing: 0.05em !important"><p>{text}</p></div>'
    inherited = (f'<div style="letter-spacing: 0.05em"><span id="arv" style="letter-spacing: inherit !important">'
                 f"{text}</span></div>")
    result = _axe_on(page, axe, wrapper + inherited)
    assert _nodes(result, "avoid-inline-spacing") == []
    assert "avoid-inline-spacing" not in {f.rule for f in a11y.findings_from_axe(result)}
    assert {r["target"][0] for r in result["refined"]} >= {"#ram"}


def test_a_node_the_page_cannot_resolve_is_kept_as_axe_has_it(page: Any) -> None:
    page.set_content('<!doctype html><html lang="sv"><title>Prov</title><p id="p">→</p></html>')
    in_frame = {"id": "color-contrast", "nodes": [{"target": ["iframe", "#p"]}]}
    gone = {"id": "color-contrast", "nodes": [{"target": ["#finns-inte"]}]}
    other = {"id": "image-alt", "nodes": [{"target": ["#p"]}]}
    result = a11y.refine_axe(page, {"violations": [in_frame, gone, other], "incomplete": []})
    assert result["violations"] == [in_frame, gone, other] and result["refined"] == []
    result = a11y.refine_axe(page, {"violations": [{"id": "color-contrast", "nodes": [{"target": ["#p"]}]}]})
    assert result["violations"] == [] and result["refined"][0]["target"] == ["#p"]
