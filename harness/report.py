"""The single-file HTML Allure report, made by Allure 3 from npm (no Java), that opens offline from file://, and
its behaviours view as text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404 # fixed argument lists of the project's own tools, no shell
from pathlib import Path

from .masking import mask, mask_file
from .requirements import Catalogue

ROOT = Path(__file__).resolve().parent.parent
ALLURE_BIN = ROOT / "node_modules" / ".bin" / "allure"

# Allure 3's page template always includes a Google Analytics tag; offline it only fails, and a report of
# health-data tests must not call out to a third party (GDPR-44), so it is removed.
_ANALYTICS = [
    re.compile(r"<script[^>]*googletagmanager\.com[^>]*>\s*</script>\s*", re.I),
    re.compile(r"<script>\s*window\.dataLayer\s*=.*?</script>\s*", re.I | re.S),
]
_REMOTE_LOAD = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


class ReportError(RuntimeError):
    """The report could not be made; the message says what to install or fix."""


def allure_command() -> list[str]:
    if ALLURE_BIN.exists():
        return [str(ALLURE_BIN)]
    raise ReportError(f"Allure 3 is not installed: run 'npm ci' in {ROOT.name}/ (package.json pins it)")


def strip_remote(html: str) -> str:
    for pattern in _ANALYTICS:
        html = pattern.sub("", html)
    return html


def remote_loads(html: str) -> list[str]:
    """Tags that would load something from the network when the file is opened."""
    return [m.group(0)[:120] for m in _REMOTE_LOAD.finditer(html)]


BEHAVIOURS = ("epic", "feature", "story")  # law -> "ID title" -> what the test checks (fixtures/evidence.py)
BEHAVIOURS_FILE = "krav.html"


def _awesome(results: Path, out: Path, name: str, timeout: float, *extra: str) -> Path:
    """One single-file Allure 3 report of ``results`` in ``out``, offline and masked; returns its index.html."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [*allure_command(), "awesome", str(results), "--single-file", "-o", str(out), "--report-name", name, *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603 # nosec B603 # fixed argv, no shell
    index = out / "index.html"
    if proc.returncode != 0 or not index.exists():
        raise ReportError(f"allure awesome failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    html = strip_remote(index.read_text(encoding="utf-8"))
    remote = remote_loads(html)
    if remote:
        raise ReportError(f"{index}: the report still loads from the network: {remote}")
    index.write_text(html, encoding="utf-8")
    mask_file(index)
    return index


def build_allure_report(run_dir: Path, name: str, *, timeout: float = 300) -> Path:
    """reports/<run>/allure-report/index.html (tests by code) and krav.html beside it (by law -> requirement ->
    check, Allure's behaviours), from reports/<run>/allure-results; returns index.html."""
    results = run_dir / "allure-results"
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ReportError(f"{results}: no Allure results to build a report from")
    out = run_dir / "allure-report"
    index = _awesome(results, out, name, timeout)
    by_law = _awesome(results, run_dir / ".allure-report-krav", f"{name}: krav", timeout,
                      "--group-by", ",".join(BEHAVIOURS))
    by_law.replace(out / BEHAVIOURS_FILE)
    shutil.rmtree(by_law.parent)
    return index


def behaviours_tree(results_dir: Path, catalogue: Catalogue) -> str:
    """The report's behaviours view as text: law -> "ID title" -> what the test checks -> test [status].

    Read from allure-results, for a reader without a browser. Each feature sits under its own law only (Allure's
    page shows a test of two laws under both laws' epics); under a feature, a test shows under each of its checks.
    """
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    order = {req_id: n for n, req_id in enumerate(catalogue.requirements)}
    for path in sorted(results_dir.glob("*-result.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        labels = [(label["name"], label.get("value", "")) for label in result.get("labels", [])]
        stories = [value for name, value in labels if name == "story"] or ["(ingen kontroll angiven)"]
        for name, feature in labels:
            req_id = feature.split(" ", 1)[0]
            if name != "feature" or req_id not in catalogue:
                continue
            epic = catalogue[req_id].epic
            for story in stories:
                tree.setdefault(epic, {}).setdefault(feature, {}).setdefault(story, []).append(
                    f"{result.get('name', '?')} [{result.get('status', '?')}]")
    lines = []
    epics = sorted(tree, key=lambda e: min(order[f.split(" ", 1)[0]] for f in tree[e]))
    for epic in epics:
        lines.append(epic)
        for feature in sorted(tree[epic], key=lambda f: order[f.split(" ", 1)[0]]):
            tests = len({name for names in tree[epic][feature].values() for name in names})
            lines.append(f"  {feature} ({tests} test{'s' if tests != 1 else ''})")
            for story, names in sorted(tree[epic][feature].items()):
                lines.append(f"    {story}")
                lines += [f"      {name}" for name in sorted(names)]
    return mask("\n".join(lines) + "\n")
