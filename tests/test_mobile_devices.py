"""The mobile device matrix (devices/mobile.yaml, harness/mobile.py): every profile's capabilities are built and
valid for its driver, credentials come only from the environment and never show, a farm chosen without them
stops the run naming the variable, and a broken file names its file and line."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from harness import mobile
from harness.appium_server import OWN_PORTS, with_own_ports
from harness.masking import mask

pytest_plugins = ["pytester"]

PROFILES = mobile.load_profiles()
# Made-up values for every variable any profile reads; the secrets are long enough for the mask's registry.
FAKE_ENV = {name: f"fake-{name.lower()}-0123456789abcdef" for p in PROFILES.values() for name in p.variables()}
FAKE_ENV.update({"ANDROID_APP": "/apps/1177.apk", "IOS_APP": "/apps/1177.app", "BROWSERSTACK_APP": "bs://abc123",
                 "SAUCE_APP": "1177.ipa", "APPIUM_GRID_URL": "http://grid.example:4444/wd/hub",
                 "DEVICEFARM_REMOTE_DRIVER_ENDPOINT": "https://devicefarm.example/appium/secret-signature-0123456789"})
SECRET_VARIABLES = {name for p in PROFILES.values() for name in p.credentials}
W3C = {"platformName", "browserName", "browserVersion", "acceptInsecureCerts", "pageLoadStrategy", "proxy",
       "timeouts", "unhandledPromptBehavior", "webSocketUrl", "strictFileInteractability", "setWindowRect"}
AUTOMATION = {"chromium": "Chromium", "uiautomator2": "UiAutomator2", "xcuitest": "XCUITest"}


def test_the_matrix_has_every_kind_of_profile() -> None:
    kinds = {(p.kind, p.provider or p.driver, p.platform, p.build) for p in PROFILES.values()}
    assert {("local", "chromium", "android", "web"), ("local", "chromium", "ios", "web")} <= kinds
    assert {("emulator", "uiautomator2", "android", "native"), ("emulator", "uiautomator2", "android", "web"),
            ("emulator", "xcuitest", "ios", "native"), ("emulator", "xcuitest", "ios", "web")} <= kinds
    providers = {p.provider for p in PROFILES.values() if p.kind == "farm"}
    assert providers == {"browserstack", "saucelabs", "aws-device-farm", "grid"}
    for provider in providers:
        platforms = {p.platform for p in PROFILES.values() if p.provider == provider}
        assert platforms == {"android", "ios"}, f"{provider}: a matrix over both platforms"
    assert {"browserstack-ios-17", "browserstack-android-14"} <= set(PROFILES)
    assert sorted(mobile.select(PROFILES, [])) == ["local-android", "local-iphone"], "local by default"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_capabilities_are_built_and_valid(name: str) -> None:
    profile = PROFILES[name]
    caps = profile.capabilities(FAKE_ENV, build="1177-appen run-42", session="suites/mobile/test_x.py::test_y")
    text = json.dumps(caps)
    assert "${" not in text and "{{" not in text, f"{name}: an unresolved reference in {text}"
    for key in caps:
        assert key in W3C or ":" in key, f"{name}: {key!r} needs a vendor prefix (Appium 3 refuses it)"
    if profile.driver in AUTOMATION:
        assert caps["appium:automationName"] == AUTOMATION[profile.driver]
    else:
        assert caps["appium:automationName"] in {"UiAutomator2", "XCUITest"}
    assert caps["platformName"].lower() == ("linux" if profile.is_local else profile.platform)
    if profile.build == "native" and profile.kind != "farm":
        assert caps["appium:app"] in (FAKE_ENV["ANDROID_APP"], FAKE_ENV["IOS_APP"]), "the app from the environment"
    if profile.is_local:
        options = caps["goog:chromeOptions"]
        assert caps["appium:autodownloadEnabled"] is False and caps["browserName"] == "chrome"
        assert options["mobileEmulation"]["deviceName"] in {"Pixel 7", "iPhone 12 Pro"}
        assert {"--headless=new", "--no-sandbox", "--disable-background-networking"} <= set(options["args"])
    if profile.provider == "browserstack":
        options = caps["bstack:options"]
        assert options["userName"] == FAKE_ENV["BROWSERSTACK_USERNAME"]
        assert options["accessKey"] == FAKE_ENV["BROWSERSTACK_ACCESS_KEY"]
        assert options["buildName"] == "1177-appen run-42" and options["sessionName"].endswith("test_y")
        assert options["deviceName"] and options["osVersion"] and options["local"] is False
        assert "localIdentifier" not in options, "an optional variable that is not set leaves its key out"
    if profile.provider == "saucelabs":
        options = caps["sauce:options"]
        assert options["username"] == FAKE_ENV["SAUCE_USERNAME"] and options["build"] == "1177-appen run-42"
        assert caps["appium:deviceName"] and caps["appium:platformVersion"]
    if profile.provider == "aws-device-farm":
        assert caps["appium:version"] == "3"
    if profile.kind == "farm":
        assert profile.url(FAKE_ENV).startswith(("https://", "http://"))
    with_ports = with_own_ports(caps, profile.driver)
    if profile.driver in OWN_PORTS:
        assert isinstance(with_ports[OWN_PORTS[profile.driver]], int), "a port of its own per session"


@pytest.mark.parametrize("name", sorted(n for n, p in PROFILES.items() if p.credentials))
def test_no_secret_in_any_output(name: str) -> None:
    """Redacted capabilities, the URL, the description and errors hide every credential; the mask hides them too
    once the capabilities were built (they register the secrets)."""
    profile = PROFILES[name]
    caps = profile.capabilities(FAKE_ENV, build="b", session="s")
    secrets = [FAKE_ENV[v] for v in profile.credentials]
    shown = json.dumps(profile.redacted(caps, FAKE_ENV)) + str(profile.redacted(profile.url(FAKE_ENV), FAKE_ENV))
    shown += repr(profile) + mask(json.dumps(caps))
    for secret in secrets:
        assert secret not in shown, f"{name}: a credential shows"
    with pytest.raises(mobile.MissingCredential) as missing:
        profile.check_credentials({})
    assert not any(s in str(missing.value) for s in secrets)


def test_a_farm_without_credentials_names_the_missing_variable() -> None:
    profile = PROFILES["browserstack-ios-17"]
    env = {k: v for k, v in FAKE_ENV.items() if k != "BROWSERSTACK_ACCESS_KEY"}
    with pytest.raises(mobile.MissingCredential, match=r"needs the environment variable BROWSERSTACK_ACCESS_KEY"):
        profile.check_credentials(env)
    with pytest.raises(mobile.MissingCredential, match="BROWSERSTACK_ACCESS_KEY"):
        profile.capabilities(env)


def test_an_emulator_that_is_not_there_says_what_is_missing() -> None:
    lacks = PROFILES["android-emulator-app"].missing({}, appium_drivers={"chromium"})
    text = "; ".join(lacks)
    assert "ANDROID_AVD" in text and "ANDROID_APP" in text and "uiautomator2" in text
    assert PROFILES["local-android"].missing({}, appium_drivers={"chromium"}) in ([], ["the program "
                                                                                       "'chromedriver' is not on PATH"])


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str,
         env: dict[str, str] | None = None, body: str = "def test_device(device_name):\n    assert device_name\n",
         ) -> pytest.RunResult:
    pytester.makeconftest('pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", '
                          '"fixtures.api", "fixtures.browser", "fixtures.appium", "fixtures.evidence", '
                          '"fixtures.report"]\n')
    pytester.makepyfile(test_devices=body)
    for name in ("BROWSERSTACK_USERNAME", "BROWSERSTACK_ACCESS_KEY", "BROWSERSTACK_APP", "HARNESS_TARGET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", *args, timeout=120)


def test_choosing_a_farm_without_credentials_stops_the_run(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-user-0123456789abcdef"
    result = _run(pytester, monkeypatch, "--devices", "browserstack-ios-17", env={"BROWSERSTACK_USERNAME": secret})
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    assert "BROWSERSTACK_ACCESS_KEY" in output and "which is not set" in output, output[-2000:]
    assert secret not in output


def test_device_selection(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # "android" is a web profile: the mobile layer leaves it to the web layer.
    result = _run(pytester, monkeypatch, "--device", "local-iphone", "--devices", "android", "-v")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert re.findall(r"test_device\[(\S+)\] PASSED", result.stdout.str()) == ["local-iphone"]
    result = _run(pytester, monkeypatch, "--devices", "no-such-phone")
    assert result.ret != 0 and "unknown device profile 'no-such-phone'" in result.stderr.str()


BROKEN = {
    "bad-kind": ("profiles:\n  p:\n    kind: phone\n    platform: ios\n    driver: xcuitest\n"
                 "    capabilities: {platformName: iOS}\n", 3, "profiles.p.kind"),
    "unknown-key": ("profiles:\n  p:\n    kind: local\n    platform: ios\n    driver: chromium\n    colour: red\n"
                    "    capabilities: {platformName: linux}\n", 6, "profiles.p.colour"),
    "no-prefix": ("profiles:\n  p:\n    kind: local\n    platform: ios\n    driver: chromium\n"
                  "    capabilities:\n      platformName: linux\n      automationName: Chromium\n", 8,
                  "profiles.p.capabilities.automationName"),
    "farm-without-url": ("profiles:\n  f:\n    kind: farm\n    platform: ios\n    driver: remote\n"
                         "    capabilities: {platformName: iOS}\n", 2, "profiles.f"),
    "matrix-entry": ("profiles:\n  f:\n    kind: farm\n    platform: ios\n    driver: remote\n"
                     "    server_url: https://hub.example\n    capabilities: {platformName: iOS}\n    matrix:\n"
                     "      ios-17:\n        platform: windows\n", 10, "profiles.f.matrix.ios-17.platform"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_device_file_names_file_line_and_key(tmp_path: Path, case: str) -> None:
    text, line, key = BROKEN[case]
    path = tmp_path / "mobile.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(mobile.DeviceFileError) as error:
        mobile.load_profiles(path)
    assert f"mobile.yaml, line {line}: key {key!r}" in str(error.value), str(error.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mobile.yaml"
    path.write_text(textwrap.dedent("""\
        profiles:
          p:
            kind: [local
        """), encoding="utf-8")
    with pytest.raises(mobile.DeviceFileError, match=r"mobile\.yaml, line \d+: not valid YAML"):
        mobile.load_profiles(path)


class _FakeHub:
    """A stand-in for a farm's hub on 127.0.0.1: it keeps the session request and refuses it, echoing what it
    was sent in its error, as a careless hub might."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[dict] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                hub.requests.append(body)
                answer = json.dumps({"value": {"error": "session not created",
                                               "message": f"no device for {json.dumps(body)}"}}).encode()
                self.send_response(500)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wd/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_a_farm_session_gets_its_capabilities_and_no_output_shows_the_key(pytester: pytest.Pytester,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _FakeHub()
    key = "bs-access-key-0123456789abcdefXYZ"
    try:
        result = _run(pytester, monkeypatch, "--devices", "browserstack-android-14", "--run-dir",
                      str(pytester.path / "run"), "--alluredir", str(pytester.path / "run" / "allure-results"),
                      env={"BROWSERSTACK_USERNAME": "qa-user-1177", "BROWSERSTACK_ACCESS_KEY": key,
                           "BROWSERSTACK_APP": "bs://0123abcd", "BROWSERSTACK_HUB": hub.url},
                      body="def test_device(device):\n    assert device\n")
    finally:
        hub.close()
    assert len(hub.requests) == 1, result.stdout.str()[-3000:]
    sent = hub.requests[0]["capabilities"]["alwaysMatch"]
    options = sent["bstack:options"]
    assert options["accessKey"] == key and options["deviceName"] == "Samsung Galaxy S24"
    assert options["sessionName"] == "test_devices.py::test_device[browserstack-android-14]"
    assert options["buildName"] == "1177-appen run" and sent["appium:app"] == "bs://0123abcd"
    output = result.stdout.str() + result.stderr.str()
    assert "the Appium session did not start" in output and result.ret != 0, output[-3000:]
    leaks = [p for p in (pytester.path / "run").rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert key not in output and not leaks, f"the access key shows: {leaks}"


def test_an_absent_emulator_is_skipped_saying_what_is_missing(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANDROID_AVD", "ANDROID_APP"):
        monkeypatch.delenv(name, raising=False)
    result = _run(pytester, monkeypatch, "--device", "android-emulator-app", "-rs",
                  body="def test_device(device):\n    assert device\n")
    output = result.stdout.str()
    assert result.ret == 0 and result.parseoutcomes().get("skipped") == 1, output[-2000:]
    assert "cannot run here" in output and "ANDROID_AVD" in output and "uiautomator2" in output, output[-2000:]
