"""Accessibility findings: axe-core results and the harness's own browser checks, judged against WCAG and DOS-lagen.

An axe result names its rule and tags (``wcag2aa``, ``wcag143``, ``EN-9.1.4.3``); this module turns each into a
:class:`Finding` with the WCAG success criteria, the EN 301 549 clauses and the requirement IDs of
``requirements/catalogue/legal-a11y.yaml`` it breaks, and decides by the :class:`Policy` whether it fails the run
(WCAG 2.0/2.1 A and AA, the level DOS-lagen requires through EN 301 549) or is only reported (WCAG 2.2,
best practice). The checks axe does not make, or makes with false alarms (reflow, 200 % text and zoom, zoom locked
by the viewport, keyboard reach and traps, visible focus, iframes out of the tab order, text spacing, orientation,
titles, language, summary names, names where the role forbids one, content hidden with aria-hidden that the keyboard
reaches, table header cells that head no cell, contrast over a background image or gradient) run as scripts in the
page and give findings of the same kind; harness/act.py measures them on the W3C ACT rules' test cases.

Pytest-free: ``suites/a11y`` and the ACT measurement (harness/act.py) both use it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANUAL_CHECKS = ROOT / "requirements" / "manual-checks.yaml"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# DOS-lagen requires EN 301 549 V3.2.1, that is WCAG 2.1 A and AA (MDFFS 4-5 §§): these tags fail a run.
FAILING_TAGS = frozenset({"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"})
# Every finding serves the app's own rule and the law behind it.
BASE_REQUIREMENTS = ("BR-A11Y-1", "DOS-10", "MDFFS-4-5")
DIGG_COMPLAINT_URL = "https://www.digg.se/tdosanmalan"
_CRITERION_TAG = re.compile(r"^wcag(\d)(\d)(\d+)$")
_EN_TAG = re.compile(r"^EN-(\d+(?:\.\d+)+)$")


def criteria_from_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """WCAG success criteria from axe's tags: ``wcag1410`` is 1.4.10; level tags (``wcag21aa``) are not criteria."""
    found = []
    for tag in tags:
        match = _CRITERION_TAG.match(tag)
        if match:
            found.append(".".join(match.groups()))
    return tuple(dict.fromkeys(found))


def en_clauses(tags: Iterable[str], criteria: Iterable[str]) -> tuple[str, ...]:
    """EN 301 549 clauses: axe's ``EN-9.x.x.x`` tags, else clause 9 (web content) of each WCAG criterion."""
    tags = list(tags)
    clauses = [m.group(1) for m in map(_EN_TAG.match, tags) if m]
    return tuple(dict.fromkeys(clauses or [f"9.{c}" for c in criteria]))


def requirement_id(criterion: str) -> str:
    return "WCAG-" + criterion.replace(".", "-")


@dataclass(frozen=True)
class Policy:
    """Which findings fail: by default WCAG 2.0/2.1 A and AA; ``also_fail`` adds tags such as ``wcag22aa``."""

    fail_tags: frozenset[str] = FAILING_TAGS

    @classmethod
    def with_extra(cls, extra: Iterable[str]) -> Policy:
        return cls(FAILING_TAGS | {t.strip() for t in extra if t.strip()})

    def fails(self, tags: Iterable[str]) -> bool:
        return bool(self.fail_tags & set(tags))


@dataclass(frozen=True)
class Finding:
    """One rule broken on one page: what, where, and which criteria, clauses and requirements it breaks."""

    rule: str
    description: str
    criteria: tuple[str, ...]
    clauses: tuple[str, ...]
    requirements: tuple[str, ...]
    fails: bool
    targets: tuple[str, ...] = ()
    source: str = "axe"
    impact: str | None = None
    help_url: str | None = None
    tags: tuple[str, ...] = ()

    def describe(self) -> str:
        wcag = ", ".join(f"WCAG {c}" for c in self.criteria) or "bästa praxis"
        en = ", ".join(f"EN 301 549 {c}" for c in self.clauses)
        where = ", ".join(self.targets[:3]) + (f" (+{len(self.targets) - 3})" if len(self.targets) > 3 else "")
        return (f"{self.rule} [{wcag}{'; ' + en if en else ''}; {', '.join(self.requirements)}]: "
                f"{self.description}{' – ' + where if where else ''}")

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "description": self.description, "criteria": list(self.criteria),
                "clauses": list(self.clauses), "requirements": list(self.requirements), "fails": self.fails,
                "targets": list(self.targets), "source": self.source, "impact": self.impact,
                "help_url": self.help_url}


def _requirements(criteria: Iterable[str], known: Iterable[str] | None) -> tuple[str, ...]:
    ids = [requirement_id(c) for c in criteria]
    if known is not None:
        known = set(known)
        ids = [i for i in ids if i in known]  # WCAG 2.2 criteria are outside the catalogue: reported, not claimed
    return (*ids, *BASE_REQUIREMENTS)


def finding(rule: str, description: str, criteria: Sequence[str], targets: Sequence[str] = (),
            *, known: Iterable[str] | None = None) -> Finding:
    """A finding of the harness's own browser checks: always WCAG 2.1 A/AA, so it fails."""
    return Finding(rule=rule, description=description, criteria=tuple(criteria),
                   clauses=tuple(f"9.{c}" for c in criteria), requirements=_requirements(criteria, known),
                   fails=True, targets=tuple(targets), source="browser")


def findings_from_axe(result: Mapping[str, Any], policy: Policy = Policy(), *,
                      known: Iterable[str] | None = None) -> list[Finding]:
    """Every violation of an axe result as a finding (``incomplete`` ones need a person and are left out)."""
    known = list(known) if known is not None else None
    out = []
    for violation in result.get("violations", []):
        tags = tuple(violation.get("tags", ()))
        criteria = criteria_from_tags(tags)
        targets = tuple(" ".join(map(str, node.get("target", []))) for node in violation.get("nodes", []))
        out.append(Finding(rule=violation["id"], description=violation.get("help", ""), criteria=criteria,
                           clauses=en_clauses(tags, criteria), requirements=_requirements(criteria, known),
                           fails=policy.fails(tags), targets=targets, impact=violation.get("impact"),
                           help_url=violation.get("helpUrl"), tags=tags))
    return out


def axe_version(result: Mapping[str, Any]) -> str:
    engine = result.get("testEngine") or {}
    return f"{engine.get('name', 'axe-core')} {engine.get('version', '?')}"


def failure_message(where: str, findings: Sequence[Finding]) -> str:
    """The assertion message: each failing finding with its criteria, clauses and requirement IDs."""
    failing = [f for f in findings if f.fails]
    lines = [f"{where}: {len(failing)} brott mot WCAG 2.1 A/AA"]
    lines += [f"  - {f.describe()}" for f in failing]
    return "\n".join(lines)


# --- the checks axe does not make -------------------------------------------------------------------------------------
# Each script runs in the page and returns a list of CSS-like paths of the elements that break the criterion.

_PATH_JS = """
const pathOf = (el) => {
  if (!el || el.nodeType !== 1) return String(el);
  if (el.id) return '#' + el.id;
  const parts = [];
  for (let e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
    let part = e.localName;
    const testid = e.getAttribute('data-testid');
    if (testid) { parts.unshift(part + '[data-testid="' + testid + '"]'); break; }
    const same = e.parentElement ? [...e.parentElement.children].filter(c => c.localName === e.localName) : [];
    if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(e) + 1) + ')';
    parts.unshift(part);
  }
  return parts.join(' > ');
};
const visible = (el) => {
  const s = getComputedStyle(el); const r = el.getBoundingClientRect();
  return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0;
};
// The element's own visible text nodes: not empty, rendered, and not moved off the page (top: -999em).
const ownText = (el) => [...el.childNodes].filter(n => {
  if (n.nodeType !== 3 || !n.textContent.trim()) return false;
  const range = document.createRange(); range.selectNodeContents(n);
  const r = range.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.right + scrollX > 0 && r.bottom + scrollY > 0;
});
"""

# 1.4.4: a text node cut off by an ancestor's overflow hidden/clip (WCAG's resize text, as ACT rule 59br37 has it):
# an ancestor that scrolls keeps its content reachable; a box exactly one line tall and nowrap text with an ellipsis
# are clipped on purpose (cleanly, to a whole line or with a mark); a box of 1 px or less hides text for screen
# readers only.
CLIPPED_TEXT_JS = _PATH_JS + """
() => {
  const out = [];
  const root = document.body || document.documentElement;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const lineHeight = (s) => s.lineHeight === 'normal' ? 1.2 * parseFloat(s.fontSize) : parseFloat(s.lineHeight);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !(el instanceof HTMLElement) || !visible(el)) continue;
    if (el.closest('[aria-hidden="true"]')) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let [left, right, top, bottom] = [r.left, r.right, r.top, r.bottom];
    for (let box = el; box && box !== document.body && box !== document.documentElement; box = box.parentElement) {
      if (box.clientWidth <= 1 || box.clientHeight <= 1) break;  // visually hidden on purpose, for screen readers
      const s = getComputedStyle(box); const b = box.getBoundingClientRect();
      const inner = {left: b.left + box.clientLeft, top: b.top + box.clientTop};
      inner.right = inner.left + box.clientWidth; inner.bottom = inner.top + box.clientHeight;
      const clips = (v) => v === 'hidden' || v === 'clip';
      const scrolls = (v) => v === 'auto' || v === 'scroll';
      if (scrolls(s.overflowX)) { left = Math.max(left, inner.left); right = Math.min(right, inner.right); }
      else if (clips(s.overflowX) && (left < inner.left - 1 || right > inner.right + 1)
               && !(s.whiteSpace === 'nowrap' && s.textOverflow !== 'clip')) { out.push(pathOf(el)); break; }
      if (scrolls(s.overflowY)) { top = Math.max(top, inner.top); bottom = Math.min(bottom, inner.bottom); }
      else if (clips(s.overflowY) && (top < inner.top - 1 || bottom > inner.bottom + 1)) {
        const limit = s.overflowY === 'clip' ? box.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom)
                                             : b.height;
        if (Math.abs(lineHeight(s) - limit) > 1) { out.push(pathOf(el)); break; }  // not one whole line
      }
    }
  }
  return [...new Set(out)];
}
"""

# Text at 200 %: every element's font size doubled from its computed size (what a browser's text size setting does).
DOUBLE_TEXT_JS = """
() => {
  const all = [document.documentElement, ...document.querySelectorAll('body, body *')];
  const sizes = all.map(el => parseFloat(getComputedStyle(el).fontSize));
  all.forEach((el, i) => el.style.setProperty('font-size', (sizes[i] * 2) + 'px', 'important'));
}
"""
# 200 % zoom of a 1280 by 1024 screen: the page laid out in half of it (WCAG 1.4.4 with 1.4.10's reference size).
ZOOM_VIEWPORT = {"width": 640, "height": 512}

# The text-spacing bookmarklet of WCAG 1.4.12: what a user's style sheet may set.
TEXT_SPACING_CSS = ("* { line-height: 1.5 !important; letter-spacing: 0.12em !important; "
                    "word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }")

# 1.4.12: spacing set !important in a style attribute below WCAG's values cannot be overridden by the user. Only an
# element with visible text of its own counts, and only when the declaration gives it a value of its own (inherit and
# unset take the parent's, which is not important); line height matters only for text that wraps (ACT rules 24afc2,
# 9e45ec, 78fd32). ``lowSpacing(el)`` names the properties an element breaks; the check and the refinement of axe's
# avoid-inline-spacing (below) both judge by it.
_LOW_SPACING_JS = """
const lowSpacing = (el) => {
  if (!(el instanceof HTMLElement) || !el.hasAttribute('style') || !visible(el)) return [];
  const texts = ownText(el);
  if (!texts.length) return [];
  const takesParents = new Set(['inherit', 'unset', 'revert', 'revert-layer']);
  const wraps = () => new Set(texts.flatMap(n => {
    const range = document.createRange(); range.selectNodeContents(n);
    return [...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top));
  })).size > 1;
  const st = el.style; const s = getComputedStyle(el); const font = parseFloat(s.fontSize);
  const low = (prop, factor) => {
    if (st.getPropertyPriority(prop) !== 'important') return false;
    if (takesParents.has(st.getPropertyValue(prop).trim().toLowerCase())) return false;
    if (prop === 'line-height' && !wraps()) return false;
    const value = s.getPropertyValue(prop);
    const size = value === 'normal' ? 0 : parseFloat(value);  // normal: no added spacing, about 1.2 lines
    return !Number.isNaN(size) && size < factor * font - 0.01;
  };
  return [['letter-spacing', 0.12], ['word-spacing', 0.16], ['line-height', 1.5]]
    .filter(([prop, factor]) => low(prop, factor)).map(([prop]) => prop);
};
"""
IMPORTANT_SPACING_JS = _PATH_JS + _LOW_SPACING_JS + """
() => [...document.querySelectorAll('[style]')].flatMap(el => lowSpacing(el).map(prop => [prop, pathOf(el)]))
"""

# --- refining axe's results ------------------------------------------------------------------------------------------
# Some of axe's nodes are outside what the criterion judges (the applicability of the ACT rule that tests it). They are
# taken out of the result before it is judged, on the reference system's pages as on the ACT cases, and kept aside
# with the reason, so the evidence shows them:
# - 1.4.3/1.4.6 (color-contrast, color-contrast-enhanced): text that does not express anything in human language is
#   not text the criterion asks contrast of (ACT rules afw4f7, 09o5cg): an element's own text with no letter or digit
#   (punctuation, symbols, an icon font's private-use glyph), or a lone glyph in a control that an author-given name
#   (aria-label, aria-labelledby) replaces ("X" named "Stäng").
# - 1.4.12 (avoid-inline-spacing): only spacing the user cannot override on an element with visible text of its own
#   counts, the same judgement as the layer's text-spacing check (lowSpacing above).
# A node the script cannot find (inside an iframe) is kept as axe has it.
REFINED_AXE_RULES = ("color-contrast", "color-contrast-enhanced", "avoid-inline-spacing")
REFINE_AXE_JS = _PATH_JS + _LOW_SPACING_JS + """
({rule, targets}) => {
  const resolve = (target) => {  // one selector per frame; inside a shadow tree a list, the host first
    if (!Array.isArray(target) || target.length !== 1) return null;
    let root = document; let el = null;
    for (const selector of [].concat(target[0])) {
      if (!root) return null;
      try { el = root.querySelector(selector); } catch (e) { return null; }
      if (!el) return null;
      root = el.shadowRoot;
    }
    return el;
  };
  const textOf = (el) => [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('');
  const nameOf = (el) => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    const labelled = ids.map(id => document.getElementById(id)).filter(Boolean).map(e => e.textContent).join(' ');
    return (labelled.trim() || el.getAttribute('aria-label') || '').trim().toLowerCase();
  };
  const humanLanguage = (el) => {
    const glyphs = [...textOf(el).replace(/\\s+/g, '')];
    if (!glyphs.length) return true;  // no text of its own: axe judged it for another reason, keep it
    if (!glyphs.some(g => /[\\p{L}\\p{N}]/u.test(g))) return false;
    const control = el.closest('[aria-label], [aria-labelledby]');
    if (glyphs.length === 1 && control && control.matches('a[href], button, input, select, summary, [role]')) {
      const name = nameOf(control);
      if (name && !name.split(/\\s+/).includes(glyphs[0].toLowerCase())) return false;
    }
    return true;
  };
  return targets.map(target => {
    const el = resolve(target);
    if (!el) return '';
    if (rule === 'avoid-inline-spacing') {
      return lowSpacing(el).length ? '' : 'no spacing below WCAG that the user cannot override on text of its own';
    }
    return humanLanguage(el) ? '' : 'text that expresses nothing in human language';
  });
}
"""


def refine_axe(page: Any, result: Mapping[str, Any]) -> dict[str, Any]:
    """axe's result on the page without the nodes its criterion does not judge (REFINED_AXE_RULES): they go to
    ``refined`` with the reason; a rule left without nodes is no longer a violation (or incomplete)."""
    out = dict(result)
    refined: list[dict[str, Any]] = []
    for kind in ("violations", "incomplete"):
        kept = []
        for rule in result.get(kind, []):
            nodes = list(rule.get("nodes", []))
            if rule.get("id") not in REFINED_AXE_RULES or not nodes:
                kept.append(rule)
                continue
            reasons = page.evaluate(REFINE_AXE_JS, {"rule": rule["id"], "targets": [n.get("target") for n in nodes]})
            refined += [{"rule": rule["id"], "kind": kind, "target": node.get("target"), "reason": reason}
                        for node, reason in zip(nodes, reasons, strict=True) if reason]
            left = [node for node, reason in zip(nodes, reasons, strict=True) if not reason]
            if left:
                kept.append({**rule, "nodes": left})
        out[kind] = kept
    out["refined"] = refined
    return out


# axe's rules that are off by default (WCAG AAA, or called experimental) but judge criteria the layer reports on:
# run them too. What fails a run is still the policy's choice by tags (AAA is reported only, unless asked for).
# Left off: label-content-name-mismatch (experimental) fails passed examples of ACT rule 2ee8b8 (false alarms), and
# identical-links-same-purpose only ever says it cannot tell.
AXE_EXTRA_RULES = ("color-contrast-enhanced", "meta-refresh-no-exceptions", "css-orientation-lock")
AXE_OPTIONS = {"rules": {rule: {"enabled": True} for rule in AXE_EXTRA_RULES},
               "resultTypes": ["violations", "incomplete"]}


def run_axe(page: Any, axe: Any) -> dict[str, Any]:
    """axe-core on the page as the layer judges it: its default rules and AXE_EXTRA_RULES, refined (refine_axe)."""
    return refine_axe(page, axe.run(page, options=AXE_OPTIONS).response)


# 1.4.10: at 320 CSS px the page scrolls only vertically.
HORIZONTAL_SCROLL_JS = """
() => {
  const root = document.scrollingElement || document.documentElement;
  const width = root.scrollWidth;
  return width > window.innerWidth + 1 ? [`sidan är ${width} px bred vid ${window.innerWidth} px`] : [];
}
"""

# The elements a keyboard user must reach: native controls, ARIA widgets that are not part of a composite (those
# take one tab stop for the whole group) and whatever the page put in the tab order; and how each looks unfocused.
# An open modal dialog makes the rest of the page inert: then only its own elements are expected.
_TABBABLE_SELECTOR = ("a[href], button, input:not([type=hidden]), select, textarea, summary, "
                      "[tabindex]:not([tabindex^=\"-\"]), [contenteditable=\"\"], [contenteditable=true], "
                      "[role=button], [role=link], [role=checkbox], [role=switch], [role=slider], [role=textbox], "
                      "[role=combobox]")
TABBABLES_JS = _PATH_JS + """
() => {
  const sel = '""" + _TABBABLE_SELECTOR.replace("'", "\\'") + """';
  const modal = document.querySelector('dialog:modal');
  const radios = new Set();  // a radio group is one tab stop: the checked radio, else the first
  const items = [...document.querySelectorAll(sel)].filter(el => visible(el) && !el.disabled
      && !el.closest('[inert], [aria-hidden=true]') && (!modal || modal.contains(el))
      && !el.hasAttribute('data-a11y-edge')).filter(el => {
    if (el.type !== 'radio' || !el.name) return true;
    const key = (el.form ? 'f' : 'd') + el.name;
    if (radios.has(key)) return false;
    const group = [...(el.form || document).querySelectorAll('input[type=radio]')].filter(r => r.name === el.name);
    const stop = group.find(r => r.checked) || group[0];
    if (stop !== el) return false;
    radios.add(key); return true;
  });
  items.forEach((el, i) => el.setAttribute('data-a11y-tab', String(i)));
  return items.map(pathOf);
}
"""
FOCUS_STYLE_JS = """
(el) => {
  const s = getComputedStyle(el);
  const own = ['outline-style', 'outline-width', 'outline-color', 'box-shadow', 'border-top-color',
    'border-bottom-color', 'border-top-width', 'border-bottom-width', 'background-color', 'color',
    'text-decoration-line']
    .map(p => s.getPropertyValue(p)).join('|');
  const before = getComputedStyle(el, '::before'); const after = getComputedStyle(el, '::after');
  return own + '|' + [before, after].map(p => p.content + p.outline + p.boxShadow + p.backgroundColor).join('|');
}
"""
_ACTIVE_FN = """
const activeKey = () => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  return el.getAttribute('data-a11y-tab') ?? ('x:' + (el.id || el.localName));
};
"""
ACTIVE_JS = "() => {" + _ACTIVE_FN + " return activeKey(); }"
# Where a key moved focus, and when focus last moved. A Tab that takes focus out of the document (or to one of the
# walk's two stops) has reached the browser's own controls: a script's later focus() cannot take it back from there
# (ACT rule a1b64e), so what the key did is read in the task right after it, before any timer of the page. The wait
# that follows each key lasts until focus has been still for a while (ACT's "focusable" allows a second): timers of
# the page that move focus sooner run before it ends, so every run sees the same thing.
FOCUS_RECORDER_JS = """
() => {
  if (window.__a11yKeys) return;
  """ + _ACTIVE_FN + """
  const rec = window.__a11yKeys = {left: false, moved: performance.now()};
  const outside = () => activeKey() === null || document.activeElement.hasAttribute('data-a11y-edge');
  addEventListener('keydown', (e) => {
    rec.moved = performance.now(); rec.left = false;
    setTimeout(() => { rec.left = outside(); }, 0);
  }, true);
  const moved = () => { rec.moved = performance.now(); };
  addEventListener('focusin', moved, true); addEventListener('focusout', moved, true);
}
"""
# The walk runs between two invisible stops the harness adds: one before the first element a Tab can reach (the top
# of the page, or of an open modal dialog, with the lowest positive tabindex) and one after the last. Reaching either
# is leaving the page for the browser's own controls. Headless Chromium, having none, sometimes wraps focus round to
# the first element instead, which would look like a trap; the stops make every run see the same thing. The walk
# starts on the first stop, not wherever focus was (an autofocused field, a dialog's first button).
WALK_START_JS = """
() => {
  const host = document.querySelector('dialog:modal') || document.body;
  if (!host) return;
  document.querySelectorAll('[data-a11y-edge]').forEach(stop => stop.remove());
  const stop = (tabindex, edge) => {
    const el = document.createElement('span');
    el.tabIndex = tabindex; el.setAttribute('data-a11y-edge', edge);
    el.style.cssText = ['position:absolute', 'width:1px', 'height:1px', 'overflow:hidden', 'clip-path:inset(50%)',
      'outline:none', 'margin:0', 'padding:0', 'border:0'].map(rule => rule + '!important').join(';');
    return el;
  };
  const first = stop(1, 'start');
  host.prepend(first); host.append(stop(0, 'end'));
  first.focus({preventScroll: true}); window.focus();
}
"""
SETTLE_JS = """
(quiet) => new Promise((resolve) => {
  const rec = window.__a11yKeys; const start = performance.now();
  const check = () => {
    const now = performance.now();
    if (now - rec.moved >= quiet || now - start >= 1000) resolve(rec.left);
    else setTimeout(check, Math.max(1, quiet - (now - rec.moved)));
  };
  setTimeout(check, quiet);
})
"""
# Controls that only act inside the page (a help link to "#", a plain button): pressing one may show how to get out.
_IN_PAGE_CONTROL_JS = """
(el) => (el.localName === 'a' && (el.getAttribute('href') || '').startsWith('#'))
  || (el.localName === 'button' && el.type === 'button') || el.getAttribute('role') === 'button'
"""

# 1.3.4: an element turned 90 degrees in one orientation and not in the other locks the orientation; a turn may be
# given by transform or by the rotate property.
ROTATIONS_JS = """
() => [...document.querySelectorAll('html, body, body *')].map(el => {
  const s = getComputedStyle(el);
  let angle = 0;
  const m = (s.transform || '').match(/matrix\\(([^)]+)\\)/);
  if (m) { const [a, b] = m[1].split(',').map(Number); angle += Math.atan2(b, a) * 180 / Math.PI; }
  const r = (s.rotate || 'none').trim();
  if (r !== 'none') {
    const parts = r.split(/\\s+/); const last = parts[parts.length - 1];
    const axis = parts.length === 4 ? parts.slice(0, 3).map(Number)
      : parts[0] === 'z' || parts.length === 1 ? [0, 0, 1] : [1, 0, 0];
    const units = {deg: 1, rad: 180 / Math.PI, grad: 0.9, turn: 360};
    const u = (last.match(/[a-z]+$/) || ['deg'])[0];
    if (axis[0] === 0 && axis[1] === 0 && axis[2] !== 0) {
      angle += parseFloat(last) * (units[u] || 1) * Math.sign(axis[2]);
    }
  }
  return Math.round(angle);
})
"""

# 2.1.1: an iframe taken out of the tab order (negative tabindex) whose document has elements to tab to: they can
# never be reached (ACT rule akn7bn).
IFRAMES_OUT_OF_TAB_ORDER_JS = _PATH_JS + """
() => {
  const modal = document.querySelector('dialog:modal');
  return [...document.querySelectorAll('iframe[tabindex]')].filter(f => f.tabIndex < 0 && visible(f)
    && f.clientWidth > 1 && f.clientHeight > 1
    && !f.closest('[inert]') && (!modal || modal.contains(f))).map(f => {
      f.setAttribute('data-a11y-frame', pathOf(f)); return pathOf(f);
    });
}
"""
FRAME_HAS_TABBABLES_JS = """
() => [...document.querySelectorAll('""" + _TABBABLE_SELECTOR.replace("'", "\\'") + """')].some(el => {
  const s = getComputedStyle(el); const r = el.getBoundingClientRect();
  return el.tabIndex >= 0 && !el.disabled && s.visibility !== 'hidden' && s.display !== 'none'
    && r.width > 0 && r.height > 0;
})
"""


# 4.1.2: the summary that opens and closes a details element needs a name (ACT rule 2t702h): from aria-labelledby,
# aria-label, its text (with the alt text of its images) or its title. Another explicit role than none makes it
# something else; none is ignored on an element one can focus.
SUMMARY_WITHOUT_NAME_JS = _PATH_JS + """
() => [...document.querySelectorAll('details > summary:first-of-type')].filter(el => {
  const role = (el.getAttribute('role') || '').trim().split(/\\s+/)[0];
  if (role && role !== 'none' && role !== 'presentation') return false;
  if (!visible(el) || el.closest('[aria-hidden=true]')) return false;
  const textOf = (node) => [...node.childNodes].map(n => n.nodeType === 3 ? n.textContent
    : n.nodeType === 1 && n.localName === 'img' ? (n.getAttribute('alt') || '')
    : n.nodeType === 1 && getComputedStyle(n).display !== 'none' ? textOf(n) : '').join(' ');
  const labelledby = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
    .map(id => document.getElementById(id)).filter(Boolean).map(textOf).join(' ');
  const name = [labelledby, el.getAttribute('aria-label') || '', textOf(el), el.getAttribute('title') || '']
    .find(text => text.trim());
  return !name;
}).map(pathOf)
"""

# 1.3.1: naming attributes on an element whose role forbids a name (ACT rule kb1m8s): assistive technology ignores
# them, so what they say is lost. The role is the explicit one, else the element's own; elements whose role depends
# on more (a section, a header) are left alone.
PROHIBITED_NAMING_JS = _PATH_JS + """
() => {
  const naming = ['aria-label', 'aria-labelledby', 'aria-braillelabel', 'aria-roledescription',
                  'aria-brailleroledescription'];
  const prohibited = new Set(['caption', 'code', 'deletion', 'emphasis', 'generic', 'insertion', 'none',
    'paragraph', 'presentation', 'strong', 'subscript', 'superscript']);
  const implicit = {div: 'generic', span: 'generic', b: 'generic', i: 'generic', u: 'generic', small: 'generic',
    bdi: 'generic', bdo: 'generic', data: 'generic', samp: 'generic', p: 'paragraph', code: 'code', del: 'deletion',
    s: 'deletion', ins: 'insertion', em: 'emphasis', strong: 'strong', sub: 'subscript', sup: 'superscript',
    caption: 'caption'};
  const roleOf = (el) => {
    const explicit = (el.getAttribute('role') || '').trim().split(/\\s+/)[0];
    if (explicit) return explicit;
    if ((el.localName === 'a' || el.localName === 'area') && !el.hasAttribute('href')) return 'generic';
    return implicit[el.localName] || '';
  };
  const selector = naming.map(a => '[' + a + ']').join(',');
  return [...document.querySelectorAll(selector)].filter(el => {
    if (!(el instanceof HTMLElement) || el.closest('[hidden], [aria-hidden=true]')) return false;
    if (getComputedStyle(el).display === 'none' || getComputedStyle(el).visibility === 'hidden') return false;
    const role = roleOf(el);
    const focusable = el.matches('a[href], button, input, select, textarea, [tabindex]');
    if ((role === 'none' || role === 'presentation') && focusable) return false;  // the role is ignored then
    return naming.some(a => (el.getAttribute(a) || '').trim()) && prohibited.has(role);
  }).map(pathOf);
}
"""

# 1.4.4: a viewport meta tag that stops pinch zoom or caps it below 200 % (ACT rule b4f0c3), read as
# browsers read it: user-scalable no, or a number between -1 and 1, or a word they do not know, fixes the scale;
# maximum-scale yes is 1, no 0.1, device-width 10, a word they do not know 0, a negative number is left out.
META_VIEWPORT_JS = """
() => [...document.querySelectorAll('meta[name="viewport" i][content]')].filter(meta => {
  const props = {};
  for (const part of meta.getAttribute('content').split(/[,;]/)) {
    const [key, value] = part.split('=').map(x => (x || '').trim().toLowerCase());
    if (key) props[key] = value;
  }
  const word = {yes: 1, 'device-width': 10, 'device-height': 10};
  if ('user-scalable' in props) {
    const v = props['user-scalable'];
    const n = v === 'no' ? 0 : v in word ? word[v] : parseFloat(v);
    if (Number.isNaN(n) || Math.abs(n) < 1) return true;
  }
  if ('maximum-scale' in props) {
    const v = props['maximum-scale'];
    const n = v === 'no' ? 0.1 : v in word ? word[v] : Number.isNaN(parseFloat(v)) ? 0 : parseFloat(v);
    if (n >= 0 && n < 2) return true;
  }
  return false;
}).map(meta => 'meta[content="' + meta.getAttribute('content') + '"]')
"""

# 4.1.2: content hidden from assistive technology (aria-hidden="true" on it or an ancestor, also a shadow host) that
# the keyboard still reaches: a user tabs to something that is not announced (ACT rule 6cfa84). Each candidate is
# focused as Tab would focus it; one that does not keep focus (not focusable after all, or a sentinel that hands focus
# on at once) is not in the focus order. An iframe counts when its own document has something to tab to.
ARIA_HIDDEN_FOCUS_JS = _PATH_JS + """
async () => {
  const hostOf = (el) => el.parentElement || (el.getRootNode() instanceof ShadowRoot ? el.getRootNode().host : null);
  const hidden = (el) => {
    for (let e = el; e; e = hostOf(e)) {
      if ((e.getAttribute('aria-hidden') || '').trim().toLowerCase() === 'true') return true;
    }
    return false;
  };
  const all = [];
  const collect = (root) => root.querySelectorAll('*').forEach(el => {
    all.push(el); if (el.shadowRoot) collect(el.shadowRoot);
  });
  collect(document);
  const deepActive = () => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el;
  };
  const tabbable = (el) => el.tabIndex >= 0 && !el.matches(':disabled') && !el.closest('[inert]')
    && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const frameHasTabbables = (frame) => {
    let doc = null;
    try { doc = frame.contentDocument; } catch (e) { return false; }
    return !!doc && [...doc.querySelectorAll('*')].some(tabbable);
  };
  const before = deepActive();
  const out = [];
  for (const el of all.filter(el => tabbable(el) && hidden(el))) {
    if (el.localName === 'iframe' || el.localName === 'frame') {
      if (frameHasTabbables(el)) out.push(pathOf(el));
      continue;
    }
    el.focus({preventScroll: true});
    await new Promise(resolve => setTimeout(resolve, 20));  // a handler that moves focus on has run by now
    if (deepActive() === el) out.push(pathOf(el));
    el.blur();
  }
  if (before && before !== document.body && before.focus) before.focus({preventScroll: true});
  return out;
}
"""

# 1.3.1: a header cell that is the header of no cell tells nothing about the table's structure (ACT rule d0f69e).
# Cells are placed on the table's grid (col and row spans); a header cell's direction is its role (columnheader,
# rowheader) or scope, else HTML's auto state: a column header when its rows hold no data cell, a row header when its
# columns hold none. It is assigned the cells below it in its columns (a column header) or after it in its rows (a
# row header) that have no headers attribute, and the cells whose headers attribute names it. Tables with the role
# none or presentation, and hidden cells, are left alone.
HEADERS_WITHOUT_CELLS_JS = _PATH_JS + """
() => {
  const roleOf = (el) => (el.getAttribute('role') || '').trim().split(/\\s+/)[0].toLowerCase();
  const tableish = new Set(['table', 'grid', 'treegrid']);
  const cellish = new Set(['cell', 'gridcell', 'columnheader', 'rowheader']);
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
    && !el.closest('[aria-hidden="true" i]');
  const tables = [...document.querySelectorAll('table, [role]')].filter(t => {
    const role = roleOf(t);
    return (role ? tableish.has(role) : t.localName === 'table') && shown(t);
  });
  const out = [];
  for (const table of tables) {
    const native = table.localName === 'table';
    const owner = (el) => el.parentElement
      && el.parentElement.closest('table, [role=table], [role=grid], [role=treegrid]');
    const rows = native ? [...table.rows]
      : [...table.querySelectorAll('[role=row]')].filter(r => owner(r) === table);
    const cellsOf = (row) => native ? [...row.cells]
      : [...row.querySelectorAll('[role]')]
        .filter(c => cellish.has(roleOf(c)) && c.parentElement.closest('[role=row]') === row);
    const grid = []; const placed = [];
    rows.forEach((row, y) => {
      grid[y] = grid[y] || [];
      let x = 0;
      for (const cell of cellsOf(row)) {
        while (grid[y][x]) x++;
        const w = native ? Math.max(1, cell.colSpan) : 1;
        const h = native ? (cell.rowSpan > 0 ? Math.min(cell.rowSpan, rows.length - y) : rows.length - y) : 1;
        for (let dy = 0; dy < h; dy++) {
          for (let dx = 0; dx < w; dx++) (grid[y + dy] = grid[y + dy] || [])[x + dx] = cell;
        }
        const role = roleOf(cell);
        const header = role ? role === 'columnheader' || role === 'rowheader' : cell.localName === 'th';
        placed.push({cell, x, y, w, h, header, role});
        x += w;
      }
    });
    const overlaps = (a, b, start, size) => a[start] < b[start] + b[size] && b[start] < a[start] + a[size];
    const dataIn = (p, start, size) => placed.some(q => !q.header && overlaps(p, q, start, size));
    for (const p of placed.filter(p => p.header && shown(p.cell))) {
      const scope = (p.cell.getAttribute('scope') || '').trim().toLowerCase();
      let column = p.role === 'columnheader' || scope === 'col' || scope === 'colgroup';
      let row = p.role === 'rowheader' || scope === 'row' || scope === 'rowgroup';
      if (!p.role && !column && !row) { column = !dataIn(p, 'y', 'h'); row = !dataIn(p, 'x', 'w'); }
      const assigned = placed.some(q => {
        if (q === p) return false;
        const named = (q.cell.getAttribute('headers') || '').trim().split(/\\s+/).filter(Boolean);
        if (named.length) return !!p.cell.id && named.includes(p.cell.id);
        return (column && q.y >= p.y + p.h && overlaps(p, q, 'x', 'w'))
          || (row && q.x >= p.x + p.w && overlaps(p, q, 'y', 'h'));
      });
      if (!assigned) out.push(pathOf(p.cell));
    }
  }
  return out;
}
"""

@dataclass
class KeyboardWalk:
    """What pressing Tab through a page showed: the elements reached, those without a visible focus, a trap and,
    for a trap, the key the page names that gets out of it."""

    tabbables: list[str]
    reached: set[int] = field(default_factory=set)
    invisible_focus: list[str] = field(default_factory=list)
    trapped_at: str | None = None
    escape_key: str | None = None

    @property
    def unreached(self) -> list[str]:
        return [path for i, path in enumerate(self.tabbables) if i not in self.reached]

    @property
    def trapped(self) -> bool:
        """Neither standard keys nor a way the page tells the user get focus out (WCAG 2.1.2)."""
        return self.trapped_at is not None and self.escape_key is None


def _press(page: Any, key: str, settle_ms: int) -> bool:
    """Press a key and wait until focus is still; True when the key itself took focus out of the document."""
    page.keyboard.press(key)
    return bool(page.evaluate(SETTLE_JS, max(settle_ms, 1)))


def keyboard_walk(page: Any, *, limit: int = 200, settle_ms: int = 25) -> KeyboardWalk:
    """Tab from the top through the page: reach (2.1.1), visible focus (2.4.7) and no trap (2.1.2).

    Focus is trapped when Tab brings it back to an element it already passed without leaving the page, and
    Shift+Tab cannot get it out either. After each key the walk waits until focus has been still ``settle_ms``."""
    tabbables = page.evaluate(TABBABLES_JS)
    walk = KeyboardWalk(tabbables=tabbables)
    unfocused = [page.locator(f'[data-a11y-tab="{i}"]').evaluate(FOCUS_STYLE_JS) for i in range(len(tabbables))]
    page.evaluate(FOCUS_RECORDER_JS)
    page.evaluate(WALK_START_JS)
    # The indicator may be another element (a marker beside a link): then the page looks different with focus.
    baseline = _screenshot(page) if tabbables else b""
    seen: list[str] = []
    for _ in range(min(limit, 3 * len(tabbables) + 6)):
        left = _press(page, "Tab", settle_ms)
        active = page.evaluate(ACTIVE_JS)
        if left or active is None:
            break  # out of the document: focus can leave
        if active.isdigit():
            index = int(active)
            if index not in walk.reached:
                walk.reached.add(index)
                focused = page.locator(f'[data-a11y-tab="{index}"]').evaluate(FOCUS_STYLE_JS)
                if focused == unfocused[index] and _screenshot(page) == baseline:
                    walk.invisible_focus.append(tabbables[index])
        # A date field takes several Tabs (day, month, year) on one element: a return after others counts, or
        # staying on one element for more Tabs than any field has parts.
        stuck = len(seen) >= 6 and all(a == active for a in seen[-6:])
        if stuck or (seen and active != seen[-1] and active in seen):
            if _is_trap(page, len(tabbables), settle_ms):
                walk.trapped_at = tabbables[int(active)] if active.isdigit() else active
                cycle = seen[seen.index(active):] if active in seen else [active]
                walk.escape_key = _escape(page, len(tabbables), settle_ms, cycle)
            break
        seen.append(active)
    return walk


def _screenshot(page: Any) -> bytes:
    return page.screenshot(full_page=True, animations="disabled", caret="hide")


_KEY_HINT = re.compile(r"\b(Ctrl|Control|Alt|Shift)\s*\+\s*([A-Za-z0-9])\b")


def _escape(page: Any, count: int, settle_ms: int, cycle: Sequence[str]) -> str | None:
    """WCAG 2.1.2 allows a non-standard way out when the page tells the user: Escape, or a key the text names, also
    text that a help control inside the trap shows. The key that worked, or None."""
    tried: set[str] = set()

    def keys() -> list[str]:
        text = page.evaluate("() => document.body ? document.body.innerText : ''")
        hinted = (f"{'Control' if m[0] == 'Ctrl' else m[0]}+{m[1]}" for m in _KEY_HINT.findall(text))
        return [k for k in dict.fromkeys(["Escape", *hinted]) if k not in tried]

    def works(key: str) -> bool:
        tried.add(key)
        page.keyboard.press(key)
        return not _is_trap(page, count, settle_ms, key="Tab")

    for key in keys():
        if works(key):
            return key
    for active in dict.fromkeys(cycle):  # the trap's own controls that act in the page: one may show the way out
        control = page.locator(f'[data-a11y-tab="{active}"]') if active.isdigit() else None
        if control is None or not control.count() or not control.evaluate(_IN_PAGE_CONTROL_JS):
            continue
        control.focus()
        _press(page, "Enter", settle_ms)
        for key in keys():
            if works(key):
                return key
    return None


def _is_trap(page: Any, count: int, settle_ms: int, *, key: str = "Shift+Tab") -> bool:
    """Going backwards, every page lets focus reach the document within a few more steps than it has stops."""
    page.evaluate(FOCUS_RECORDER_JS)
    for _ in range(3 * count + 6):
        if _press(page, key, settle_ms) or page.evaluate(ACTIVE_JS) is None:
            return False
    return True


def iframes_out_of_tab_order(page: Any) -> list[str]:
    """2.1.1: iframes with a negative tabindex whose own document has elements to tab to (ACT rule akn7bn)."""
    out = []
    for path in page.evaluate(IFRAMES_OUT_OF_TAB_ORDER_JS):
        handle = page.locator(f'iframe[data-a11y-frame="{path}"]').first.element_handle()
        frame = handle.content_frame() if handle else None
        if frame is not None and frame.evaluate(FRAME_HAS_TABBABLES_JS):
            out.append(path)
    return out



# 1.4.3/1.4.6 over a background image or gradient, where axe cannot tell (ACT rules afw4f7, 09o5cg): the pixels
# behind each character are read from the page as drawn with its text made transparent, and each character's
# highest contrast with them (WCAG's most favourable reading, as the ACT rules have it) is compared with the
# criterion's ratio: 4.5 (3 for large text) and 7 (4.5). Only text in human language (a letter or digit), not in a
# disabled control, on a background that shows an image or gradient before any opaque colour.
CONTRAST_TEXTS_JS = _PATH_JS + """
() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || []; return [+m[0] || 0, +m[1] || 0, +m[2] || 0,
    m.length > 3 ? +m[3] : 1]; };
  const imageBehind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage && s.backgroundImage !== 'none') return true;
      if (parse(s.backgroundColor)[3] >= 1) return false;
    }
    return false;
  };
  const out = [];
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node && out.length < 40; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !/[\\p{L}\\p{N}]/u.test(node.textContent) || !visible(el)) continue;
    if (el.closest(':disabled, [aria-disabled="true"], [aria-hidden="true"]') || !imageBehind(el)) continue;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize); const bold = parseInt(s.fontWeight, 10) >= 700;
    const boxes = [];
    const text = node.textContent;
    for (let i = 0; i < text.length && boxes.length < 200; i++) {
      if (!/\\S/.test(text[i])) continue;
      const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getBoundingClientRect();
      if (r.width >= 1 && r.height >= 1) boxes.push([r.left + scrollX, r.top + scrollY, r.width, r.height]);
    }
    if (boxes.length) out.push({path: pathOf(el), color: parse(s.color), large: size >= 24 || (bold && size >= 18.66),
                                boxes});
  }
  return out;
}
"""
# The page's text made transparent (and its shadows taken away) while the background is drawn; CSSOM, so a strict
# content security policy does not stop it. Called with true to hide, false to put every style back.
HIDE_TEXT_JS = """
(hide) => {
  const props = ['color', '-webkit-text-fill-color', 'text-shadow', 'text-decoration-color', 'caret-color'];
  if (hide) {
    window.__a11yText = [...document.querySelectorAll('*')].map(el => {
      const old = props.map(p => [p, el.style.getPropertyValue(p), el.style.getPropertyPriority(p)]);
      props.forEach(p => el.style.setProperty(p, p === 'text-shadow' ? 'none' : 'transparent', 'important'));
      return [el, old];
    });
  } else {
    for (const [el, old] of window.__a11yText || []) {
      old.forEach(([p, v, prio]) => v ? el.style.setProperty(p, v, prio) : el.style.removeProperty(p));
    }
    delete window.__a11yText;
  }
}
"""
# Each text's lowest character contrast: for each character the best ratio of its colour (its alpha laid over the
# pixel) with the background pixels under it, then the worst character. The picture is the page drawn full size.
CHARACTER_CONTRAST_JS = """
async ({png, texts}) => {
  const bytes = Uint8Array.from(atob(png), c => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d'); ctx.drawImage(bitmap, 0, 0);
  const scale = bitmap.width / Math.max(1, document.documentElement.scrollWidth, innerWidth);
  const lin = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (r, g, b) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return texts.map(({color, boxes}) => {
    const [r, g, b, a] = color;
    let worst = Infinity;
    for (const [x, y, w, h] of boxes) {
      const left = Math.floor(x * scale), top = Math.floor(y * scale);
      const width = Math.max(1, Math.floor(w * scale)), height = Math.max(1, Math.floor(h * scale));
      if (left < 0 || top < 0 || left + width > bitmap.width || top + height > bitmap.height) continue;
      const data = ctx.getImageData(left, top, width, height).data;
      let best = 0;
      const step = Math.max(1, Math.floor(Math.sqrt(width * height / 400)));
      for (let py = 0; py < height; py += step) {
        for (let px = 0; px < width; px += step) {
          const i = 4 * (py * width + px);
          const [br, bg, bb] = [data[i], data[i + 1], data[i + 2]];
          const fore = lum(r * a + br * (1 - a), g * a + bg * (1 - a), b * a + bb * (1 - a));
          const back = lum(br, bg, bb);
          best = Math.max(best, (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05));
        }
      }
      worst = Math.min(worst, best);
    }
    return worst === Infinity ? null : worst;
  });
}
"""
# (minimum ratio for normal text, for large text) by criterion: 1.4.3 fails a run, 1.4.6 (AAA) is reported only.
CONTRAST_RATIOS = {"1.4.3": (4.5, 3.0), "1.4.6": (7.0, 4.5)}


def contrast_over_images(page: Any) -> dict[str, list[str]]:
    """The texts on a background image or gradient whose characters lack contrast, by criterion (1.4.3, 1.4.6)."""
    texts = page.evaluate(CONTRAST_TEXTS_JS)
    if not texts:
        return {}
    page.evaluate(HIDE_TEXT_JS, True)
    try:
        png = page.screenshot(full_page=True, animations="disabled", caret="hide")
    finally:
        page.evaluate(HIDE_TEXT_JS, False)
    ratios = page.evaluate(CHARACTER_CONTRAST_JS, {"png": base64.b64encode(png).decode("ascii"), "texts": texts})
    out: dict[str, list[str]] = {}
    for text, ratio in zip(texts, ratios, strict=True):
        for criterion, (normal, large) in CONTRAST_RATIOS.items():
            if ratio is not None and ratio < (large if text["large"] else normal) - 0.005:
                out.setdefault(criterion, []).append(text["path"])
    return {criterion: list(dict.fromkeys(paths)) for criterion, paths in out.items()}

# The browser checks by name, in the order they run; ``page_checks(only=...)`` runs some of them.
CHECKS = ("page-language", "page-title", "summary-name", "prohibited-naming", "meta-viewport", "aria-hidden-focus",
          "table-headers", "contrast-background", "keyboard",
          "iframe-tab-order", "reflow", "text-spacing", "text-zoom", "text-resize")


def page_checks(page: Any, *, viewport: Mapping[str, int], known: Iterable[str] | None = None,
                expected_lang: str | None = "sv", settle_ms: int = 25,
                only: Iterable[str] | None = None) -> list[Finding]:
    """The checks axe does not make, on the page as loaded: it is reloaded after the checks that restyle it."""
    known = list(known) if known is not None else None
    run = set(CHECKS if only is None else only)
    unknown = run - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown browser checks {sorted(unknown)}; known: {', '.join(CHECKS)}")
    out: list[Finding] = []
    if "page-language" in run:
        lang = page.evaluate("() => document.documentElement.getAttribute('lang') || ''")
        if expected_lang and lang.split("-")[0].lower() != expected_lang:
            out.append(finding("page-language", f'sidans språk är "{lang}", inte "{expected_lang}"', ["3.1.1"],
                               ["html"], known=known))
    if "page-title" in run and not page.title().strip():
        out.append(finding("page-title", "sidan saknar titel", ["2.4.2"], ["title"], known=known))

    if "summary-name" in run:
        unnamed = page.evaluate(SUMMARY_WITHOUT_NAME_JS)
        if unnamed:
            out.append(finding("summary-name", "en sammanfattning (summary) saknar namn", ["4.1.2"], unnamed,
                               known=known))
    if "prohibited-naming" in run:
        named = page.evaluate(PROHIBITED_NAMING_JS)
        if named:
            out.append(finding("prohibited-naming", "namn eller rollbeskrivning på ett element vars roll inte "
                               "tillåter det", ["1.3.1"], named, known=known))
    if "aria-hidden-focus" in run:
        reachable = page.evaluate(ARIA_HIDDEN_FOCUS_JS)
        if reachable:
            out.append(finding("aria-hidden-focus", "innehåll dolt med aria-hidden nås med tangentbordet", ["4.1.2"],
                               reachable, known=known))
    if "table-headers" in run:
        lonely = page.evaluate(HEADERS_WITHOUT_CELLS_JS)
        if lonely:
            out.append(finding("table-headers", "en rubrikcell i en tabell är rubrik för ingen cell", ["1.3.1"],
                               lonely, known=known))
    if "meta-viewport" in run:
        locked = page.evaluate(META_VIEWPORT_JS)
        if locked:
            out.append(finding("meta-viewport", "sidan hindrar zoomning till 200 %", ["1.4.4"], locked,
                               known=known))

    if "contrast-background" in run:
        low = contrast_over_images(page)
        if "1.4.3" in low:
            out.append(finding("contrast-background", "för låg kontrast mot bakgrundsbild eller toning", ["1.4.3"],
                               low["1.4.3"], known=known))
        if "1.4.6" in low:  # AAA: reported, never failing a run (DOS-lagen asks for AA)
            out.append(dataclasses.replace(
                finding("contrast-background-enhanced", "kontrasten mot bakgrundsbild eller toning når inte "
                        "förhöjd nivå (AAA)", ["1.4.6"], low["1.4.6"], known=known), fails=False))
    if "keyboard" in run:
        walk = keyboard_walk(page, settle_ms=settle_ms)
        if walk.trapped:
            out.append(finding("keyboard-trap", "tangentbordsfokus fastnar", ["2.1.2"], [str(walk.trapped_at)],
                               known=known))
        elif walk.unreached:
            out.append(finding("keyboard-reach", "element nås inte med tangentbordet", ["2.1.1"], walk.unreached,
                               known=known))
        if walk.invisible_focus:
            out.append(finding("focus-visible", "fokus syns inte", ["2.4.7"], walk.invisible_focus, known=known))
    if "iframe-tab-order" in run:
        frames = iframes_out_of_tab_order(page)
        if frames:
            out.append(finding("iframe-tab-order", "en iframe med innehåll att tabba till är borttagen ur "
                               "tabbordningen", ["2.1.1"], frames, known=known))

    if "reflow" in run:
        page.set_viewport_size({"width": 320, "height": 256})
        wide = page.evaluate(HORIZONTAL_SCROLL_JS)
        if wide:
            out.append(finding("reflow", "innehållet kräver vågrät rullning vid 320 CSS px", ["1.4.10"], wide,
                               known=known))
        page.set_viewport_size(dict(viewport))

    if "text-spacing" in run:
        important = page.evaluate(IMPORTANT_SPACING_JS)
        for prop in dict.fromkeys(prop for prop, _ in important):
            out.append(finding(prop, f"{prop} låst med !important under WCAG:s värde", ["1.4.12"],
                               [path for p, path in important if p == prop], known=known))
    if "text-zoom" in run:
        page.set_viewport_size(dict(ZOOM_VIEWPORT))
        clipped = page.evaluate(CLIPPED_TEXT_JS)
        page.set_viewport_size(dict(viewport))
        if clipped:
            out.append(finding("text-zoom", "text klipps vid 200 % zoom", ["1.4.4"], clipped, known=known))
    if "text-resize" in run:
        page.evaluate(DOUBLE_TEXT_JS)
        clipped = page.evaluate(CLIPPED_TEXT_JS)
        if clipped:
            out.append(finding("text-resize", "text klipps vid 200 % textstorlek", ["1.4.4"], clipped, known=known))
    if run & {"keyboard", "text-resize"}:
        page.reload()  # the walk may leave help text shown; the doubled text stays until a reload
    return out


def orientation_locked(page: Any) -> bool:
    """True when an element is turned a quarter in one orientation relative to the other (1.3.4)."""
    page.set_viewport_size({"width": 800, "height": 400})
    landscape = page.evaluate(ROTATIONS_JS)
    page.set_viewport_size({"width": 400, "height": 800})
    portrait = page.evaluate(ROTATIONS_JS)
    return any(abs(abs(a - b) % 180 - 90) < 5 for a, b in zip(landscape, portrait, strict=False))


def duplicate_titles(titles: Mapping[str, str]) -> dict[str, list[str]]:
    """2.4.2: the pages (by URL) that share a title with another page."""
    by_title: dict[str, list[str]] = {}
    for url, title in titles.items():
        by_title.setdefault(title.strip(), []).append(url)
    return {title: sorted(urls) for title, urls in by_title.items() if len(urls) > 1}


# --- crawling ---------------------------------------------------------------------------------------------------------
_ID_SEGMENT = re.compile(r"^(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9A-Za-z_-]{20,})$")
# Links that change state or leave the page's HTML: never followed by a crawler that must not act for the user.
SKIP_PATHS = re.compile(r"/(logout|download|export\.json|erase|delete|withdraw|cancel)(/|$|\?)|\.(json|pdf|svg|png)$")


def page_pattern(url: str) -> str:
    """The URL's path with ids replaced, so one message stands for every message (``/inbox/{id}``)."""
    path = urlsplit(url).path
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


def crawl(page: Any, start: str, *, limit: int = 60, skip: re.Pattern[str] = SKIP_PATHS) -> dict[str, str]:
    """Every page reachable by links from ``start`` on its origin, one per URL pattern: {pattern: url}."""
    origin = urlsplit(start)[:2]
    queue, found = [start], {}
    while queue and len(found) < limit:
        url = queue.pop(0)
        pattern = page_pattern(url)
        if pattern in found:
            continue
        response = page.goto(url)
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        if urlsplit(page.url)[:2] != origin:
            continue  # handed to another site (1177.se for a region that has not joined): not ours to audit
        landed = page_pattern(page.url)  # a redirect lands on a page that may be known already
        if landed in found:
            continue
        found[landed] = page.url
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))"):
            target = urldefrag(urljoin(page.url, href))[0]
            if urlsplit(target)[:2] == origin and not skip.search(urlsplit(target).path):
                if page_pattern(target) not in found:
                    queue.append(target)
    return found


# --- the manual-check register ----------------------------------------------------------------------------------------
MANUAL_FIELDS = {"criterion": str, "title": str, "who": str, "approver": str, "when": dt.date, "result": str,
                 "evidence": str, "expiry": dt.date, "note": str}
MANUAL_RESULTS = ("godkänd", "underkänd", "ej tillämplig")


class RegisterError(ValueError):
    """A manual-check register that cannot be used; the message names the file, the line and the key."""


@dataclass(frozen=True)
class ManualCheck:
    criterion: str
    title: str
    who: str
    when: dt.date
    result: str
    evidence: str
    expiry: dt.date
    approver: str = ""  # who accepted the check as evidence; the register requires one
    note: str = ""
    line: int = 0

    def expired(self, today: dt.date) -> bool:
        return self.expiry < today


def load_manual_checks(path: Path = MANUAL_CHECKS, *, known: Iterable[str] | None = None) -> list[ManualCheck]:
    """The register of manual checks: criterion (a WCAG requirement ID), who, approver, when, result, evidence,
    expiry."""
    try:
        display = str(path.relative_to(ROOT))
    except ValueError:
        display = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = f", line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise RegisterError(f"{display}{line}: not valid YAML: {exc.problem}") from None
    top = {k.value: v for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}
    items = top.get("checks")
    if not isinstance(items, yaml.SequenceNode):
        raise RegisterError(f"{display}: expected a mapping with a 'checks' list")
    known = set(known) if known is not None else None
    checks = []
    for item in items.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise RegisterError(f"{display}, line {line}: each check must be a mapping")
        values = {}
        for key, node in item.value:
            where = f"{display}, line {key.start_mark.line + 1}"
            if key.value not in MANUAL_FIELDS:
                raise RegisterError(f"{where}: unknown key {key.value!r}; keys: {', '.join(MANUAL_FIELDS)}")
            value = yaml.safe_load(yaml.serialize(node))
            if not isinstance(value, MANUAL_FIELDS[key.value]):
                kind = "a date (YYYY-MM-DD)" if MANUAL_FIELDS[key.value] is dt.date else "text"
                raise RegisterError(f"{where}: {key.value!r} must be {kind}")
            values[key.value] = value
        missing = [k for k in MANUAL_FIELDS if k != "note" and k not in values]
        if missing:
            raise RegisterError(f"{display}, line {line}: missing {', '.join(missing)}")
        if values["result"] not in MANUAL_RESULTS:
            raise RegisterError(f"{display}, line {line}: result must be one of {', '.join(MANUAL_RESULTS)}")
        if not re.match(r"^https://\S+$", values["evidence"]):
            raise RegisterError(f"{display}, line {line}: evidence must be an https link")
        if known is not None and values["criterion"] not in known:
            raise RegisterError(f"{display}, line {line}: criterion {values['criterion']!r} is not in the catalogue")
        if values["expiry"] < values["when"]:
            raise RegisterError(f"{display}, line {line}: expiry is before the check was made")
        checks.append(ManualCheck(**values, line=line))
    return checks


# --- the accessibility statement (tillgänglighetsredogörelse) --------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """Content that is not accessible: the criterion, what fails, where, and how it was found."""

    criterion: str
    title: str
    what: str
    where: tuple[str, ...]
    how: str


STATUS_TEXT = {"helt": "helt förenlig", "delvis": "delvis förenlig", "inte": "inte förenlig"}


@dataclass
class Statement:
    """The draft statement with Digg's required parts (MDFFS 6 §), built from a run's findings."""

    actor: str
    service: str
    evaluated: dt.date
    method: str
    feedback: str
    gaps: list[Gap]
    expired: list[ManualCheck]
    pending: list[str]
    axe: str
    coverage: str
    complaint_url: str = DIGG_COMPLAINT_URL

    @property
    def status(self) -> str:
        """Helt only with no gap and every manual check current; inte when half the criteria or more fail."""
        failing = {g.criterion for g in self.gaps}
        if len(failing) >= 25:
            return "inte"
        return "delvis" if failing or self.expired or self.pending else "helt"

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    def render(self, fmt: str) -> str:
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                 autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        return env.get_template(f"statement.{fmt}.j2").render(s=self)

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, name in (("md", "tillganglighetsredogorelse.md"), ("html", "tillganglighetsredogorelse.html")):
            path = folder / name
            path.write_text(self.render(fmt), encoding="utf-8")
            paths.append(path)
        return paths


def build_statement(findings: Iterable[tuple[str, Finding]], checks: Sequence[ManualCheck],
                    catalogue: Mapping[str, Any], *, today: dt.date, axe: str, coverage: str,
                    actor: str = "Inera AB på uppdrag av Sveriges regioner", service: str = "1177-appen och dess "
                    "webbtjänster", feedback: str = "Kontakta oss via 1177.se/kontakt eller 0771-11 77 00 om "
                    "du hittar brister eller behöver innehåll i annat format.") -> Statement:
    """Gaps per criterion from the failing findings (with the pages they were seen on) and the manual checks."""
    by_criterion: dict[str, dict[str, Any]] = {}
    for where, item in findings:
        if not item.fails:
            continue
        for criterion in item.criteria or ("",):
            entry = by_criterion.setdefault(criterion, {"what": [], "where": []})
            if item.description not in entry["what"]:
                entry["what"].append(item.description)
            if where not in entry["where"]:
                entry["where"].append(where)
    gaps = [Gap(criterion=c, title=_title(catalogue, c), what=_sentence("; ".join(e["what"])),
                where=tuple(e["where"]), how="automatisk granskning") for c, e in sorted(by_criterion.items())]
    current = [c for c in checks if not c.expired(today)]
    for check in current:
        if check.result == "underkänd":
            criterion = check.criterion.removeprefix("WCAG-").replace("-", ".")
            gaps.append(Gap(criterion=criterion, title=check.title, what=_sentence(check.note or check.title), where=(),
                            how=f"manuell granskning {check.when.isoformat()}"))
    checked = {c.criterion for c in current}
    pending = sorted((req_id.removeprefix("WCAG-").replace("-", ".") for req_id, req in catalogue.items()
                      if req_id.startswith("WCAG-") and getattr(req, "verification", "") in ("manual", "hybrid")
                      and req_id not in checked), key=lambda c: tuple(map(int, c.split("."))))
    return Statement(actor=actor, service=service, evaluated=today,
                     method=f"Självskattning: automatisk granskning med {axe} och webbläsarkontroller ({coverage}), "
                            "kompletterad med manuell granskning enligt registret över manuella kontroller.",
                     feedback=feedback, gaps=gaps, expired=[c for c in checks if c.expired(today)], pending=pending,
                     axe=axe, coverage=coverage)


def _sentence(text: str) -> str:
    """A gap's text without its closing full stop: the statement's sentence adds its own after the pages."""
    return text.strip().rstrip(".").rstrip()


def _title(catalogue: Mapping[str, Any], criterion: str) -> str:
    req = catalogue.get(requirement_id(criterion)) if criterion else None
    return getattr(req, "title", "") if req is not None else "utanför WCAG 2.1 AA"
