"""Sessions of the 1177 app release harness. ``nox -l`` lists them; posargs go through to the tool."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess  # nosec B404 - the detection matrix's pytest runs, from this project's venv
import sys
import time
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the project's own stdlib-only helpers (harness/soak.py)
from harness import soak as soak_runs

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "selftest"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


def _which(command: str) -> str | None:
    # Debian keeps the PostgreSQL server programs off PATH, in /usr/lib/postgresql/<version>/bin.
    if command.startswith("/"):  # a file a package installs, not a program (fonts)
        return command if Path(command).exists() else None
    found = shutil.which(command)
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        found = found or (str(Path(folder, command)) if Path(folder, command).exists() else None)
    return found


def _need(session: nox.Session, package: str, *commands: str) -> None:
    """System programs from Debian's packages: installed when missing and we are root, else named in an error."""
    if all(_which(c) for c in commands):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        session.log(f"installing {package} (for {', '.join(commands)})")
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", package, external=True,
                    env={"DEBIAN_FRONTEND": "noninteractive"})
        return
    session.error(f"{', '.join(commands)} not found: install the package {package!r} "
                  f"(Debian: apt-get install {package}) and run again")


def _allure(session: nox.Session) -> None:
    """Allure 3 for the single-file report, from package-lock.json (npm; no Java)."""
    _need(session, "nodejs", "node")
    _need(session, "npm", "npm")
    if not Path("node_modules/.bin/allure").exists():
        session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)


def _browser(session: nox.Session) -> None:
    """Chromium and its fonts for the browser layers: an explicit HARNESS_CHROMIUM or Playwright's own download
    (``playwright install chromium``) is used as it is; else Debian's chromium (Playwright cannot download here)."""
    if os.environ.get("HARNESS_CHROMIUM") or glob.glob(os.path.expanduser("~/.cache/ms-playwright/chromium-*/")):
        return
    _need(session, "chromium", "chromium")
    _need(session, "fonts-liberation", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")


def _appium(session: nox.Session) -> None:
    """Appium 3 and its Chromium driver from package-lock.json (APPIUM_HOME is the project: no global install),
    and Debian's chromium with its chromedriver of the same version."""
    _need(session, "chromium", "chromium")
    _need(session, "chromium-driver", "chromedriver")
    _need(session, "fonts-liberation", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
    _need(session, "nodejs", "node")
    _need(session, "npm", "npm")
    if not all(Path(p).exists() for p in ("node_modules/.bin/appium", "node_modules/appium-chromium-driver")):
        session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)


def _install(session: nox.Session, *groups: str) -> None:
    """The project (its run-time dependencies) plus dependency groups from pyproject.toml."""
    session.install("-e", ".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session(python=PYTHON)
def selftest(session: nox.Session) -> None:
    """The project's own tests: harness/, fixtures/ and the reference system in sut/."""
    _need(session, "postgresql", "initdb", "pg_ctl")  # tests/postgres runs the system on a throwaway cluster
    _allure(session)  # the report tests build a real report
    _browser(session)  # tests/test_harness_browser.py launches Chromium
    _appium(session)  # tests/test_appium*.py, test_mobile*.py start Appium
    _install(session, "test")
    session.run("pytest", "-n", "2", "--dist", "loadgroup", *session.posargs)


@nox.session(python=PYTHON, default=False)
def sut(session: nox.Session) -> None:
    """Run the reference system in the foreground (test mode; Ctrl+C stops it)."""
    _install(session)
    session.run("python", "-m", "sut", "--test-mode", "--log-level", "INFO", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Push fan-out benchmark: one bulk send to 10,000 and 100,000 devices, and the gateways' ceiling
    (python -m harness.bench)."""
    _install(session)
    session.install("-e", ".[postgres]")  # SUT_DATABASE_URL may name a PostgreSQL database
    session.run("python", "-m", "harness.bench", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".", *session.posargs)


# --- the release layers ----------------------------------------------------------------------------------------------
# A layer is a folder in suites/ and the dependency group that runs it; a new layer adds itself here.
LAYERS = {"api": "api", "web": "web", "a11y": "web", "mobile": "mobile", "security": "security",
          "load": "load", "compliance": "compliance"}
BROWSER_LAYERS = ("web", "a11y")  # the layers that need Chromium
FUZZ_BUDGET_RELEASE = 50  # schemathesis examples per operation in a release (the default is quick)


def _layers() -> dict[str, str]:
    """The layers that exist in this tree, in LAYERS order."""
    return {name: group for name, group in LAYERS.items() if (Path("suites") / name).is_dir()}


def _run_suites(session: nox.Session, label: str, paths: list[str], *pytest_args: str,
                html_report: bool = False, compliance: str | None = None) -> None:
    """pytest into a fresh reports/<run-id>/ (JUnit, Allure results, system log); the evidence is written and
    scanned for unmasked personal data even when tests fail, and then the session fails. ``compliance`` adds the
    compliance steps (see _compliance): "gate" lets the gate's verdict fail the session, "advisory" only reports it."""
    run_dir, passed = _run_once(session, label, paths, *pytest_args, *session.posargs, html_report=html_report,
                                scan=compliance is None)
    gate_passed = _compliance(session, run_dir) if compliance else True
    if not passed:
        session.error(f"tests failed; the evidence is in {run_dir}")
    if not gate_passed and compliance == "gate":
        session.error(f"the release gate failed: its reasons are above and in {run_dir}/gate.json")


def _run_once(session: nox.Session, label: str, paths: list[str], *pytest_args: str,
              html_report: bool = False, scan: bool = True) -> tuple[str, bool]:
    """One run of _run_suites without failing the session: its evidence folder, and whether the tests passed."""
    run_dir = session.run("python", "-m", "harness", "new-run", label, silent=True).strip().splitlines()[-1]
    passed = True
    try:
        session.run("pytest", *paths, "-n", "2", "--run-dir", run_dir, "--alluredir", f"{run_dir}/allure-results",
                    "--junitxml", f"{run_dir}/junit.xml", *pytest_args,
                    env={"HARNESS_EXECUTOR": f"nox -s {session.name}"})
    except nox.command.CommandFailed:
        passed = False
    if html_report:
        session.run("python", "-m", "harness", "report", run_dir, "--name", f"1177-appen {label} {Path(run_dir).name}")
    if scan:
        session.run("python", "-m", "harness", "scan", run_dir)
    session.log(f"evidence: {run_dir} (reports/latest)")
    return run_dir, passed


def _compliance(session: nox.Session, run_dir: str, *trace_args: str, fail: bool = True) -> bool:
    """trace -> gate -> scan -> sign -> verify on the run folder; whether the gate passed. The bundle is signed and
    verified even when the gate fails (its verdict is part of the evidence); a failed scan or verify fails the
    session after signing (with ``fail`` false they only make the result False: the detection matrix counts them)."""
    started = time.monotonic()
    steps_ok = {}
    for step, args in (("trace", trace_args), ("gate", ()), ("scan", ()), ("sign", ()), ("verify", ())):
        try:
            session.run("python", "-m", "harness", step, run_dir, *args)
            steps_ok[step] = True
        except nox.command.CommandFailed:
            steps_ok[step] = False  # a failed trace leaves no traceability.json: the gate then fails closed
    session.log(f"compliance steps (trace, gate, scan, sign, verify): {time.monotonic() - started:.1f} s")
    problems = {"scan": "the evidence holds unmasked personal data or secrets (listed above)",
                "trace": "the run could not be traced (the reason is above)",
                "sign": "the evidence could not be signed (the reason is above)",
                "verify": "the signed evidence does not verify (the differences are above)"}
    for step, problem in problems.items():
        if not steps_ok[step]:
            if fail:
                session.error(f"{problem}; see {run_dir}")
            return False
    return steps_ok["gate"]


@nox.session(python=PYTHON, default=False)
def api(session: nox.Session) -> None:
    """API layer: schemathesis on both OpenAPI documents, the authorization matrix, contract checks."""
    _install(session, "api")
    _run_suites(session, "api", ["suites/api"])


@nox.session(python=PYTHON, default=False)
def web(session: nox.Session) -> None:
    """Web layer: Playwright on Chromium in every device profile (login, inbox, deep links, SSO, WebView rules)."""
    _browser(session)
    _install(session, "web")
    _run_suites(session, "web", ["suites/web"])


@nox.session(python=PYTHON, default=False)
def mobile(session: nox.Session) -> None:
    """Mobile layer: Appium flows on the local profiles (-- --devices browserstack-ios-17 etc. for a farm)."""
    _appium(session)
    _install(session, "mobile")
    _run_suites(session, "mobile", ["suites/mobile"])


@nox.session(python=PYTHON, default=False)
def smoke(session: nox.Session) -> None:
    """A fast cross-section of every layer (tests marked smoke): a few minutes, for every change."""
    layers = _layers()
    if any(name in BROWSER_LAYERS for name in layers):
        _browser(session)
    if "mobile" in layers:
        _appium(session)
    _install(session, *dict.fromkeys(layers.values()), "evidence")
    # The compliance steps run to prove the chain works; a smoke run is no release candidate (most layers run only
    # in part), so its gate verdict is written and shown but does not decide the session.
    _run_suites(session, "smoke", [f"suites/{name}" for name in layers], "-m", "smoke", "--fuzz-budget", "3",
                compliance="advisory")


def _release_setup(session: nox.Session) -> dict[str, str]:
    """What a release run needs (Chromium, Appium, every layer's group, Allure); the layers that exist."""
    layers = _layers()
    if any(name in BROWSER_LAYERS for name in layers):
        _browser(session)
    if "mobile" in layers:
        _appium(session)
    _install(session, *dict.fromkeys(layers.values()), "evidence")
    _allure(session)
    return layers


@nox.session(python=PYTHON, default=False)
def release(session: nox.Session) -> None:
    """Every layer that exists, deeper fuzzing, the single-file Allure report, then trace, gate, sign and verify:
    the session fails when the tests or the release gate (gate.toml) fail, after the bundle is signed."""
    layers = _release_setup(session)
    _run_suites(session, "release", [f"suites/{name}" for name in layers], *RELEASE_ARGS, html_report=True,
                compliance="gate")


RELEASE_ARGS = ("--fuzz-budget", str(FUZZ_BUDGET_RELEASE), "--timeout", "900")
CLEAN_RUNS = 3  # the detection matrix's release runs on the clean system


def _fault_runs(session: nox.Session, folder: str, items: list[dict], *, jobs: int) -> None:
    """Run each planned fault (at most ``jobs`` at a time) and judge it; each run's output goes to its folder."""
    pending, running = list(items), []
    python = str(Path(session.bin) / "python")
    env = {**os.environ, "HARNESS_EXECUTOR": "nox -s detection"}
    while pending or running:
        while pending and len(running) < jobs:
            item = pending.pop(0)
            run_dir = Path(folder, "faults", item["fault"])
            (run_dir / "allure-results").mkdir(parents=True, exist_ok=True)
            breaks = ",".join(item["breaks"])
            # A static check (of the project's own code) cannot see a fault of the running system.
            command = [python, "-m", "pytest", *(f"suites/{layer}" for layer in item["layers"]), "-p", "no:xdist",
                       "-m", "not static", "--requirements", breaks, "--stop-when-broken", breaks,
                       "--sut-faults", item["fault"], "--run-dir", str(run_dir),
                       "--alluredir", str(run_dir / "allure-results"), "--junitxml", str(run_dir / "junit.xml"),
                       "-p", "no:cacheprovider", "-q", "--timeout", "600"]
            log = open(run_dir / "pytest.log", "w", encoding="utf-8")  # closed when the run ends
            session.log(f"fault {item['fault']} on {', '.join(item['layers'])}: {run_dir}/pytest.log")
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
            running.append((item, run_dir, process, log, time.monotonic()))
        time.sleep(0.5)
        for entry in [r for r in running if r[2].poll() is not None]:
            running.remove(entry)
            item, run_dir, process, log, run_started = entry
            log.close()
            # A failing exit is what the fault should cause; the judge says whether the right tests failed.
            session.run("python", "-m", "harness", "detection", "fault", str(run_dir), "--plan",
                        f"{folder}/detection-plan.json", "--fault", item["fault"],
                        "--wall", f"{time.monotonic() - run_started:.1f}")


@nox.session(python=PYTHON, default=False)
def detection(session: nox.Session) -> None:
    """The detection matrix: each fault of sut/faults.py on its own, with the layers expected to catch it (their
    tests that name the fault's requirements), judged by the release gate's rules; then the whole release on the
    clean system three times. Fails on a missed fault or any false alarm.
    Options: -- --faults a,b (only these), --clean-runs N (default 3), --release-run DIR (a finished release run
    on the clean system counts as one of them)."""
    args = list(session.posargs)
    faults, clean_runs, counted = None, CLEAN_RUNS, []
    while args:
        option = args.pop(0)
        if option in ("--faults", "--clean-runs", "--release-run") and args:
            value = args.pop(0)
            if option == "--faults":
                faults = value
            elif option == "--clean-runs":
                clean_runs = int(value)
            else:
                counted.append(str(Path(value).resolve()))  # reports/latest moves on as this session runs
        else:
            session.error(f"detection: unknown option {option!r} (--faults A,B, --clean-runs N, --release-run DIR)")
    layers = _release_setup(session)
    started = time.monotonic()
    folder = session.run("python", "-m", "harness", "new-run", "detection", silent=True).strip().splitlines()[-1]
    listing = f"{folder}/tests.json"
    session.run("pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not static",
                "--list-requirements", listing, silent=True)
    session.run("python", "-m", "harness", "detection", "plan", listing, folder,
                *(("--faults", faults) if faults else ()))
    plan = json.loads(Path(folder, "detection-plan.json").read_text(encoding="utf-8"))
    # Each fault on a system of its own, in one pytest process (no xdist: its workers' start costs more than a
    # fault run's few tests), two runs at a time on the two cores. Load faults run alone: their SLOs are latencies,
    # and a neighbour's work would be measured with them.
    alone = [item for item in plan["faults"] if "load" in item["layers"]]
    paired = [item for item in plan["faults"] if "load" not in item["layers"]]
    _fault_runs(session, folder, paired, jobs=2)
    _fault_runs(session, folder, alone, jobs=1)
    cleans = list(counted)
    for number in range(len(counted) + 1, clean_runs + 1):
        session.log(f"clean release run {number} of {clean_runs}")
        run_started = time.monotonic()
        run_dir, _ = _run_once(session, "release", [f"suites/{name}" for name in layers], *RELEASE_ARGS,
                               html_report=True, scan=False)
        _compliance(session, run_dir, "--detection", f"../{Path(folder).name}/detection.html", fail=False)
        session.run("python", "-m", "harness", "detection", "clean", run_dir,
                    "--wall", f"{time.monotonic() - run_started:.1f}")
        cleans.append(run_dir)
    session.run("python", "-m", "harness", "scan", folder)  # the fault runs' evidence, masked like any run's
    try:
        session.run("python", "-m", "harness", "detection", "matrix", folder, "--clean", *cleans,
                    "--clean-runs", str(clean_runs), "--wall", f"{time.monotonic() - started:.1f}")
    except nox.command.CommandFailed:
        session.error(f"the detection matrix failed (missed faults or false alarms above); see {folder}/detection.html")


@nox.session(python=PYTHON, default=False)
def soak(session: nox.Session) -> None:
    """One layer run back to back (-- --runs 20 --layer api); a table of the runs; fails at the first failed run."""
    layers = _layers()
    try:
        plan = soak_runs.plan(session.posargs, list(layers))
    except soak_runs.SoakError as exc:
        session.error(str(exc))
    if plan.layer in BROWSER_LAYERS:
        _browser(session)
    if plan.layer == "mobile":
        _appium(session)
    _install(session, layers[plan.layer])
    runs: list[soak_runs.SoakRun] = []
    for number in range(1, plan.runs + 1):
        session.log(f"soak run {number} of {plan.runs}: layer {plan.layer}")
        started = time.monotonic()
        run_dir, passed = _run_once(session, f"soak-{plan.layer}", [f"suites/{plan.layer}"], *plan.pytest_args)
        runs.append(soak_runs.SoakRun(number, passed, time.monotonic() - started, run_dir))
        if not passed:
            break  # its evidence is kept: the failure is what a soak is for
    print(soak_runs.table(runs, plan.runs), flush=True)
    if not all(run.passed for run in runs):
        session.error(f"run {runs[-1].number} of {plan.runs} failed; its evidence is in {runs[-1].run_dir}")


@nox.session(python=PYTHON, default=False)
def a11y(session: nox.Session) -> None:
    """Accessibility layer: axe-core and browser checks on every page, state and profile; the draft statement."""
    _browser(session)
    _install(session, "web")
    _run_suites(session, "a11y", ["suites/a11y"])


@nox.session(python=PYTHON, default=False)
def security(session: nox.Session) -> None:
    """Security layer: bandit with triage, SBOM and dependency audit, and the HTTP checks an attacker would try."""
    _install(session, "security")
    _run_suites(session, "security", ["suites/security"])


@nox.session(python=PYTHON, default=False)
def compliance(session: nox.Session) -> None:
    """Compliance layer: the legal duties end to end (audit trail, access, export, erasure, consent, notification
    content, retention, privacy by default)."""
    _install(session, "compliance")
    _run_suites(session, "compliance", ["suites/compliance"])


@nox.session(python=PYTHON, default=False)
def act(session: nox.Session) -> None:
    """The accessibility layer on the W3C ACT rules' test cases (-- --rules FOLDER, or ACT_RULES); not in release."""
    _browser(session)
    _install(session, "web")
    run_dir = session.run("python", "-m", "harness", "new-run", "act", silent=True).strip().splitlines()[-1]
    session.run("python", "-m", "harness.act", "--out", run_dir, *session.posargs)


@nox.session(python=PYTHON, default=False)
def load(session: nox.Session) -> None:
    """Load layer: locust against staff sends, the push fan-out, the mobile API and a bulk broadcast, judged by
    load/slo.toml (-- --scale 10 for ten times the rates, --workers N for locust master and workers)."""
    _install(session, "load")
    args, extra = list(session.posargs), []
    for option, target in (("--scale", "--load-scale"), ("--workers", "--load-workers"),
                           ("--measure", "--load-measure")):
        while option in args:
            at = args.index(option)
            extra += [target, args[at + 1]]
            del args[at:at + 2]
    run_dir, passed = _run_once(session, "load", ["suites/load"], "-n", "0", "--timeout", "900", *extra, *args)
    if not passed:
        session.error(f"tests failed; the evidence is in {run_dir}")

