"""The accessibility layer's own browser checks (harness/a11y.py), each pinned on small pages of our own: one that
must pass and one that must fail, for the ACT rule the check implements and the WCAG criterion it judges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import a11y, act

VIEWPORT = {"width": 1280, "height": 1024}


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api")
    with act.browser_page(VIEWPORT) as browser_page:
        yield browser_page


def _page(body: str, head: str = "") -> str:
    return f'<!doctype html><html lang="sv"><head><title>Prov</title>{head}</head><body>{body}</body></html>'


def _found(page: Any, html: str, *checks: str) -> dict[str, list[str]]:
    page.set_viewport_size(VIEWPORT)
    page.set_content(html)
    return {f.rule: list(f.targets) for f in a11y.page_checks(page, viewport=VIEWPORT, only=checks)}


# --- 1.4.12 text spacing in style attributes (ACT 24afc2, 9e45ec, 78fd32) --------------------------------------------
LONG = "Kallelsen till mottagningen kom i brevlådan en regnig tisdag i november, långt efter att tiden passerat."


@pytest.mark.parametrize(("prop", "low", "enough"), [
    ("letter-spacing", "0.08em", "0.14em"),
    ("word-spacing", "0.1em", "0.2em"),
    ("line-height", "1.1", "1.6"),
])
def test_important_spacing_below_wcag_is_found_and_enough_spacing_passes(page: Any, prop: str, low: str,
                                                                        enough: str) -> None:
    text = f'<p id="text" style="max-width: 180px; {prop}: {{}} !important">{LONG}</p>'
    assert _found(page, _page(text.format(low)), "text-spacing") == {prop: ["#text"]}
    assert _found(page, _page(text.format(enough)), "text-spacing") == {}
    assert _found(page, _page(text.format(low).replace(" !important", "")), "text-spacing") == {}


def test_spacing_counts_only_for_an_element_with_visible_text_of_its_own(page: Any) -> None:
    wrapper = ('<section style="letter-spacing: 0.02em !important; word-spacing: 0 !important">'
               f'<p style="letter-spacing: 0.2em !important">{LONG}</p></section>')
    assert _found(page, _page(wrapper), "text-spacing") == {}
    assert _found(page, _page('<div style="letter-spacing: 0.02em !important"></div>'), "text-spacing") == {}
    off_page = f'<p style="position: absolute; left: -9999px; letter-spacing: 0.02em !important">{LONG}</p>'
    assert _found(page, _page(off_page), "text-spacing") == {}


def test_inherit_and_unset_take_the_parents_spacing_which_is_not_important(page: Any) -> None:
    for value in ("inherit", "unset"):
        html = (f'<div style="letter-spacing: 0.02em"><span style="letter-spacing: {value} !important">{LONG}'
                "</span></div>")
        assert _found(page, _page(html), "text-spacing") == {}
    assert _found(page, _page(f'<p id="p" style="letter-spacing: normal !important">{LONG}</p>'),
                  "text-spacing") == {"letter-spacing": ["#p"]}


def test_line_height_matters_only_for_text_that_wraps(page: Any) -> None:
    assert _found(page, _page('<p style="line-height: 1 !important">Kort rad</p>'), "text-spacing") == {}
    assert _found(page, _page(f'<p id="p" style="width: 150px; line-height: normal !important">{LONG}</p>'),
                  "text-spacing") == {"line-height": ["#p"]}


# --- 1.4.4 text clipped at 200 % zoom, a 640 by 512 viewport (ACT 59br37) ------------------------------------------
def test_text_cut_off_by_overflow_at_200_percent_zoom_is_found(page: Any) -> None:
    narrow = "@media (max-width: 700px) { .ruta { height: 1.4em; width: 40%; overflow: hidden; } }"
    found = _found(page, _page(f'<div class="ruta" id="ruta">{LONG} {LONG}</div>', f"<style>{narrow}</style>"),
                   "text-zoom")
    assert found == {"text-zoom": ["#ruta"]}
    wide_only = narrow.replace("max-width: 700px", "max-width: 400px")
    assert _found(page, _page(f'<div class="ruta">{LONG} {LONG}</div>', f"<style>{wide_only}</style>"),
                  "text-zoom") == {}


def test_clipping_on_purpose_or_with_a_way_to_scroll_is_not_a_loss(page: Any) -> None:
    ellipsis = f'<div style="overflow: hidden; white-space: nowrap; text-overflow: ellipsis">{LONG * 3}</div>'
    one_line = f'<div style="overflow: hidden; height: 20px; line-height: 20px">{LONG * 3}</div>'
    scrolls = (f'<div style="overflow: hidden; height: 3em"><div style="overflow: auto; height: 3em">{LONG * 4}'
               "</div></div>")
    screen_reader_only = ('<a href="#">Läs<span style="position: absolute; width: 1px; height: 1px; '
                          'overflow: hidden">mer om vaccinationer</span></a>')
    hidden_from_all = f'<div aria-hidden="true" style="overflow: hidden; height: 1em">{LONG * 3}</div>'
    for body in (ellipsis, one_line, scrolls, screen_reader_only, hidden_from_all):
        assert _found(page, _page(body), "text-zoom") == {}, body
    cut = '<div id="cut" style="overflow: hidden; height: 8px; white-space: nowrap; text-overflow: ellipsis">Kort</div>'
    assert _found(page, _page(cut), "text-zoom") == {"text-zoom": ["#cut"]}  # not even one whole line is left
    clip = f'<div id="clip" style="overflow-x: hidden; white-space: nowrap; width: 60px">{LONG}</div>'
    assert _found(page, _page(clip), "text-zoom") == {"text-zoom": ["#clip"]}


# --- 2.1.2 keyboard traps (ACT 80af7b, a1b64e, ebe86a) -----------------------------------------------------------
TIMER_TRAP = """<a href="#">Start</a>
<button id="fast" onblur="setTimeout(() => this.focus(), 5)">Spara</button>
<a href="#">Slut</a>"""


def test_a_trap_made_with_a_timer_is_found_every_time(page: Any) -> None:
    for _ in range(3):  # the walk waits for focus to be still, so the page's timers have run before it looks
        assert _found(page, _page(TIMER_TRAP), "keyboard") == {"keyboard-trap": ["#fast"]}


def test_leaving_the_page_in_one_direction_is_no_trap(page: Any) -> None:
    forward_only = """<button onblur="setTimeout(() => this.nextElementSibling.focus(), 5)">Ett</button>
    <button onblur="setTimeout(() => this.previousElementSibling.focus(), 5)">Två</button>"""
    assert "keyboard-trap" not in _found(page, _page(forward_only), "keyboard")


MODAL_LOOP = """<a href="#" id="forst">Först</a>
<div onkeydown="if (event.ctrlKey && event.key.toLowerCase() === 'q') { loop = false; sist.focus(); }">
  <button id="b1" onblur="if (loop) document.getElementById('{second}').focus()">Ett</button>
  {help}
  <button id="b2" onblur="if (loop) document.getElementById('b1').focus()">Två</button>
</div>
<a href="#" id="sist">Sist</a>
<script>var loop = true;</script>"""


def test_a_trap_the_page_explains_how_to_leave_is_allowed(page: Any) -> None:
    told = MODAL_LOOP.replace("{second}", "b2").replace("{help}", "<p>Tryck Ctrl+Q för att gå vidare.</p>")
    for _ in range(4):  # out of the trap, Tab from the last link leaves the page every time (to the walk's end stop)
        assert "keyboard-trap" not in _found(page, _page(told), "keyboard")
    silent = MODAL_LOOP.replace("{second}", "b2").replace("{help}", "")
    assert "keyboard-trap" in _found(page, _page(silent), "keyboard")
    wrong_key = told.replace("Ctrl+Q", "Alt+J")
    assert "keyboard-trap" in _found(page, _page(wrong_key), "keyboard")


def test_help_shown_by_a_control_inside_the_trap_counts(page: Any) -> None:
    help_link = ('<a href="#" id="hjalp" onclick="document.getElementById(\'text\').textContent = '
                 "'Tryck Ctrl+Q för att gå vidare.'\">Hur kommer jag vidare?</a><p id=\"text\"></p>")
    html = MODAL_LOOP.replace("{second}", "hjalp").replace("{help}", help_link)
    assert "keyboard-trap" not in _found(page, _page(html), "keyboard")


def test_an_open_modal_dialog_makes_the_rest_of_the_page_unreachable_on_purpose(page: Any) -> None:
    html = """<a href="#">Bakom</a><dialog id="d"><button>Stäng</button></dialog>
    <script>document.getElementById('d').showModal()</script>"""
    assert _found(page, _page(html), "keyboard") == {}
    assert "keyboard-reach" in _found(page, _page(html.replace(".showModal()", ".show()").replace(
        '<a href="#">', '<a href="#" tabindex="-1">')), "keyboard")


# --- 2.1.1 an iframe taken out of the tab order (ACT akn7bn) -------------------------------------------------------
def test_an_iframe_with_content_to_tab_to_must_stay_in_the_tab_order(page: Any) -> None:
    frame = '<iframe id="video" title="Videomöte" tabindex="-1" srcdoc="<button>Anslut</button>"></iframe>'
    assert _found(page, _page(frame), "iframe-tab-order") == {"iframe-tab-order": ["#video"]}
    for ok in (frame.replace('tabindex="-1"', 'tabindex="0"'), frame.replace("<button>", "<button tabindex=-1>"),
               frame.replace('tabindex="-1"', 'tabindex="-1" width="1" height="1"')):
        assert _found(page, _page(ok), "iframe-tab-order") == {}, ok


# --- 1.3.4 orientation (ACT b33eff), 2.4.7 visible focus (ACT oj04fd), 2.4.2 title (ACT 2779a5) ----------------
@pytest.mark.parametrize("turn", ["transform: rotate(90deg)", "rotate: 90deg", "rotate: z 0.25turn"])
def test_a_page_turned_a_quarter_in_one_orientation_is_locked(page: Any, turn: str) -> None:
    page.set_content(_page("<p>Text</p>", f"<style>@media (orientation: portrait) {{ html {{ {turn}; }} }}</style>"))
    assert a11y.orientation_locked(page)
    page.set_content(_page("<p>Text</p>", f"<style>html {{ {turn}; }}</style>"))  # turned in both: not locked
    assert not a11y.orientation_locked(page)


def test_focus_must_be_visible(page: Any) -> None:
    html = _page('<a href="#" id="l">Länk</a> <button id="b">Knapp</button>')
    assert _found(page, html, "keyboard") == {}
    hidden = html.replace("</head>", "<style>#b:focus { outline: none; }</style></head>")
    assert _found(page, hidden, "keyboard") == {"focus-visible": ["#b"]}


def test_a_page_needs_a_title(page: Any) -> None:
    assert _found(page, _page("<p>Text</p>"), "page-title") == {}
    assert "page-title" in _found(page, _page("<p>Text</p>").replace("<title>Prov</title>", "<title> </title>"),
                                  "page-title")


def test_an_unknown_check_is_an_error(page: Any) -> None:
    with pytest.raises(ValueError, match="unknown browser checks"):
        a11y.page_checks(page, viewport=VIEWPORT, only=["contrast"])


# --- 4.1.2 a summary needs a name (ACT 2t702h), 1.3.1 naming where the role forbids it (ACT kb1m8s) ---------------
def test_the_summary_of_a_details_element_needs_a_name(page: Any) -> None:
    details = "<details>{}<p>Mottagningen har öppet vardagar 8–17.</p></details>"
    for named in ("<summary>Öppettider</summary>", '<summary aria-label="Öppettider"></summary>',
                  '<summary><img src="data:," alt="Öppettider"></summary>',
                  '<summary role="button">Öppettider</summary><summary></summary>'):
        assert _found(page, _page(details.format(named)), "summary-name") == {}, named
    for unnamed in ('<summary id="s"></summary>', '<summary id="s" role="none"> </summary><summary>Öppettider'
                    "</summary>"):
        assert _found(page, _page(details.format(unnamed)), "summary-name") == {"summary-name": ["#s"]}, unnamed
    assert _found(page, _page("<div><summary></summary></div>"), "summary-name") == {}  # no details to open


def test_a_name_on_an_element_whose_role_forbids_one_is_found(page: Any) -> None:
    for allowed in ('<a href="#" aria-label="Till inkorgen">Inkorg</a>', '<nav aria-label="Huvudmeny"></nav>',
                    '<div role="group" aria-label="Kontaktuppgifter">Tel</div>', '<div aria-live="polite">Sparat</div>',
                    '<div hidden aria-label="Dold">Text</div>', '<button role="none" aria-label="Stäng">x</button>'):
        assert _found(page, _page(allowed), "prohibited-naming") == {}, allowed
    for forbidden in ('<div id="x" aria-label="Pris 100 kr">100</div>', '<p id="x" aria-labelledby="h">Text</p>',
                      '<span id="x" aria-roledescription="bricka">Ny</span>',
                      '<h2 id="x" role="none" aria-braillelabel="Rubrik">Rubrik</h2>'):
        assert _found(page, _page(forbidden), "prohibited-naming") == {"prohibited-naming": ["#x"]}, forbidden


# --- 1.4.4 a viewport that stops zooming (ACT b4f0c3) --------------------------------------------------------------
@pytest.mark.parametrize(("content", "locked"), [
    ("width=device-width, initial-scale=1", False), ("user-scalable=yes", False), ("maximum-scale=3", False),
    ("maximum-scale=device-width", False), ("maximum-scale=-1", False), ("user-scalable=2", False),
    ("user-scalable=no", True), ("maximum-scale=1.5", True), ("maximum-scale=yes", True),
    ("user-scalable=0.5", True), ("user-scalable=nej", True), ("initial-scale=1; maximum-scale=nej", True),
])
def test_a_viewport_that_stops_zooming_to_200_percent_is_found(page: Any, content: str, locked: bool) -> None:
    found = _found(page, _page("<p>Text</p>", f'<meta name="viewport" content="{content}">'), "meta-viewport")
    assert ("meta-viewport" in found) is locked


# --- 4.1.2 hidden content the keyboard reaches (ACT 6cfa84) --------------------------------------------------------
def test_content_hidden_with_aria_hidden_must_not_be_reached_with_the_keyboard(page: Any) -> None:
    for ok in ('<span aria-hidden="true">★</span> <a href="#">Favoriter</a>',
               '<div aria-hidden="true"><button tabindex="-1">Stäng</button></div>',
               '<div aria-hidden="true"><a href="/" hidden>Start</a><input disabled></div>',
               '<div aria-hidden="false"><button>Spara</button></div>',
               '<div aria-hidden="true"><a href="/" id="vakt">Vakt</a></div><input id="namn">'
               "<script>vakt.addEventListener('focus', () => namn.focus())</script>",
               '<div aria-hidden="true"><iframe srcdoc="<p>Karta</p>"></iframe></div>'):
        assert _found(page, _page(ok), "aria-hidden-focus") == {}, ok
    for reached in ('<div aria-hidden="true"><a id="x" href="/" style="position:absolute;left:-9999px">Till '
                    "toppen</a></div>",
                    '<p id="x" tabindex="0" aria-hidden="true">Ny tid bokad</p>',
                    '<div aria-hidden="true"><details><summary id="x">Mer</summary>Text</details></div>',
                    '<div aria-hidden="true"><div aria-hidden="false"><button id="x">Spara</button></div></div>',
                    '<div aria-hidden="true"><iframe id="x" srcdoc="<button>Anslut</button>"></iframe></div>'):
        assert _found(page, _page(reached), "aria-hidden-focus") == {"aria-hidden-focus": ["#x"]}, reached
    shadow = ('<div id="x" aria-hidden="true"></div><script>x.attachShadow({mode: "open"}).innerHTML = '
              "'<button>Dold knapp</button>'</script>")
    assert _found(page, _page(shadow), "aria-hidden-focus") == {"aria-hidden-focus": ["button"]}


# --- 1.3.1 a table header cell with no cells (ACT d0f69e) ----------------------------------------------------------
def test_a_table_header_cell_must_be_the_header_of_some_cell(page: Any) -> None:
    for ok in ("<table><tr><th>Datum</th><th>Mottagning</th></tr><tr><td>3 mars</td><td>Vårdcentralen</td></tr>"
               "</table>",
               "<table><tr><th>Dos</th><th>Tid</th></tr><tr><td colspan=2>Enligt ordination</td></tr></table>",
               "<table><tr><th>Vecka</th><th>Mån</th></tr><tr><th>1</th><td>Stängt</td></tr></table>",
               '<table><tr><th id="a">Namn</th><th id="b">Roll</th></tr><tr><td>Ada</td></tr>'
               '<tr><td headers="b">Läkare</td></tr></table>',
               '<div role="table"><div role="row"><span role="columnheader">Läkemedel</span></div>'
               '<div role="row"><span role="cell">Alvedon</span></div></div>',
               '<table role="presentation"><tr><th>Layout</th></tr></table>',
               '<table><tr><th role="cell">Ensam</th></tr></table>',
               '<table><tr><th style="display:none">Dold</th></tr><tr><td>1</td></tr></table>'):
        assert _found(page, _page(ok), "table-headers") == {}, ok
    for lonely in ("<table><tr><th>Dos</th><th id=\"x\">Tid</th></tr><tr><td>1 tablett</td></tr></table>",
                   '<table><tr><th id="a">Namn</th><th id="x">Roll</th></tr><tr><td>Ada</td>'
                   '<td headers="a">Läkare</td></tr></table>',
                   '<div role="grid"><div role="row"><span role="columnheader">Rum</span>'
                   '<span role="columnheader" id="x">Patient</span></div>'
                   '<div role="row"><span role="gridcell">1A</span></div></div>',
                   '<table><tr><th scope="row" id="x">Summa</th></tr><tr><td>100 kr</td></tr></table>'):
        assert _found(page, _page(lonely), "table-headers") == {"table-headers": ["#x"]}, lonely


# --- 1.4.3/1.4.6 contrast over a background image or gradient, where axe cannot tell (ACT afw4f7, 09o5cg) ----------
def _contrast(page: Any, body: str) -> dict[str, tuple[list[str], bool]]:
    page.set_viewport_size(VIEWPORT)
    page.set_content(_page(body))
    found = a11y.page_checks(page, viewport=VIEWPORT, only=["contrast-background"])
    return {f.rule: (list(f.targets), f.fails) for f in found}


def test_text_over_a_gradient_is_judged_by_the_pixels_behind_each_character(page: Any) -> None:
    toning = '<p id="x" style="color: {}; background: linear-gradient(to right, {}); width: 400px">Dina recept</p>'
    assert _contrast(page, toning.format("#111", "#fff, #eef")) == {}
    assert _contrast(page, toning.format("#999", "#fff, #ccc")) == {
        "contrast-background": (["#x"], True), "contrast-background-enhanced": (["#x"], False)}
    # 5.7:1 on white: enough for AA, not for AAA, which is reported without failing a run
    assert _contrast(page, toning.format("#666", "#fff, #fff 90%, #000")) == {
        "contrast-background-enhanced": (["#x"], False)}
    # text on the dark half of a split background fails though the light half would do
    split = ('<span id="x" style="color: #555; background: linear-gradient(90deg, #fff, #fff 2em, #000 2em); '
             'padding: 0 1em">Tider att boka</span>')
    assert "contrast-background" in _contrast(page, split)
    assert page.evaluate("getComputedStyle(document.getElementById('x')).color") == "rgb(85, 85, 85)"  # put back


def test_only_text_in_human_language_and_not_in_a_disabled_control_is_judged(page: Any) -> None:
    faint = "background: linear-gradient(#fff, #ddd); color: #bbb"
    for ok in (f'<p style="{faint}">→ ✓</p>', f'<button disabled style="{faint}">Skicka</button>',
               '<p style="background: #fff; color: #111">Vanlig text</p>'):
        assert _contrast(page, ok) == {}, ok
    assert "contrast-background" in _contrast(page, f'<button id="x" style="{faint}">Skicka</button>')
