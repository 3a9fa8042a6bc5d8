"""The accessibility layer measured as W3C measures checkers: the ACT rules' test cases, one implementation report.

The W3C ACT rules (https://www.w3.org/WAI/standards-guidelines/act/rules/) come with test cases, each expected to
pass, fail or be inapplicable. The cases are served from their own folder on 127.0.0.1 (never copied into the
project), the layer's checks (axe-core and the browser checks of harness/a11y.py) run on every case, and each rule
gets W3C's verdict:

- consistent: every failed example is reported as failing (by an axe rule that names the ACT rule, or a browser
  check of one of the rule's success criteria), and no passed or inapplicable example is;
- partially consistent: some failed examples are reported, none of the others;
- inconsistent: a passed or inapplicable example is reported as failing (a false alarm);
- untested: no failed example is reported.

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
# The criteria the browser checks judge: they run only on cases of rules that map to one of these.
OWN_CRITERIA = frozenset({"1.3.4", "1.4.4", "1.4.10", "1.4.12", "2.1.1", "2.1.2", "2.4.2", "2.4.7", "3.1.1"})
CASE_TIMEOUT_MS = 10_000
# The ACT rules a browser check implements, where several rules share a criterion (as axe's actIds say for axe).
BROWSER_ACT_IDS = {"letter-spacing": ("24afc2",), "word-spacing": ("9e45ec",), "line-height": ("78fd32",),
                   "text-resize": ("59br37",), "orientation": ("b33eff",), "focus-visible": ("oj04fd",)}
AXE_ACT_IDS_JS = "() => axe.getRules().map(r => [r.ruleId, r.actIds || []])"


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


def check_case(page: Any, axe: Any, url: str, case: Case) -> tuple[list[a11y.Finding], str]:
    """Every finding the layer makes on one case, and the axe version: axe's violations (all levels) and, for a
    rule about what they judge, the browser checks."""
    page.set_viewport_size(VIEWPORT)
    page.goto(url, wait_until="load", timeout=CASE_TIMEOUT_MS)
    result = axe.run(page).response
    found = [f for f in a11y.findings_from_axe(result) if "best-practice" not in f.tags]
    if OWN_CRITERIA & set(case.criteria):
        if "1.3.4" in case.criteria and a11y.orientation_locked(page):
            found.append(a11y.finding("orientation", "sidan är låst i ett läge", ["1.3.4"]))
            page.set_viewport_size(VIEWPORT)
        found += a11y.page_checks(page, viewport=VIEWPORT, expected_lang=None, settle_ms=30)
    return found, a11y.axe_version(result)


def reported_failed(case: Case, findings: Iterable[a11y.Finding],
                    act_ids: Mapping[str, Iterable[str]]) -> list[a11y.Finding]:
    """The findings that count as failing this case, as W3C maps a checker's rules to ACT rules: an axe rule
    counts for the ACT rules it names itself (axe's ``actIds``), a browser check for the rules of its criteria."""
    return [f for f in findings
            if (f.source == "axe" and case.rule in act_ids.get(f.rule, ()))
            or (f.source == "browser" and (case.rule in BROWSER_ACT_IDS[f.rule] if f.rule in BROWSER_ACT_IDS
                                           else bool(set(f.criteria) & set(case.criteria))))]


@dataclass
class RuleReport:
    rule: str
    name: str
    criteria: tuple[str, ...]
    cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        wrong_alarm = any(c["reported"] == "failed" and c["expected"] != "failed" for c in self.cases)
        failed = [c for c in self.cases if c["expected"] == "failed"]
        caught = [c for c in failed if c["reported"] == "failed"]
        if wrong_alarm:
            return "inconsistent"
        if not caught:
            return "untested"
        return "consistent" if len(caught) == len(failed) else "partially consistent"

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "name": self.name, "criteria": list(self.criteria), "verdict": self.verdict,
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
                    found, engine = check_case(page, axe, f"{base}/{case.path}", case)
                    failing = reported_failed(case, found, act_ids)
                    entry["reported"] = "failed" if failing else "passed"
                    entry["findings"] = [f.describe() for f in failing]
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


def counts(reports: Mapping[str, RuleReport]) -> dict[str, int]:
    tally = Counter(r.verdict for r in reports.values())
    return {verdict: tally.get(verdict, 0) for verdict in VERDICTS}


def write(reports: Mapping[str, RuleReport], out: Path, *, engine: str, seconds: float) -> list[Path]:
    """``act-report.json`` and ``act-report.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {"engine": engine, "rules": len(reports), "counts": counts(reports), "seconds": round(seconds, 1),
               "cases": sum(len(r.cases) for r in reports.values())}
    data = {"summary": summary, "rules": [r.as_dict() for r in sorted(reports.values(), key=lambda r: r.rule)]}
    json_path = out / "act-report.json"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = []
    for report in sorted(reports.values(), key=lambda r: (VERDICTS.index(r.verdict), r.rule)):
        tally = Counter((c["expected"], c["reported"]) for c in report.cases)
        shown = ", ".join(f"{exp}→{rep}: {n}" for (exp, rep), n in sorted(tally.items()))
        rows.append(f"<tr class=\"{report.verdict.replace(' ', '-')}\"><td>{html.escape(report.rule)}</td>"
                    f"<td>{html.escape(report.name)}</td><td>{html.escape(', '.join(report.criteria))}</td>"
                    f"<td>{report.verdict}</td><td>{html.escape(shown)}</td></tr>")
    tally = " · ".join(f"{verdict}: {n}" for verdict, n in summary["counts"].items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ACT implementation report – {html.escape(engine)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.2rem .4rem;text-align:left}} .inconsistent{{background:#fdd}}
.consistent{{background:#dfd}} .partially-consistent{{background:#ffd}}</style></head>
<body><main><h1>ACT implementation report</h1>
<p>The accessibility layer ({html.escape(engine)} and the harness's browser checks) on {summary['cases']} test cases
of {summary['rules']} W3C ACT rules, in {summary['seconds']} s.</p>
<p>{html.escape(tally)}</p>
<table><thead><tr><th>rule</th><th>name</th><th>WCAG</th><th>verdict</th><th>expected→reported</th></tr></thead>
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
    reports, engine = measure(folder, rules=args.rule, browser_path=args.browser_path, progress=progress)
    paths = write(reports, Path(args.out), engine=engine, seconds=time.monotonic() - started)
    print("act: " + ", ".join(f"{verdict} {n}" for verdict, n in counts(reports).items())
          + f" (of {len(reports)} rules)", flush=True)
    for path in paths:
        print(f"act: {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
