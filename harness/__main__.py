"""``python -m harness``: run folders, the single-file Allure report, its behaviours view as text, the leak scan
of a run's evidence, and the release's compliance steps: trace, gate, sign, verify."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from . import evidence
from .evidence import ROOT
from .masking import _JWT, _PNR, is_personnummer
from .report import ReportError, behaviours_tree, build_allure_report
from .requirements import load_catalogue

# Secrets that must never be in evidence: private keys and the shapes of well-known API keys and tokens, each with
# the literal text it cannot lack, so a file without it is not searched (the run's files are tens of MB).
SECRET_SHAPES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (what, literals, re.compile(pattern)) for what, literals, pattern in (
        ("private key", ("PRIVATE KEY",), r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
        ("AWS access key", ("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
         r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
        ("GitLab token", ("glpat-",), r"\bglpat-[A-Za-z0-9_-]{20,}"),
        ("Slack token", ("xox",), r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("Google API key", ("AIza",), r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("Stripe key", ("k_live_",), r"\b[rs]k_live_[0-9A-Za-z]{16,}"),
        ("npm token", ("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("PyPI token", ("pypi-",), r"\bpypi-[A-Za-z0-9_-]{50,}"),
        ("API key or password", (), r"""(?i)\b(?:api[_-]?key|client[_-]?secret|secret[_-]?key|access[_-]?key"""
                                    r"""|auth[_-]?token|password)["']?\s*[:=]\s*["'](?!\[)(?!\$\{)[A-Za-z0-9/+_.~-]{16,}["']"""),
    ))


def _pdf_text(path: Path) -> str:
    """What a reader of the PDF sees: its pages' text and its metadata. The raw bytes are no text to scan: their
    cross-reference table is ten-digit offsets, which pass the personnummer test by chance."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    metadata = " ".join(str(value) for value in (reader.metadata or {}).values())
    return "\n".join([metadata, *(page.extract_text() or "" for page in reader.pages)])


def scan(run_dir: Path) -> list[str]:
    """Every place in the run's files that looks like a personnummer, a JWT or bearer token, a private key or an
    API key (the masking missed it, or a tool wrote it)."""
    found = []
    bearer = re.compile(r"(?i)bearer\s+(?!\[)(?!\$\{)[A-Za-z0-9._~+/=-]{16,}")
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        text = _pdf_text(path) if path.suffix.lower() == ".pdf" else \
            path.read_bytes().decode("utf-8", errors="replace")
        for match in _PNR.finditer(text):
            if is_personnummer(match):
                found.append(f"{path.relative_to(run_dir)}: personnummer-like value at offset {match.start()}")
        for pattern, what in ((_JWT, "JWT"), (bearer, "bearer token")):
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(run_dir)}: {what} at offset {match.start()}")
        for what, literals, pattern in SECRET_SHAPES:
            if literals and not any(literal in text for literal in literals):
                continue
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(run_dir)}: {what} at offset {match.start()}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    new_run = sub.add_parser("new-run", help="make reports/<run-id>/ (and point reports/latest at it); print it")
    new_run.add_argument("label", help="what runs, e.g. api or release")
    new_run.add_argument("--reports-dir", type=Path, default=evidence.REPORTS_DIR)
    report = sub.add_parser("report", help="build the single-file Allure report of a run (Allure 3, npm)")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--name", default=None, help="report title (default: 1177-appen <run-id>)")
    tree = sub.add_parser("behaviours", help="print a run's tests by law -> requirement -> check (no browser needed)")
    tree.add_argument("run_dir", type=Path)
    check = sub.add_parser("scan", help="fail when a run's files hold a personnummer, token, key or secret")
    check.add_argument("run_dir", type=Path)
    trace = sub.add_parser("trace", help="traceability.json/.html/.pdf and the OSCAL assessment results of a run")
    trace.add_argument("run_dir", type=Path)
    trace.add_argument("--baseline", type=Path, default=None,
                       help="the run to compare with (default: the previous run of the same kind in its folder)")
    trace.add_argument("--no-pdf", action="store_true", help="skip the PDF (it needs Chromium)")
    trace.add_argument("--detection", default=None, metavar="HREF",
                       help="link the report to the detection matrix this run belongs to (relative address)")
    gate = sub.add_parser("gate", help="judge a traced run by the gate policy; write gate.json; exit 1 on failure")
    gate.add_argument("run_dir", type=Path)
    gate.add_argument("--policy", type=Path, default=None, help="the policy file (default: gate.toml)")
    sign = sub.add_parser("sign", help="write the run's manifest (SHA-256 of every file, context) and sign it")
    sign.add_argument("run_dir", type=Path)
    verify = sub.add_parser("verify", help="check a run's signature and every file; exit 1 on any difference")
    verify.add_argument("run_dir", type=Path)
    verify.add_argument("--key", type=Path, default=None, help="the signer's public key (PEM)")
    detect = sub.add_parser("detection", help="plan and judge the detection matrix's runs (nox -s detection)")
    steps = detect.add_subparsers(dest="step", required=True)
    step = steps.add_parser("plan", help="check every fault's layer claims against the tests; write the plan")
    step.add_argument("listing", type=Path, help="the JSON of pytest --list-requirements over suites/")
    step.add_argument("folder", type=Path, help="the detection run's folder (gets detection-plan.json)")
    step.add_argument("--faults", default=None, metavar="A,B", help="only these faults (default: the catalogue)")
    step = steps.add_parser("fault", help="trace and judge one fault run; write its detection-result.json")
    step.add_argument("run_dir", type=Path)
    step.add_argument("--plan", type=Path, required=True)
    step.add_argument("--fault", required=True)
    step.add_argument("--wall", type=float, required=True, help="the run's wall time in seconds")
    step = steps.add_parser("clean", help="judge a finished release run on the clean system")
    step.add_argument("run_dir", type=Path)
    step.add_argument("--wall", type=float, default=None, help="the run's wall time (default: pytest's own)")
    step = steps.add_parser("matrix", help="write detection.json/.html; exit 1 on a missed fault or false alarm")
    step.add_argument("folder", type=Path)
    step.add_argument("--clean", type=Path, nargs="*", default=[], help="the clean runs' folders")
    step.add_argument("--clean-runs", type=int, required=True, help="how many clean runs were asked for")
    step.add_argument("--wall", type=float, required=True, help="the detection run's wall time in seconds")
    args = parser.parse_args(argv)
    if args.command in ("trace", "gate", "sign", "verify"):
        return _compliance(args)
    if args.command == "detection":
        return _detection(args)

    if args.command == "new-run":
        print(evidence.create_run(args.label, args.reports_dir))
        return 0
    if args.command == "report":
        run_dir = args.run_dir.resolve()
        try:
            index = build_allure_report(run_dir, args.name or f"1177-appen {run_dir.name}")
        except ReportError as exc:
            print(f"python -m harness report: {exc}", file=sys.stderr)
            return 1
        print(index)
        return 0
    if args.command == "behaviours":
        results = args.run_dir.resolve() / "allure-results"
        if not any(results.glob("*-result.json")):
            print(f"python -m harness behaviours: {results}: no Allure results", file=sys.stderr)
            return 1
        print(behaviours_tree(results, load_catalogue()), end="")
        return 0
    findings = scan(args.run_dir.resolve())
    for line in findings:
        print(line, file=sys.stderr)
    print(f"{len(findings)} unmasked value(s) in {args.run_dir}")
    return 1 if findings else 0


def _detection(args: argparse.Namespace) -> int:
    """The detection matrix's steps (harness.detection); nox -s detection runs the tests between them."""
    import json

    from sut import faults as fault_catalogue

    from . import detection, gate
    name = f"python -m harness detection {args.step}"
    try:
        if args.step == "plan":
            chosen = fault_catalogue.parse(args.faults) if args.faults else set(fault_catalogue.CATALOGUE)
            layers = sorted(p.name for p in (ROOT / "suites").iterdir() if p.is_dir() and not p.name.startswith("_"))
            plans = detection.plan([f for n, f in fault_catalogue.CATALOGUE.items() if n in chosen],
                                   detection.load_listing(args.listing), layers)
            args.folder.mkdir(parents=True, exist_ok=True)
            (args.folder / detection.PLAN_JSON).write_text(json.dumps(
                {"layers": layers, "faults": [p.as_dict() for p in plans]}, indent=1) + "\n", encoding="utf-8")
            print(f"{len(plans)} fault(s) planned over {len(layers)} layers: {args.folder / detection.PLAN_JSON}")
            return 0
        if args.step == "fault":
            plans = _plans(args.plan)
            if args.fault not in plans:
                raise detection.DetectionError(f"{args.plan}: no fault {args.fault!r} in the plan")
            result = detection.judge_fault(args.run_dir.resolve(), plans[args.fault], gate.load_policy(),
                                           wall_s=args.wall)
            print(f"{args.fault}: {'caught' if result['caught'] else 'MISSED'} "
                  f"({', '.join(f'{k} {v}' for k, v in result['layers'].items())}); the gate names "
                  f"{', '.join(result['named']) or 'none of its requirements'}; {result['wall_s']:.0f} s")
            return 0
        if args.step == "clean":
            result = detection.judge_clean(args.run_dir.resolve(), wall_s=args.wall)
            print(f"clean run {result['run']}: gate {result['gate']}, {result['false_alarms']} false alarm(s)")
            return 0
        folder = args.folder.resolve()
        plan_data = json.loads((folder / detection.PLAN_JSON).read_text(encoding="utf-8"))
        plans = _plans(folder / detection.PLAN_JSON)
        results = [json.loads(p.read_text(encoding="utf-8"))
                   for p in sorted(folder.glob(f"faults/*/{detection.RESULT_JSON}"))]
        cleans = []
        for run in args.clean:
            path = run.resolve() / detection.RESULT_JSON
            cleans.append(json.loads(path.read_text(encoding="utf-8")) if path.is_file()
                          else detection.judge_clean(run.resolve(), wall_s=None))
        matrix = detection.build_matrix(list(plans.values()), results, cleans, plan_data["layers"],
                                        clean_runs_asked=args.clean_runs, wall_s=args.wall)
        detection.write_matrix(folder, matrix)
    except (detection.DetectionError, fault_catalogue.UnknownFaultError, gate.GateError, OSError, ValueError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    for line in detection.summary_lines(matrix):
        print(line)
    print(f"written: {folder / detection.MATRIX_JSON}, {folder / detection.MATRIX_HTML}")
    return 0 if detection.passed(matrix) else 1


def _plans(path: Path) -> dict[str, Any]:
    import json

    from . import detection
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f["fault"]: detection.FaultPlan(f["fault"], f["description"], tuple(f["breaks"]), tuple(f["layers"]),
                                            f["tests"]) for f in data["faults"]}


def _compliance(args: argparse.Namespace) -> int:
    """trace, gate, sign and verify: each says what it did on stdout and why it failed on stderr."""
    from . import bundle, gate, oscal, traceability
    run_dir = args.run_dir.resolve()
    name = f"python -m harness {args.command}"
    if not run_dir.is_dir():
        print(f"{name}: {args.run_dir}: no such run folder", file=sys.stderr)
        return 2
    if args.command == "trace":
        try:
            trace = traceability.trace_run(run_dir, today=date.today(), baseline=args.baseline, pdf=not args.no_pdf,
                                           detection=args.detection)
            oscal.write(run_dir, trace)
        # TraceError and BrowserMissing (no Chromium for the PDF) are RuntimeErrors; CatalogueError and pydantic's
        # ValidationError (OSCAL the models refuse) are ValueErrors.
        except (RuntimeError, ValueError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(traceability.summary_text(trace))
        outputs = (traceability.TRACE_JSON, traceability.TRACE_HTML, traceability.TRACE_PDF, oscal.OSCAL_JSON)
        print(f"written: {', '.join(f for f in outputs if (run_dir / f).exists())}")
        return 0
    if args.command == "gate":
        try:
            policy = gate.load_policy(args.policy or gate.POLICY_FILE)
        except gate.GateError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        verdict = gate.evaluate(run_dir, policy)
        data = gate.write_verdict(run_dir, policy, verdict)
        for reason in verdict.reasons:
            print(f"FAIL [{reason['check']}] {reason['subject']}: {reason['message']}", file=sys.stderr)
        for warning in verdict.warnings:
            print(f"warn [{warning['check']}] {warning['subject']}: {warning['message']}", file=sys.stderr)
        print(f"gate {data['gate']}: {len(verdict.reasons)} reason(s), {len(verdict.warnings)} warning(s) "
              f"(policy {data['policy']['file']} version {policy.version}); {run_dir / gate.GATE_JSON}")
        return 0 if verdict.passed else 1
    if args.command == "sign":
        try:
            data = bundle.sign(run_dir)
        except bundle.BundleError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(f"signed {data['totals']['files']} files ({data['totals']['bytes']:,} bytes) with a "
              f"{data['signing_key']['source']} key, keyid {data['signing_key']['keyid'][:16]}")
        return 0
    try:
        problems, notes = bundle.verify(run_dir, args.key)
    except bundle.BundleError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    for line in notes:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"verify {'failed' if problems else 'passed'}: {len(problems)} problem(s) in {run_dir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
