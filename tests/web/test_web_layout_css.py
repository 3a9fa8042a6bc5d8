"""The menu fits on one line on a 1280 px desktop and folds into whole cells at 320 CSS px without sideways
scrolling (BR-A11Y-1: WCAG 1.4.10 reflow). No browser here: the stylesheet's rules are read as CSS and the menu's
width is estimated from its labels with a generous width per character."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tinycss2

SUT = Path(__file__).resolve().parents[2] / "sut"
ROOT_PX = 16
# Wider than the mean glyph of any sans-serif system font in bold (about 0.5 em): the estimate errs on the safe side.
CHAR_EM = 0.6


def labels() -> list[str]:
    """The main menu's labels, as the layout lists them."""
    layout = (SUT / "templates" / "layout.html").read_text(encoding="utf-8")
    found = re.findall(r'\("[\w-]+", "/[\w-]*", "([^"]+)"\)', layout)
    assert len(found) >= 8, found
    return found


def px(value: str) -> float:
    number = re.fullmatch(r"(-?[\d.]+)(px|rem|em)?", value.strip())
    assert number, f"not a length: {value!r}"
    return float(number[1]) * (1 if number[2] == "px" or number[1] == "0" else ROOT_PX)


def media_matches(prelude: str, width: int) -> bool:
    """Width conditions only; print and colour-scheme blocks hold no layout of the screen's width."""
    if "print" in prelude or "prefers-" in prelude:
        return False
    for kind, length in re.findall(r"\((min|max)-width:\s*([\d.]+(?:px|rem|em))\)", prelude):
        if (kind == "min" and width < px(length)) or (kind == "max" and width > px(length)):
            return False
    return True


def declarations(selector: str, width: int) -> dict[str, str]:
    """The declarations for ``selector`` at a viewport ``width``, later rules winning, as the cascade has it."""
    sheet = (SUT / "static" / "site.css").read_text(encoding="utf-8")
    found: dict[str, str] = {}

    def take(rules: list) -> None:
        for rule in rules:
            if rule.type == "at-rule" and rule.at_keyword == "media" and rule.content is not None:
                if media_matches(tinycss2.serialize(rule.prelude), width):
                    take(tinycss2.parse_rule_list(rule.content, skip_whitespace=True, skip_comments=True))
            elif rule.type == "qualified-rule":
                selectors = [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
                if selector in selectors:
                    for item in tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True,
                                                               skip_comments=True):
                        if item.type == "declaration":
                            found[item.lower_name] = tinycss2.serialize(item.value).strip()

    take(tinycss2.parse_stylesheet(sheet, skip_whitespace=True, skip_comments=True))
    return found


def gap(rules: dict[str, str]) -> float:
    return px(rules.get("gap", "0").split()[-1])  # the column gap is the last value


def padding_x(rules: dict[str, str]) -> float:
    parts = rules.get("padding", "0").split()
    return 2 * px(parts[1] if len(parts) > 1 else parts[0])


def test_the_menu_fits_on_one_line_at_1280_px() -> None:
    width = 1280
    menu = declarations(".site-nav ul", width)
    assert menu.get("display") == "flex" and menu.get("flex-wrap") == "nowrap", menu
    room = min(width, px(menu["max-width"])) - padding_x(menu)
    names = labels()
    needed = sum(len(name) for name in names) * CHAR_EM * ROOT_PX + gap(menu) * (len(names) - 1)
    assert needed <= room, f"the menu needs about {needed:.0f} px and has {room:.0f} px"
    assert declarations(".site-nav li", width).get("flex") == "none", "no label is squeezed onto two lines"


@pytest.mark.parametrize("width", [320, 375, 768])
def test_the_menu_folds_into_whole_cells_on_a_phone(width: int) -> None:
    menu = declarations(".site-nav ul", width)
    assert menu.get("display") == "grid" and "nowrap" not in menu.get("flex-wrap", ""), menu
    column = re.search(r"minmax\(min\(100%,\s*([\d.]+rem)\),\s*1fr\)", menu["grid-template-columns"])
    assert column, menu["grid-template-columns"]
    room = min(width, px(menu.get("max-width", f"{width}px"))) - padding_x(menu)
    assert px(column[1]) * 2 + gap(menu) <= room, "at least two columns"
    longest = max(len(name) for name in labels()) * CHAR_EM * ROOT_PX
    assert longest <= px(column[1]), "every label fits its cell"


def test_nothing_is_wider_than_a_phone() -> None:
    """No fixed width or minimum width above 320 CSS px outside the desktop rules, so nothing forces scrolling."""
    sheet = (SUT / "static" / "site.css").read_text(encoding="utf-8")
    for rule in tinycss2.parse_stylesheet(sheet, skip_whitespace=True, skip_comments=True):
        if rule.type != "qualified-rule":
            continue
        for item in tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True, skip_comments=True):
            if item.type == "declaration" and item.lower_name in {"width", "min-width"}:
                value = tinycss2.serialize(item.value).strip()
                if re.fullmatch(r"[\d.]+(px|rem|em)", value):
                    assert px(value) <= 320, (tinycss2.serialize(rule.prelude), item.lower_name, value)
