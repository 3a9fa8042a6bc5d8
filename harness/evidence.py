"""Run folders and Allure evidence: reports/<run-id>/ with allure-results, environment, categories, `latest`.

Everything written here goes through the masking function (BR-SEC-1); the run folder is masked once more at
the end of the run, so values that tools wrote on their own (failure messages, captured output) are caught too.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess  # nosec B404 # fixed argument lists of the project's own tools, no shell
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .masking import mask, mask_tree

ROOT = Path(__file__).resolve().parent.parent
REPORTS_DIR = ROOT / "reports"
RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]+$")

# Allure categories: how failures are grouped in the report. The first matching category wins.
CATEGORIES = [
    {"name": "Server error (5xx): a defect of the system, not a broken business rule",
     "matchedStatuses": ["failed", "broken"], "messageRegex": r"[\s\S]*server error[\s\S]*"},
    {"name": "Broken requirement: authorization (IDOR, ombud, staff scope)", "matchedStatuses": ["failed"],
     "messageRegex": r".*(BR-PROXY-1|BR-INBOX-1|BR-STAFF-1|PDL-5-5|PDL-4-1|OSL-12-3).*"},
    {"name": "Reference system stopped during the run", "matchedStatuses": ["failed", "broken"],
     "messageRegex": r".*reference system.*stopped.*"},
    {"name": "API contract or schema violation (schemathesis)", "matchedStatuses": ["failed"],
     "messageRegex": r".*(Undocumented|Response violates schema|Server error|API rejected schema-compliant|"
                     r"API accepted schema-violating|Missing Content-Type|Undocumented Content-Type|"
                     r"Unsupported methods|Missing header).*"},
    {"name": "Broken requirement", "matchedStatuses": ["failed"], "messageRegex": r".*(BR|GDPR|PDL|OSL|HSLF)-.*"},
    {"name": "Product defect", "matchedStatuses": ["failed"]},
    {"name": "Test or harness defect", "matchedStatuses": ["broken"]},
    {"name": "Skipped on a sensitive target", "matchedStatuses": ["skipped"],
     "messageRegex": r".*sensitive target.*"},
]


def new_run_id(label: str, now: datetime | None = None) -> str:
    """'20261127-031500-api': sortable, unique per second and session."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    clean = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") or "run"
    return f"{stamp}-{clean}"


def create_run(label: str, reports_dir: Path = REPORTS_DIR) -> Path:
    """A fresh reports/<run-id>/ folder (a suffix is added if the second is taken) and `latest` pointing at it."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    base = new_run_id(label)
    run_dir = reports_dir / base
    n = 1
    while True:
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            n += 1
            run_dir = reports_dir / f"{base}-{n}"
    (run_dir / "allure-results").mkdir()
    point_latest(run_dir)
    return run_dir


def point_latest(run_dir: Path) -> None:
    """reports/latest -> the newest run, replaced atomically."""
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    tmp.replace(latest)


def git_commit(root: Path = ROOT) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,  # noqa: S607 # nosec B603, B607 # git from PATH, fixed argv
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    if not commit:
        return "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,  # noqa: S607 # nosec B603, B607 # git from PATH, fixed argv
                           capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def versions(packages: tuple[str, ...] = ("pytest", "schemathesis", "allure-pytest", "httpx", "hypothesis",
                                           "fastapi", "app1177-harness")) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _properties_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")


def write_environment(results_dir: Path, values: Mapping[str, str]) -> Path:
    """Allure's environment.properties (shown on the report's overview), masked."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{_properties_escape(k)}={_properties_escape(mask(str(v)))}" for k, v in values.items()]
    path = results_dir / "environment.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_categories(results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "categories.json"
    path.write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    return path


def write_executor(results_dir: Path, *, run_id: str, name: str = "nox", build_url: str | None = None) -> Path:
    data = {"name": name, "type": "local", "buildName": run_id, "buildOrder": int(time.time())}
    if build_url:
        data["buildUrl"] = build_url
    path = results_dir / "executor.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def finalize_run(run_dir: Path) -> int:
    """Mask every text file of the run in place (the last line of defence); returns how many changed."""
    return mask_tree(run_dir)
