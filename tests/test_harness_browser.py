"""The browser behind the web layers: which Chromium, device profiles as data, and the fixture's evidence."""

from __future__ import annotations

import json
import re
import stat
import uuid
import zipfile
from pathlib import Path

import psutil
import pytest

from harness import browser as chromium
from sut.auth import APP_UA

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.browser", "fixtures.evidence", "fixtures.report"]\n'
DEVICES = {
    "Pixel 7": {"user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7)", "viewport": {"width": 412, "height": 839},
                "device_scale_factor": 2.625, "is_mobile": True, "has_touch": True, "default_browser_type": "chromium"},
}


def _program(folder: Path, name: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_chromium_is_found_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, env, own, system = (_program(tmp_path, n) for n in ("explicit", "env", "own", "system"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "none"))
    find = chromium.find_chromium
    assert find(explicit, environ={"HARNESS_CHROMIUM": env}, bundled=own, system=(system,)) == explicit
    assert find(None, environ={"HARNESS_CHROMIUM": env}, bundled=own, system=(system,)) == env
    assert find(None, environ={}, bundled=own, system=(system,)) == own
    assert find(None, environ={}, bundled=str(tmp_path / "gone"), system=(system,)) == system
    assert find(None, environ={}, bundled=None, system=(str(tmp_path / "gone"),)) is None


def test_playwrights_own_download_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for revision in ("1140", "1187"):
        folder = tmp_path / f"chromium-{revision}" / "chrome-linux"
        folder.mkdir(parents=True)
        _program(folder, "chrome")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert chromium.find_chromium(None, environ={}, system=()) == str(tmp_path / "chromium-1187/chrome-linux/chrome")


def test_no_browser_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    with pytest.raises(chromium.BrowserMissing) as missing:
        chromium.require_chromium(None, environ={}, system=())
    assert "apt-get install chromium fonts-liberation" in str(missing.value)
    assert "playwright install chromium" in str(missing.value)
    with pytest.raises(chromium.BrowserMissing, match="HARNESS_CHROMIUM names '/nowhere/chrome'"):
        chromium.find_chromium(None, environ={"HARNESS_CHROMIUM": "/nowhere/chrome"})


def test_launch_flags_keep_chromium_off_the_network() -> None:
    for flag in ("--headless=new", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--disable-gpu"):
        assert flag in chromium.LAUNCH_ARGS


def test_profiles_are_playwright_devices_with_the_apps_user_agent() -> None:
    profiles = chromium.load_profiles()
    assert set(profiles) == {"iphone", "android", "app-webview", "desktop"}
    devices = chromium.playwright_devices()
    for profile in profiles.values():
        descriptor = devices[profile.device]
        assert profile.options["viewport"] == descriptor["viewport"]  # Playwright's numbers, not hand-copied
        assert profile.options["locale"] == "sv-SE"
        assert "default_browser_type" not in profile.context_args()
    webview = profiles["app-webview"]
    assert webview.in_app and webview.user_agent.startswith(devices["Pixel 7"]["user_agent"])
    match = APP_UA.search(webview.user_agent)
    assert match and match["platform"] == "android"
    assert [name for name, p in profiles.items() if APP_UA.search(p.user_agent)] == ["app-webview"]
    assert profiles["iphone"].is_mobile and not profiles["desktop"].is_mobile
    assert profiles["android"].context_args(color_scheme="dark")["color_scheme"] == "dark"


@pytest.mark.parametrize(("text", "expected"), [
    ("profiles:\n  phone:\n    device: Pixel 99\n", r"x\.yaml, line 3: key 'profiles\.phone\.device': unknown "
                                                      r"Playwright device 'Pixel 99'"),
    ("profiles:\n  phone:\n    device: Pixel 7\n    colour: red\n",
     r"line 4: key 'profiles\.phone\.colour': unknown key; known keys: app, "),
    ("profiles:\n  phone:\n    device: Pixel 7\n    app:\n      version: '3.1'\n      platform: symbian\n",
     r"line 6: key 'profiles\.phone\.app\.platform': expected one of ios, android"),
    ("profiles:\n  phone:\n    device: Pixel 7\n    viewport: {width: 320}\n",
     r"line 4: key 'profiles\.phone\.viewport': needs both width and height"),
    ("profiles:\n  phone:\n    device: Pixel 7\n    is_mobile: 'yes'\n",
     r"line 4: key 'profiles\.phone\.is_mobile': expected true or false, got a string"),
    ("profiles:\n  phone:\n    description: utan enhet\n", r"line 2: key 'profiles\.phone': missing 'device'"),
    ("profiles: [\n", r"x\.yaml, line 2: not valid YAML"),
    ("other: 1\n", r"key 'profiles': missing"),
])
def test_a_broken_profile_file_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(chromium.ProfileError, match=expected):
        chromium.load_profiles(path, devices=DEVICES)


def test_device_selection() -> None:
    profiles = chromium.load_profiles(devices={**DEVICES, **chromium.playwright_devices()})
    assert list(chromium.select(profiles, "desktop, app-webview")) == ["desktop", "app-webview"]
    assert list(chromium.select(profiles, None)) == list(profiles)
    with pytest.raises(ValueError, match="unknown device profile 'nokia'; profiles: iphone, android"):
        chromium.select(profiles, "nokia,desktop")


def test_a_trace_is_masked_member_by_member(tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    png = b"\x89PNG\r\n\x1a\n\xff\xfe" + b"19121212-1212"
    with zipfile.ZipFile(trace, "w") as archive:
        archive.writestr("trace.trace", json.dumps({"snapshot": "<p>19121212-1212</p>"}))
        archive.writestr("resources/page.png", png)
    assert chromium.mask_zip(trace) == 1
    with zipfile.ZipFile(trace) as archive:
        assert "19121212-1212" not in archive.read("trace.trace").decode()
        assert archive.read("resources/page.png") == png


BROWSER_TESTS = """
import pytest


@pytest.mark.profiles("app-webview", "desktop")
def test_pass(new_context, profile_name, new_person, web_login, web_url, flipbook):
    page = new_context(profile_name).new_page()
    person = new_person("adult")
    landed = web_login(page, person)
    assert landed.startswith(web_url)
    flipbook(page, "Startsidan")
    page.goto(web_url + "/inbox")
    flipbook(page, "Inkorgen")
    in_app = page.evaluate("navigator.userAgent").endswith("1177-appen/3.4.0 (android)")
    assert in_app == (profile_name == "app-webview")


def test_fail(new_context, new_person, web_url):
    page = new_context("android", color_scheme="dark").new_page()
    person = new_person("adult")
    page.goto(web_url + "/login")
    page.get_by_label("Personnummer").fill(person.personnummer)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert False, "avsiktligt fel"


def test_crash(browser):
    browser.close()


def test_after_crash(new_context):
    new_context("desktop")
"""


@pytest.mark.slow
def test_fixture_launches_logs_in_keeps_flipbooks_and_evidence(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A real Chromium: login through the real page in two profiles, a flipbook on a pass, trace + screenshot +
    DOM (masked) on a failure, and a browser that dies fails the next test with a message instead of hanging."""
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    mark = f"run-{uuid.uuid4().hex}"  # inherited by every process of the inner run, Chromium included
    monkeypatch.setenv("HARNESS_TEST_RUN_MARK", mark)
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_browser=BROWSER_TESTS)
    run_dir = pytester.path / "run"
    run_dir.mkdir()
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", "--run-dir", str(run_dir),
                                           "--alluredir", str(run_dir / "allure"), "--timeout", "120")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 3 and outcomes.get("failed") == 2, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*_ test_after_crash _*", "Chromium (*) stopped during the run*"])
    books = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "flipbooks").rglob("*.png"))
    assert len(books) == 4 and all(re.search(r"test_pass-(app-webview|desktop)-?/0[12]-", b) for b in books), books
    attachments = {}
    for result_file in (run_dir / "allure").glob("*-result.json"):
        data = json.loads(result_file.read_text(encoding="utf-8"))
        attachments[data["name"]] = {a["name"]: a["source"] for a in data.get("attachments", [])}
    assert {"01 Startsidan.png", "02 Inkorgen.png"} <= set(attachments["test_pass[desktop]"])
    failed = attachments["test_fail"]
    assert {"sidan.png", "sidan DOM.html", "playwright-trace.zip"} <= set(failed), failed
    dom = (run_dir / "allure" / failed["sidan DOM.html"]).read_text(encoding="utf-8")
    assert "[personnummer]" in dom and 'data-testid="personnummer"' in dom
    with zipfile.ZipFile(run_dir / "allure" / failed["playwright-trace.zip"]) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
    assert _left_running(mark) == [], "the inner run's Chromium is closed at its end"


def _left_running(mark: str) -> list[str]:
    """Processes the inner run started (they carry its mark in their environment) that have not ended within a
    few seconds of it: Chromium's helpers may take a moment to follow the browser out."""
    found = []
    for process in psutil.process_iter(["pid", "name"]):
        try:
            if process.environ().get("HARNESS_TEST_RUN_MARK") == mark:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    _, alive = psutil.wait_procs(found, timeout=10)
    return [f"{p.info['name']} ({p.pid})" for p in alive]
