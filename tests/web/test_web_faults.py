"""The web faults of the catalogue, each caught: the clean page is right and the faulty page is wrong.

Faults are switched at run time through the control API and restored afterwards; the tests share one worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from web_support import APP_UA, BROWSER_UA, Page, WebUser, contains_pnr

pytestmark = pytest.mark.xdist_group("faults")

# Colour pairs the stylesheet uses, as custom properties: text needs 4.5:1, borders and focus rings 3:1 (WCAG
# 1.4.3, 1.4.11). The pairs follow site.css: text on the page, on cards (surface), buttons, the ombud banner.
TEXT_PAIRS = [("fg", "bg"), ("muted", "bg"), ("accent", "bg"), ("error", "bg"), ("fg", "surface"),
              ("muted", "surface"), ("accent", "surface"), ("on-accent", "accent"), ("notice-fg", "notice-bg")]
NON_TEXT_PAIRS = [("focus", "bg"), ("focus", "surface"), ("border", "bg"), ("border", "surface")]


def relative_luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level (prelude, body) pairs, with nested braces kept inside the body."""
    out, depth, start, prelude_start = [], 0, 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append((css[prelude_start:start].strip(), css[start + 1:i]))
                prelude_start = i + 1
    return out


def _root_vars(body: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", body))


def colour_schemes(http: httpx.Client, page: Page) -> dict[str, dict[str, str]]:
    """The custom properties in light and dark mode, from the page's stylesheets in order (later ones win)."""
    light: dict[str, str] = {}
    dark_overrides: dict[str, str] = {}
    for link in page.css('link[rel="stylesheet"]'):
        css = re.sub(r"/\*.*?\*/", "", http.get(link.attributes["href"]).text, flags=re.S)
        for prelude, body in _blocks(css):
            if prelude == ":root":
                light.update(_root_vars(body))
            elif prelude.startswith("@media") and "prefers-color-scheme: dark" in prelude:
                for inner_prelude, inner_body in _blocks(body):
                    if inner_prelude == ":root":
                        dark_overrides.update(_root_vars(inner_body))
    return {"light": light, "dark": {**light, **dark_overrides}}


def failing_pairs(schemes: dict[str, dict[str, str]]) -> list[str]:
    failures = []
    for scheme, colours in schemes.items():
        for pairs, minimum in ((TEXT_PAIRS, 4.5), (NON_TEXT_PAIRS, 3.0)):
            for fg, bg in pairs:
                ratio = contrast(colours[fg], colours[bg])
                if ratio < minimum:
                    failures.append(f"{scheme}: --{fg} on --{bg} is {ratio:.2f}:1")
    return failures


def unlabelled(page: Page) -> list[str]:
    names = []
    for box in page.css('input[type="checkbox"], input[type="radio"], input:not([type])'):
        attrs = box.attributes
        labelled = bool(attrs.get("aria-label") or attrs.get("aria-labelledby")) or bool(
            attrs.get("id") and page.css(f'label[for="{attrs["id"]}"]'))
        if not labelled:
            names.append(attrs.get("name") or "?")
    return names


def test_print_shown_in_app_is_caught(new_web_user: Callable[..., WebUser], faults: Callable[..., None]) -> None:
    app_user = new_web_user("adult", user_agent=APP_UA)
    message = app_user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    clean = app_user.page(f"/inbox/{message}")
    assert not clean.has("print-button") and not clean.has("download-button")
    faults("print-shown-in-app")
    faulty = app_user.page(f"/inbox/{message}")
    assert faulty.has("print-button") and faulty.has("download-button"), "the fault shows them in the app"


def test_pnr_in_url_is_caught(new_web_user: Callable[..., WebUser], faults: Callable[..., None]) -> None:
    def urls_with_pnr(user: WebUser) -> list[str]:
        pnr = user.person["personnummer"]
        urls = [str(r.request.url) for r in user.trace] + [r.headers.get("location", "") for r in user.trace]
        return [u for u in urls if contains_pnr(u, pnr)]

    clean = new_web_user("adult", next_path="/inbox")
    assert urls_with_pnr(clean) == []
    assert clean.trace[-1].headers["location"] == "/inbox"
    faults("pnr-in-url")
    faulty = new_web_user("adult", next_path="/inbox")
    assert urls_with_pnr(faulty), "the fault puts the personnummer in the login redirect"
    welcome = faulty.get(faulty.trace[-1].headers["location"])
    assert welcome.status_code == 200, "the login still works: only the URL gives it away"


def test_img_missing_alt_is_caught(http: httpx.Client, faults: Callable[..., None]) -> None:
    def images_without_alt() -> list[str]:
        page = Page(http.get("/logged-out", headers={"User-Agent": BROWSER_UA}))
        return [img.attributes.get("src") or "" for img in page.css("img")
                if not (img.attributes.get("alt") or "").strip()]

    assert images_without_alt() == []
    faults("img-missing-alt")
    assert images_without_alt() == ["/static/logo.svg"]


def test_low_contrast_dark_is_caught(http: httpx.Client, faults: Callable[..., None]) -> None:
    def failures() -> list[str]:
        return failing_pairs(colour_schemes(http, Page(http.get("/logged-out"))))

    assert failures() == [], "every colour pair meets WCAG 2.1 AA in light and dark mode"
    faults("low-contrast-dark")
    found = failures()
    assert found and all(f.startswith("dark: --muted") for f in found), found


def test_unlabelled_input_is_caught(new_web_user: Callable[..., WebUser], faults: Callable[..., None]) -> None:
    user = new_web_user("adult")
    assert unlabelled(user.page("/settings")) == []
    faults("unlabelled-input")
    assert sorted(unlabelled(user.page("/settings"))) == ["email", "push", "sms"]


def test_missing_csp_is_caught(http: httpx.Client, faults: Callable[..., None]) -> None:
    def csp() -> str | None:
        return http.get("/logged-out").headers.get("content-security-policy")

    policy = csp()
    assert policy is not None and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    faults("missing-csp")
    assert csp() is None
