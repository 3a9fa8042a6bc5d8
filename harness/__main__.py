"""``python -m harness``: run folders, the single-file Allure report, its behaviours view as text, and the leak
scan of a run's evidence."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import evidence
from .masking import _JWT, _PNR, is_personnummer
from .report import ReportError, behaviours_tree, build_allure_report
from .requirements import load_catalogue


def scan(run_dir: Path) -> list[str]:
    """Every place in the run's files that looks like a personnummer or a JWT (the masking missed it)."""
    found = []
    bearer = re.compile(r"(?i)bearer\s+(?!\[)(?!\$\{)[A-Za-z0-9._~+/=-]{16,}")
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for match in _PNR.finditer(text):
            if is_personnummer(match):
                found.append(f"{path.relative_to(run_dir)}: personnummer-like value at offset {match.start()}")
        for pattern, what in ((_JWT, "JWT"), (bearer, "bearer token")):
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
    check = sub.add_parser("scan", help="fail when a run's files hold a personnummer or token")
    check.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
