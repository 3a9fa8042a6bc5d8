"""The accessibility layer measured as W3C measures checkers: the ACT rules' test cases, one implementation report.

The W3C ACT rules (https://www.w3.org/WAI/standards-guidelines/act/rules/) come with test cases, each expected to
pass, fail or be inapplicable. The cases are served from their own folder on 127.0.0.1 (never copied into the
project), the layer's checks run on every case as they run on the reference system's pages (axe-core with the layer's
rules and its refinement, a11y.run_axe, on all; of the browser checks of harness/a11y.py only those that implement the
case's rule, BROWSER_ACT_IDS). A case is failed when a procedure that implements its rule reports it (axe's
best-practice rules too: the layer reports them), cantTell when none does but an axe rule implementing it could not
tell (incomplete: neither a pass nor a failure, as in W3C's reports), else passed. Each rule gets W3C's verdict:

- consistent: every failed example is reported as failing (by an axe rule that names the ACT rule in its
  ``actIds``, or a browser check that implements it), and no passed or inapplicable example is;
- partially consistent: some failed examples are reported, none of the others;
- inconsistent: a passed or inapplicable example is reported as failing (a false alarm);
- untested: no failed example is reported.

The headline verdict is the layer's: all its procedures together, as they run on a page, so one false alarm of
any of them makes a rule inconsistent. Beside it the report gives each procedure's verdict alone and the verdict
W3C's implementation reports use (the best procedures, a procedure with false alarms left out while another is
consistent or partially so).

``python -m harness.act --rules FOLDER --out DIR`` (``nox -s act``) writes ``act-report.json`` and
``act-report.html``. The folder is a checkout of w3c/wcag-act-rules' published assets: it holds
``WAI/content-assets/wcag-act-rules/testcases.json``.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import a11y

ENV_VAR = "ACT_RULES"
TESTCASES = Path("WAI/content-assets/wcag-act-rules/testcases.json")
VIEWPORT = {"width": 1024, "height": 768}
VERDICTS = ("consistent", "partially consistent", "inconsistent", "untested")
CASE_TIMEOUT_MS = 10_000
# The ACT rules each of the layer's own browser findings implements: a finding counts only for these (a check of a
# shared criterion says nothing about another rule of that criterion). Findings not named here implement none.
BROWSER_ACT_IDS: dict[str, tuple[str, ...]] = {
    "letter-spacing": ("24afc2",), "word-spacing": ("9e45ec",), "line-height": ("78fd32",),
    "text-zoom": ("59br37",), "orientation": ("b33eff",), "focus-visible": ("oj04fd",),
    "keyboard-trap": ("80af7b", "a1b64e", "ebe86a"), "iframe-tab-order": ("akn7bn",), "page-title": ("2779a5",),
    "summary-name": ("2t702h",), "prohibited-naming": ("kb1m8s",), "meta-viewport": ("b4f0c3",),
    "aria-hidden-focus": ("6cfa84",), "table-headers": ("d0f69e",),
    "contrast-background": ("afw4f7",), "contrast-background-enhanced": ("09o5cg",),
}
# The browser checks (a11y.CHECKS) that make those findings; only they run on a case, and only for their rules.
CHECK_FINDINGS = {"text-spacing": ("letter-spacing", "word-spacing", "line-height"), "text-zoom": ("text-zoom",),
                  "keyboard": ("keyboard-trap", "focus-visible"), "iframe-tab-order": ("iframe-tab-order",),
                  "page-title": ("page-title",), "summary-name": ("summary-name",),
                  "prohibited-naming": ("prohibited-naming",), "meta-viewport": ("meta-viewport",),
                  "aria-hidden-focus": ("aria-hidden-focus",), "table-headers": ("table-headers",),
                  "contrast-background": ("contrast-background", "contrast-background-enhanced")}
# Where the W3C viewport differs from the layer's default: 1.4.4's 200 % zoom is of a 1280 by 1024 screen.
CHECK_VIEWPORT = {"width": 1280, "height": 1024}
AXE_ACT_IDS_JS = "() => axe.getRules().map(r => [r.ruleId, r.actIds || []])"


class NotAudited(Exception):
    """A case the layer does not audit at all (it is not an HTML page); the message says why."""


class RulesMissing(RuntimeError):
    """The ACT test cases are not where the option or the environment says; the message says what to give."""


def rules_folder(explicit: str | None) -> Path:
    """The folder holding the cases: ``--rules`` else $ACT_RULES; absent or incomplete is RulesMissing."""
    value = explicit or os.environ.get(ENV_VAR)
    if not value:
        raise RulesMissing(f"no ACT rules folder given: pass --rules FOLDER or set {ENV_VAR} to a folder that holds "
                           f"{TESTCASES} (the published assets of w3c/wcag-act-rules)")
    folder = Path(value).expanduser().resolve()
    if not (folder / TESTCASES).is_file():
        raise RulesMissing(f"{folder}: no {TESTCASES} there; {ENV_VAR} or --rules must name the folder that holds "
                           "the W3C ACT rules test cases (the published assets of w3c/wcag-act-rules)")
    return folder


@dataclass(frozen=True)
class Case:
    rule: str
    rule_name: str
    id: str
    expected: str
    path: str
    criteria: tuple[str, ...]

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Case:
        criteria = tuple(key.split(":", 1)[1] for key in item.get("ruleAccessibilityRequirements") or {}
                         if key.startswith("wcag2") and ":" in key)
        return cls(rule=item["ruleId"], rule_name=item["ruleName"], id=item["testcaseId"],
                   expected=item["expected"], path=item["relativePath"].lstrip("/"), criteria=criteria)


def load_cases(folder: Path) -> list[Case]:
    data = json.loads((folder / TESTCASES).read_text(encoding="utf-8"))
    base = TESTCASES.parent
    return [Case.from_json({**item, "relativePath": str(base / item["relativePath"].lstrip("/"))})
            for item in data["testcases"]]


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """The folder as a web root on 127.0.0.1 (a free port), so the cases' absolute /WAI/... links resolve."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def guess_type(self, path: Any) -> str:
            # The cases are UTF-8 and w3.org serves them so; without a charset a browser reads "±" as "Â±".
            kind = super().guess_type(path)
            return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="act-cases", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def launch_chromium(playwright: Any, explicit: str | None = None) -> Any:
    """Chromium as the layers launch it (harness/browser.py): the explicit one, Playwright's own, the system's."""
    from harness import browser as chromium

    executable = chromium.require_chromium(explicit, bundled=playwright.chromium.executable_path)
    return playwright.chromium.launch(executable_path=executable, args=list(chromium.LAUNCH_ARGS), headless=True)


def own_checks(rule: str) -> list[str]:
    """The browser checks that make a finding implementing this ACT rule."""
    return [check for check, findings in CHECK_FINDINGS.items()
            if any(rule in BROWSER_ACT_IDS[f] for f in findings)]


@contextmanager
def browser_page(viewport: Mapping[str, int], browser_path: str | None = None) -> Iterator[Any]:
    """A page of a fresh Chromium (launched as above) in the given viewport, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, browser_path)
        try:
            yield browser.new_context(viewport=dict(viewport)).new_page()
        finally:
            browser.close()


@dataclass
class CaseResult:
    """What the layer made of one case: its findings (axe's violations of every level, best practice too, and the
    browser checks that implement the case's rule), axe's rules that could not tell (``incomplete``: a person must
    look), the nodes the refinement took out (a11y.refine_axe), and the axe version."""

    findings: list[a11y.Finding]
    incomplete: list[str]
    refined: list[dict[str, Any]]
    engine: str


def check_case(page: Any, axe: Any, url: str, case: Case) -> CaseResult:
    """Run the layer's procedures on one case as they run on a page of the reference system."""
    page.set_viewport_size(VIEWPORT)
    response = page.goto(url, wait_until="load", timeout=CASE_TIMEOUT_MS)
    kind = (response.headers.get("content-type") or "") if response is not None else ""
    if "text/html" not in kind:
        raise NotAudited(f"not an HTML page ({kind.split(';')[0] or 'no content type'}): the layer audits HTML "
                         "pages only, as its crawl does")
    result = a11y.run_axe(page, axe)
    # Best-practice violations count: the layer reports them (they do not fail a run, a11y.Policy), and W3C maps
    # an axe rule to the ACT rules its actIds name whatever its tags.
    found = a11y.findings_from_axe(result)
    if case.rule in BROWSER_ACT_IDS["orientation"] and a11y.orientation_locked(page):
        found.append(a11y.finding("orientation", "sidan är låst i ett läge", ["1.3.4"]))
    checks = own_checks(case.rule)
    if checks:
        page.set_viewport_size(CHECK_VIEWPORT)
        found += a11y.page_checks(page, viewport=CHECK_VIEWPORT, expected_lang=None, only=checks)
    return CaseResult(found, [r["id"] for r in result.get("incomplete", [])], result.get("refined", []),
                      a11y.axe_version(result))


def outcome(case: Case, result: CaseResult, act_ids: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """The case's outcome as W3C's implementation reports have it: failed when a procedure that implements the
    rule reports it, cantTell when none does but an axe rule implementing it could not tell (incomplete: neither a
    pass nor a failure), else passed."""
    failing = reported_failed(case, result.findings, act_ids)
    unsure = sorted({f"axe/{rule}" for rule in result.incomplete if case.rule in act_ids.get(rule, ())})
    entry: dict[str, Any] = {"reported": "failed" if failing else "cantTell" if unsure else "passed",
                             "by": sorted({procedure(f) for f in failing}),
                             "findings": [f.describe() for f in failing]}
    if unsure and not failing:
        entry["incomplete"] = unsure
    refined = [r for r in result.refined if case.rule in act_ids.get(r["rule"], ())]
    if refined:
        entry["refined"] = [f"axe/{r['rule']} {' '.join(map(str, r['target'] or []))}: {r['reason']}"
                            for r in refined]
    return entry


def reported_failed(case: Case, findings: Iterable[a11y.Finding],
                    act_ids: Mapping[str, Iterable[str]]) -> list[a11y.Finding]:
    """The findings that count as failing this case, as W3C maps a checker's rules to ACT rules: an axe rule
    counts for the ACT rules it names itself (axe's ``actIds``), a browser check for those BROWSER_ACT_IDS names."""
    return [f for f in findings
            if case.rule in (act_ids.get(f.rule, ()) if f.source == "axe" else BROWSER_ACT_IDS.get(f.rule, ()))]


def _verdict(outcomes: Iterable[tuple[str, bool]]) -> str:
    """W3C's verdict from (expected, reported as failed) pairs."""
    outcomes = list(outcomes)
    if any(failed and expected != "failed" for expected, failed in outcomes):
        return "inconsistent"
    caught = [failed for expected, failed in outcomes if expected == "failed"]
    if not any(caught):
        return "untested"
    return "consistent" if all(caught) else "partially consistent"


def procedure(finding: a11y.Finding) -> str:
    """A finding's procedure, as an implementation report names it: ``axe/color-contrast``, ``browser/reflow``."""
    return f"{finding.source}/{finding.rule}"


@dataclass
class RuleReport:
    rule: str
    name: str
    criteria: tuple[str, ...]
    cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """The layer's verdict: every procedure together, as the layer runs them on a page."""
        return _verdict((c["expected"], c["reported"] == "failed") for c in self.cases)

    @property
    def procedures(self) -> dict[str, str]:
        """Each procedure that reported a case of this rule as failing, with its verdict alone."""
        names = dict.fromkeys(name for c in self.cases for name in c.get("by", ()))
        return {name: _verdict((c["expected"], name in c.get("by", ())) for c in self.cases) for name in names}

    @property
    def procedure_set_verdict(self) -> str:
        """W3C's implementation-report verdict: the best procedures alone, partial ones taken together (a
        procedure with a false alarm drops out while another one is consistent or partially so)."""
        verdicts = self.procedures
        for best in ("consistent", "partially consistent"):
            chosen = [name for name, verdict in verdicts.items() if verdict == best]
            if chosen:
                return _verdict((c["expected"], bool(set(chosen) & set(c.get("by", ())))) for c in self.cases)
        return self.verdict

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "criteria": list(self.criteria), "verdict": self.verdict,
                "procedures": self.procedures, "procedure_set_verdict": self.procedure_set_verdict,
                "cases": self.cases}


def measure(folder: Path, *, rules: Iterable[str] | None = None, browser_path: str | None = None,
            progress: Any = None) -> tuple[dict[str, RuleReport], str]:
    """Run the layer's checks on every case of the chosen rules (all by default): a report per rule, and the
    axe version that made them."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    wanted = set(rules or ())
    cases = [c for c in load_cases(folder) if not wanted or c.rule in wanted]
    reports: dict[str, RuleReport] = {}
    engine = "axe-core"
    axe = Axe()
    with serve(folder) as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright, browser_path)
        try:
            context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
            page = context.new_page()
            page.set_content("<p>axe</p>")
            axe.run(page)  # loads axe into the page, which then says which ACT rules each of its rules implements
            act_ids = dict(page.evaluate(AXE_ACT_IDS_JS))
            for number, case in enumerate(cases, start=1):
                report = reports.setdefault(case.rule, RuleReport(case.rule, case.rule_name, case.criteria))
                entry: dict[str, Any] = {"id": case.id, "path": case.path, "expected": case.expected}
                try:
                    result = check_case(page, axe, f"{base}/{case.path}", case)
                    engine = result.engine
                    entry.update(outcome(case, result, act_ids))
                except NotAudited as exc:
                    entry["reported"] = "inapplicable"
                    entry["note"] = str(exc)
                except Exception as exc:  # noqa: BLE001 - one case the browser cannot load is untested, not a crash
                    entry["reported"] = "cantTell"
                    entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    page.close()
                    page = context.new_page()
                report.cases.append(entry)
                if progress:
                    progress(number, len(cases), case, entry)
        finally:
            browser.close()
    return reports, engine


def counts(reports: Mapping[str, RuleReport], *, procedure_sets: bool = False) -> dict[str, int]:
    """How many rules have each verdict: the layer's, or W3C's by procedure sets."""
    tally = Counter(r.procedure_set_verdict if procedure_sets else r.verdict for r in reports.values())
    return {verdict: tally.get(verdict, 0) for verdict in VERDICTS}


def own_consistent(reports: Mapping[str, RuleReport]) -> list[str]:
    """The rules on which one of the harness's own browser checks alone is consistent."""
    return sorted(r.rule for r in reports.values()
                  if any(name.startswith("browser/") and verdict == "consistent"
                         for name, verdict in r.procedures.items()))


def write(reports: Mapping[str, RuleReport], out: Path, *, engine: str, seconds: float) -> list[Path]:
    """``act-report.json`` and ``act-report.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {"engine": engine, "rules": len(reports), "counts": counts(reports),
               "procedure_set_counts": counts(reports, procedure_sets=True), "own_consistent": own_consistent(reports),
               "seconds": round(seconds, 1), "cases": sum(len(r.cases) for r in reports.values())}
    data = {"summary": summary, "rules": [r.as_dict() for r in sorted(reports.values(), key=lambda r: r.rule)]}
    json_path = out / "act-report.json"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = []
    for report in sorted(reports.values(), key=lambda r: (VERDICTS.index(r.verdict), r.rule)):
        tally = Counter((c["expected"], c["reported"]) for c in report.cases)
        shown = ", ".join(f"{exp}→{rep}: {n}" for (exp, rep), n in sorted(tally.items()))
        rows.append(f"<tr class=\"{report.verdict.replace(' ', '-')}\"><td>{html.escape(report.rule)}</td>"
                    f"<td>{html.escape(report.name)}</td><td>{html.escape(', '.join(report.criteria))}</td>"
                    f"<td>{report.verdict}</td><td>{html.escape(shown)}</td>"
                    f"<td>{html.escape('; '.join(f'{n}: {v}' for n, v in report.procedures.items()))}</td></tr>")
    tally = " · ".join(f"{verdict}: {n}" for verdict, n in summary["counts"].items())
    sets = " · ".join(f"{verdict}: {n}" for verdict, n in summary["procedure_set_counts"].items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ACT implementation report – {html.escape(engine)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.2rem .4rem;text-align:left}} .inconsistent{{background:#fdd}}
.consistent{{background:#dfd}} .partially-consistent{{background:#ffd}}</style></head>
<body><main><h1>ACT implementation report</h1>
<p>The accessibility layer ({html.escape(engine)} and the harness's browser checks) on {summary['cases']} test cases
of {summary['rules']} W3C ACT rules, in {summary['seconds']} s.</p>
<p>The layer, every procedure together as it runs on a page: {html.escape(tally)}</p>
<p>By W3C's procedure sets (a procedure with a false alarm left out while another is consistent):
{html.escape(sets)}</p>
<p>Consistent through the harness's own browser checks:
{html.escape(', '.join(summary['own_consistent']) or 'none')}</p>
<table><thead><tr><th>rule</th><th>name</th><th>WCAG</th><th>verdict</th><th>expected→reported</th>
<th>procedures alone</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></main></body></html>
"""
    html_path = out / "act-report.html"
    html_path.write_text(page, encoding="utf-8")
    return [json_path, html_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.act", description=__doc__.splitlines()[0])
    parser.add_argument("--rules", help=f"the folder of the ACT rules test cases (else ${ENV_VAR})")
    parser.add_argument("--out", required=True, help="where the reports go")
    parser.add_argument("--rule", action="append", default=[], help="only this rule id (repeatable)")
    parser.add_argument("--only", default="", help="only these rule ids, comma-separated (with --rule: both)")
    parser.add_argument("--browser-path", default=None, help="the Chromium to launch")
    args = parser.parse_args(argv)
    try:
        folder = rules_folder(args.rules)
    except RulesMissing as exc:
        print(f"act: {exc}", file=sys.stderr)
        return 2
    def progress(number: int, total: int, case: Case, entry: Mapping[str, Any]) -> None:
        if number % 50 == 0 or number == total:
            print(f"act: {number}/{total} cases", flush=True)

    started = time.monotonic()
    rules = [*args.rule, *(r.strip() for r in args.only.split(",") if r.strip())]
    reports, engine = measure(folder, rules=rules, browser_path=args.browser_path, progress=progress)
    paths = write(reports, Path(args.out), engine=engine, seconds=time.monotonic() - started)
    print("act: " + ", ".join(f"{verdict} {n}" for verdict, n in counts(reports).items())
          + f" (of {len(reports)} rules)", flush=True)
    print("act: by procedure sets: " + ", ".join(f"{verdict} {n}" for verdict, n in
                                                counts(reports, procedure_sets=True).items()), flush=True)
    print(f"act: consistent through own checks: {', '.join(own_consistent(reports)) or 'none'}", flush=True)
    for path in paths:
        print(f"act: {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
