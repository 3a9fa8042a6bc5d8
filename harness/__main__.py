"""``python -m harness``: run folders, the single-file Allure report, its behaviours view as text, the leak scan
of a run's evidence, and the release's compliance steps: trace, gate, sign, verify."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from . import evidence
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
    gate = sub.add_parser("gate", help="judge a traced run by the gate policy; write gate.json; exit 1 on failure")
    gate.add_argument("run_dir", type=Path)
    gate.add_argument("--policy", type=Path, default=None, help="the policy file (default: gate.toml)")
    sign = sub.add_parser("sign", help="write the run's manifest (SHA-256 of every file, context) and sign it")
    sign.add_argument("run_dir", type=Path)
    verify = sub.add_parser("verify", help="check a run's signature and every file; exit 1 on any difference")
    verify.add_argument("run_dir", type=Path)
    verify.add_argument("--key", type=Path, default=None, help="the signer's public key (PEM)")
    args = parser.parse_args(argv)
    if args.command in ("trace", "gate", "sign", "verify"):
        return _compliance(args)

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
            trace = traceability.trace_run(run_dir, today=date.today(), baseline=args.baseline, pdf=not args.no_pdf)
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
