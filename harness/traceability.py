"""Requirement traceability of a run: requirement -> tests and outcomes, attestations, waivers -> resulting status.

Read from the run's own evidence (requirements.json, written by fixtures/report.py, and allure-results) and the
registers in requirements/ (attestations, waivers, the accessibility register of manual checks). Written into the
run folder as traceability.json (what the gate and OSCAL read), traceability.html (for a compliance officer:
law -> requirement -> status -> evidence, linked into the Allure report) and traceability.pdf (the same page
printed by the Chromium the browser layers use).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .evidence import RUN_ID_PATTERN
from .masking import mask
from .requirements import (
    ATTESTATIONS,
    WAIVERS,
    Catalogue,
    CatalogueError,
    load_attestations,
    load_catalogue,
    load_waivers,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "harness" / "templates"
TRACE_JSON, TRACE_HTML, TRACE_PDF = "traceability.json", "traceability.html", "traceability.pdf"
FORMAT_VERSION = 1
ALLURE_INDEX = "allure-report/index.html"

# The resulting status: the five states of a run (fixtures/report.py) and "waived", an accepted deviation.
RESULTS = ("passed", "failed", "error", "not applicable", "not reviewed", "waived")
VERIFIED = ("passed", "failed", "error", "not applicable")  # a verdict from a test or a valid attestation
# The accessibility register speaks Swedish (it feeds the tillgänglighetsredogörelse).
MANUAL_RESULT = {"godkänd": "passed", "underkänd": "failed", "ej tillämplig": "not applicable"}


class TraceError(RuntimeError):
    """The run's evidence cannot be traced; the message names the file and what is wrong."""


@dataclass(frozen=True)
class RunTest:
    """One test of the run as Allure recorded it."""

    nodeid: str
    status: str
    requirements: tuple[str, ...]
    report_id: str  # the Allure 3 report's id of the result: md5 of the result's uuid


def _nodeid(result: dict[str, Any]) -> str:
    """The pytest node id: the label fixtures/report.py adds, else made from the path and the result's name (which
    is the node's name only where no title was given)."""
    for label in result.get("labels", []):
        if label.get("name") == "nodeid" and label.get("value"):
            return str(label["value"])
    path = "/".join(result.get("titlePath") or [])
    return f"{path}::{result.get('name', '?')}" if path else str(result.get("fullName") or result.get("name"))


def allure_tests(results_dir: Path, catalogue: Catalogue) -> list[RunTest]:
    """Every test result of the run, with the catalogue IDs of its ``requirement`` labels."""
    tests = []
    for path in sorted(results_dir.glob("*-result.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TraceError(f"{path.name}: not a readable Allure result: {exc}") from None
        ids = tuple(dict.fromkeys(
            label.get("value", "").split(" ", 1)[0] for label in result.get("labels", [])
            if label.get("name") == "requirement"))
        report_id = hashlib.md5(str(result.get("uuid", "")).encode(), usedforsecurity=False).hexdigest()
        tests.append(RunTest(_nodeid(result), str(result.get("status", "unknown")),
                             tuple(i for i in ids if i in catalogue), report_id))
    return tests


@dataclass(frozen=True)
class Register:
    """Attestations (the accessibility register's manual checks among them) and waivers, as plain records."""

    attestations: tuple[dict[str, Any], ...]
    waivers: tuple[dict[str, Any], ...]


def load_registers(catalogue: Catalogue, today: date, *, attestations: Path = ATTESTATIONS,
                   waivers: Path = WAIVERS, manual_checks: Path | None = None) -> Register:
    """Every attestation and waiver with ``expired`` as of ``today``; a broken register is a CatalogueError."""
    from . import a11y  # its register lives with the accessibility layer

    items: list[dict[str, Any]] = []
    for a in load_attestations(attestations, catalogue):
        items.append({"requirement": a.requirement, "result": a.result, "who": a.who, "approver": a.approver,
                      "when": a.when.isoformat(), "expiry": a.expiry.isoformat(), "evidence": a.evidence,
                      "reason": a.reason, "source": f"{a.file}:{a.line}", "expired": a.expired(today)})
    path = manual_checks or a11y.MANUAL_CHECKS
    try:
        checks = a11y.load_manual_checks(path, known=list(catalogue.requirements))
    except a11y.RegisterError as exc:
        raise CatalogueError(str(exc)) from None
    display = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for c in checks:
        items.append({"requirement": c.criterion, "result": MANUAL_RESULT[c.result], "who": c.who,
                      "approver": c.approver, "when": c.when.isoformat(), "expiry": c.expiry.isoformat(),
                      "evidence": c.evidence, "reason": f"{c.title}. {c.note}".strip(),
                      "source": f"{display}:{c.line}", "expired": c.expired(today)})
    waived = [{"requirement": w.requirement, "reason": w.reason, "who": w.who, "approver": w.approver,
               "when": w.when.isoformat(), "expiry": w.expiry.isoformat(), "evidence": w.evidence,
               "source": f"{w.file}:{w.line}", "expired": w.expired(today)}
              for w in load_waivers(waivers, catalogue)]
    return Register(tuple(items), tuple(waived))


def resulting_status(verification: str, test_status: str, attestations: list[dict[str, Any]],
                     waivers: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(status, basis, reason) of one requirement from its tests' status and its valid registers.

    automated: the tests decide; with no verdict from them a valid attestation may give one. manual: only a valid
    attestation gives a verdict. hybrid: a test and a person together, so it passes only when both passed. A failed
    attestation fails the requirement whatever the tests said. A valid waiver turns a requirement that is not met
    (failed, error, not reviewed) into "waived". Expired entries count for nothing (the gate fails on them)."""
    valid = [a for a in attestations if not a["expired"]]
    results = {a["result"] for a in valid}
    if "failed" in results:
        status, basis, reason = "failed", "attestation", "a valid attestation found it not met"
    elif verification == "manual" or (verification == "automated" and test_status == "not reviewed"):
        if valid:
            status = "passed" if "passed" in results else "not applicable"
            basis, reason = "attestation", f"{len(valid)} valid attestation(s)"
        else:
            status, basis = "not reviewed", "none"
            reason = ("no valid attestation (an expired one does not count)" if attestations
                      else "nothing verifies it: no test verdict and no attestation")
    elif verification == "hybrid" and test_status == "passed":
        if "passed" in results:
            status, basis, reason = "passed", "test+attestation", "its tests passed and a person attested the rest"
        elif "not applicable" in results:
            status, basis, reason = "not applicable", "attestation", "attested as not applicable"
        else:
            status, basis, reason = "not reviewed", "test", "its tests passed; the manual part has no valid attestation"
    elif verification == "hybrid" and test_status == "not reviewed" and "not applicable" in results:
        status, basis, reason = "not applicable", "attestation", "attested as not applicable"
    else:
        status, basis = test_status, "test" if test_status != "not reviewed" else "none"
        reason = "from its tests"
    live_waivers = [w for w in waivers if not w["expired"]]
    if status in ("failed", "error", "not reviewed") and live_waivers:
        reason = f"{status}, accepted by a waiver until {max(w['expiry'] for w in live_waivers)}"
        status, basis = "waived", "waiver"
    return status, basis, reason


def run_kind(run_dir: Path) -> str:
    """The label of a run folder (20261202-101500-release -> release; a suffix -2 for a second run is dropped)."""
    name = run_dir.name
    if not RUN_ID_PATTERN.match(name):
        return name
    label = name.split("-", 2)[2]
    return re.sub(r"-\d+$", "", label)


def previous_run(run_dir: Path) -> Path | None:
    """The newest earlier run of the same kind beside this one that was traced (or at least summarised)."""
    kind = run_kind(run_dir)
    earlier = [p for p in run_dir.parent.iterdir()
               if p.is_dir() and not p.is_symlink() and p.name < run_dir.name and RUN_ID_PATTERN.match(p.name)
               and run_kind(p) == kind and ((p / TRACE_JSON).is_file() or (p / "requirements.json").is_file())]
    return max(earlier, key=lambda p: p.name) if earlier else None


def _statuses_of(run_dir: Path) -> dict[str, str]:
    if (run_dir / TRACE_JSON).is_file():
        data = json.loads((run_dir / TRACE_JSON).read_text(encoding="utf-8"))
        return {r["id"]: r["status"] for r in data["requirements"]}
    data = json.loads((run_dir / "requirements.json").read_text(encoding="utf-8"))
    return {k: v["status"] for k, v in data["requirements"].items()}


def compare(current: dict[str, str], baseline: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """Regressions (was met, now is not), fixes (the other way), other changes, new and removed requirements."""
    met = ("passed", "not applicable")
    broken = ("failed", "error")
    out: dict[str, list[dict[str, str]]] = {"regressions": [], "fixes": [], "changes": [], "new": [], "removed": []}
    for req_id, now in current.items():
        before = baseline.get(req_id)
        if before is None:
            out["new"].append({"id": req_id, "now": now})
        elif before in met and now in broken:
            out["regressions"].append({"id": req_id, "before": before, "now": now})
        elif before in broken and now in met:
            out["fixes"].append({"id": req_id, "before": before, "now": now})
        elif before != now:
            out["changes"].append({"id": req_id, "before": before, "now": now})
    out["removed"] = [{"id": req_id, "before": before} for req_id, before in baseline.items() if req_id not in current]
    return out


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "requirements.json"
    if not path.is_file():
        raise TraceError(f"{path}: missing (the run wrote no requirement summary: did pytest run with --run-dir?)")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise TraceError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data.get("requirements"), dict):
        raise TraceError(f"{path}: has no 'requirements' mapping")
    return data


def build(run_dir: Path, catalogue: Catalogue, register: Register, *, today: date,
          baseline: Path | None = None) -> dict[str, Any]:
    """The traceability of a run as plain data (what traceability.json holds)."""
    run = _read_run(run_dir)
    results_dir = run_dir / "allure-results"
    tests = allure_tests(results_dir, catalogue) if results_dir.is_dir() else []
    report_ids = {t.nodeid: t.report_id for t in tests}
    has_report = (run_dir / ALLURE_INDEX).is_file()
    requirements = []
    for req in catalogue.requirements.values():
        recorded = run["requirements"].get(req.id, {})
        test_status = recorded.get("status", "not reviewed")
        attestations = [a for a in register.attestations if a["requirement"] == req.id]
        waivers = [w for w in register.waivers if w["requirement"] == req.id]
        status, basis, reason = resulting_status(req.verification, test_status, attestations, waivers)
        if basis in ("test", "none") and recorded.get("reason"):
            reason = recorded["reason"] if status == test_status else reason
        requirements.append({
            "id": req.id, "title": req.title, "kind": req.kind, "law": req.epic, "source": req.source,
            "reference": req.reference, "link": req.link, "summary": req.summary, "impact": req.impact,
            "verification": req.verification, "layers": list(req.layers), "applies_to": list(req.applies_to),
            "needs_legal_review": req.needs_legal_review, "test_status": test_status, "status": status,
            "basis": basis, "reason": reason,
            "tests": [{"test": t["test"], "outcome": t["outcome"],
                       "report": f"{ALLURE_INDEX}#{report_ids[t['test']]}"
                       if has_report and t["test"] in report_ids else None}
                      for t in recorded.get("tests", [])],
            "attestations": attestations, "waivers": waivers})
    untraced = sorted(t.nodeid for t in tests if not t.requirements)
    unknown_in_run = sorted(set(run["requirements"]) - set(catalogue.requirements))
    counts = {state: sum(1 for r in requirements if r["status"] == state) for state in RESULTS}
    by_basis = {b: sum(1 for r in requirements if r["basis"] == b and r["status"] in VERIFIED)
                for b in ("test", "attestation", "test+attestation")}
    verified = sum(by_basis.values())
    base = baseline if baseline is not None else previous_run(run_dir)
    against = None
    if base is not None:
        against = {"run": base.name, **compare({r["id"]: r["status"] for r in requirements}, _statuses_of(base))}
    return {
        "format": FORMAT_VERSION, "run": run_dir.name, "kind": run_kind(run_dir), "date": today.isoformat(),
        "target": run.get("target"), "faults": run.get("faults", []), "layers": run.get("layers", []),
        "exit_status": run.get("exit_status"), "allure_report": ALLURE_INDEX if has_report else None,
        "summary": {"total": len(requirements), **counts, "verified": verified, "verified_by": by_basis,
                    "coverage": round(verified / len(requirements), 4) if requirements else 0.0,
                    "tests": len(tests), "untraced_tests": len(untraced)},
        "requirements": requirements,
        "unverified": [r["id"] for r in requirements if r["status"] == "not reviewed"],
        "untraced_tests": untraced, "unknown_requirements_in_run": unknown_in_run,
        "expired": [{"kind": "attestation", **a} for a in register.attestations if a["expired"]]
        + [{"kind": "waiver", **w} for w in register.waivers if w["expired"]],
        "baseline": against,
        "detection": None,  # trace_run: the detection matrix the run belongs to
    }


# --- the report ------------------------------------------------------------------------------------------------------
STATUS_SV = {"passed": "uppfyllt", "failed": "ej uppfyllt", "error": "fel vid körning",
             "not applicable": "ej tillämpligt", "not reviewed": "ej granskat", "waived": "undantag",
             "inconclusive": "utan utslag", "skipped": "överhoppad"}
OUTCOME_SV = {"passed": "godkänt", "failed": "underkänt", "error": "fel", "inconclusive": "utan utslag",
              "skipped": "överhoppat"}
BASIS_SV = {"test": "automatiskt test", "attestation": "manuell attestering", "test+attestation":
            "test och attestering", "waiver": "undantag", "none": "inget underlag"}
IMPACT_SV = {"critical": "kritisk", "high": "hög", "medium": "medel", "low": "låg"}
VERIFICATION_SV = {"automated": "automatiserad", "manual": "manuell", "hybrid": "test och manuell granskning"}


def render_html(trace: dict[str, Any]) -> str:
    """traceability.html: one self-contained page (no scripts, no remote loads), grouped by law."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
                             undefined=jinja2.StrictUndefined)
    laws: dict[str, list[dict[str, Any]]] = {}
    for req in trace["requirements"]:
        laws.setdefault(req["law"], []).append(req)
    html = env.get_template("traceability.html.j2").render(
        trace=trace, laws=laws, status_sv=STATUS_SV, outcome_sv=OUTCOME_SV, basis_sv=BASIS_SV,
        verification_sv=VERIFICATION_SV, impact_sv=IMPACT_SV)
    return mask(html)


def write_pdf(html_path: Path, pdf_path: Path, *, browser_path: str | None = None) -> Path:
    """The report printed to PDF by Chromium (the browser layers' own: harness.browser finds it)."""
    from playwright.sync_api import sync_playwright

    from .browser import LAUNCH_ARGS, require_chromium

    executable = require_chromium(browser_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=list(LAUNCH_ARGS))
        try:
            page = browser.new_page()
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            page.pdf(path=str(pdf_path), format="A4", print_background=True,
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()
    return pdf_path


def trace_run(run_dir: Path, *, today: date | None = None, baseline: Path | None = None, pdf: bool = True,
              catalogue: Catalogue | None = None, register: Register | None = None,
              detection: str | None = None) -> dict[str, Any]:
    """Build and write traceability.json, .html and (unless ``pdf`` is false) .pdf into the run folder;
    ``detection`` is the relative address of the detection matrix the run belongs to, linked from the report."""
    today = today or date.today()
    catalogue = catalogue or load_catalogue()
    register = register or load_registers(catalogue, today)
    trace = build(run_dir, catalogue, register, today=today, baseline=baseline)
    trace["detection"] = detection
    (run_dir / TRACE_JSON).write_text(mask(json.dumps(trace, indent=1, ensure_ascii=False)), encoding="utf-8")
    html_path = run_dir / TRACE_HTML
    html_path.write_text(render_html(trace), encoding="utf-8")
    if pdf:
        write_pdf(html_path, run_dir / TRACE_PDF)
    return trace


def summary_text(trace: dict[str, Any]) -> str:
    s = trace["summary"]
    states = ", ".join(f"{s[state]} {state}" for state in RESULTS)
    by = ", ".join(f"{n} by {b}" for b, n in s["verified_by"].items())
    lines = [f"{s['total']} requirements: {states}",
             f"verified {s['verified']} of {s['total']} ({100 * s['coverage']:.0f} %): {by}",
             f"{s['tests']} tests, {s['untraced_tests']} trace to no requirement"]
    if trace["baseline"]:
        b = trace["baseline"]
        lines.append(f"against {b['run']}: " + ", ".join(f"{len(b[k])} {k}" for k in
                                                         ("regressions", "fixes", "changes", "new", "removed")))
    return "\n".join(lines)
