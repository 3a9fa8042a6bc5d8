"""The mobile layer's device matrix (devices/mobile.yaml) and the device a flow drives.

The contract suites/mobile builds on (the pytest glue is fixtures/appium.py):

- ``load_profiles(path)``: the file as ``{name: DeviceProfile}``. A profile is local (Appium's Chromium driver on
  mobile-emulated Chromium against the web build), emulator (UiAutomator2 or XCUITest on a QA engineer's
  machine, the native build or the device's own browser) or farm (BrowserStack, Sauce Labs, AWS Device Farm, an
  own Appium server or Selenium Grid). A farm's ``matrix`` expands into one profile per entry
  (``browserstack`` + ``ios-17`` -> ``browserstack-ios-17``). A broken file is a ``DeviceFileError`` naming the
  file, the line and the key.
- Values are data with references: ``${NAME}`` is read from the environment (``${NAME:-default}`` with a
  default), ``{{build}}`` and ``{{session}}`` are the run's build name and the test's session name. A variable a
  profile lists under ``credentials`` is a secret: registered with the mask, and ``redacted()`` never shows it.
- ``DeviceProfile.capabilities(env, build=..., session=...)``: the W3C capabilities for one session;
  ``missing(env)`` what the machine lacks (variables, programs, the Appium driver), ``check_credentials(env)``
  fails fast with ``MissingCredential`` naming the variable.
- ``Device``: one Appium session with what a flow needs beyond WebDriver, per platform and build: open a link,
  network off and on, the notification permission, the app's declared version, the WebView context.

Free of pytest, so plain unit tests reach it (tests/test_mobile_devices.py).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .masking import SECRET_MASK, register_secret
from .yamlcheck import YamlChecker

ROOT = Path(__file__).resolve().parent.parent
DEVICES_FILE = ROOT / "devices" / "mobile.yaml"

KINDS = ("local", "emulator", "farm")
PLATFORMS = ("android", "ios")
BUILDS = ("web", "native")
DRIVERS = ("chromium", "uiautomator2", "xcuitest", "remote")  # remote: the farm's Appium, not ours
# How a profile takes the network away and gives it back (flow "network loss and recovery").
NETWORK = ("cdp", "android-connectivity", "browserstack", "saucelabs", "none")
PROFILE_KEYS: dict[str, Any] = {
    "kind": str, "platform": str, "build": str, "driver": str, "description": str, "default": bool,
    "server_url": str, "app_version": str, "network": str, "needs": list, "tools": list, "credentials": list,
    "provider": str, "capabilities": dict, "matrix": dict,
}
MATRIX_KEYS: dict[str, Any] = {"platform": str, "build": str, "description": str, "capabilities": dict,
                               "network": str, "app_version": str}
APP_USER_AGENT = "1177-appen/{version} ({platform})"  # BR-REG-3, read by sut/auth.py APP_UA
_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_RUN = re.compile(r"\{\{(?P<name>build|session)\}\}")


class DeviceFileError(ValueError):
    """A device file that cannot be used; the message names the file, the line and the key."""


class MissingCredential(ValueError):
    """A farm profile was chosen but a variable it needs is not set; the message names the variable."""


# --- reading the file ------------------------------------------------------------------------------------------

def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, mappings merged key by key (a matrix entry refines the farm's capabilities)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _references(value: Any) -> list[tuple[str, bool]]:
    """Every ``${NAME}`` in a structure, with whether it has a default."""
    if isinstance(value, Mapping):
        return [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    if isinstance(value, str):
        return [(m["name"], m["default"] is not None) for m in _ENV.finditer(value)]
    return []


@dataclass(frozen=True)
class DeviceProfile:
    """One entry of the device matrix: where the session runs and the capabilities it asks for."""

    name: str
    kind: str
    platform: str
    build: str
    driver: str
    raw_capabilities: dict[str, Any]
    server_url: str | None = None  # None: the harness's own Appium server
    description: str = ""
    default: bool = False
    app_version: str | None = None
    network: str = "none"
    needs: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    provider: str = ""
    source: str = field(default="", compare=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def uses_own_server(self) -> bool:
        return self.server_url is None

    @property
    def locator_platform(self) -> str:
        """Which locators of a screen apply: the web build's CSS, or the native app's per platform."""
        return "web" if self.build == "web" else self.platform

    def variables(self) -> list[str]:
        """The environment variables the profile reads without a default: its credentials and ``needs`` too."""
        refs = [name for name, has_default in _references([self.raw_capabilities, self.server_url or ""])
                if not has_default]
        return list(dict.fromkeys([*self.credentials, *self.needs, *refs]))

    def missing(self, environ: Mapping[str, str] | None = None, appium_drivers: set[str] | None = None) -> list[str]:
        """What this machine lacks to run the profile, each as a sentence naming it (empty: it can run)."""
        env = os.environ if environ is None else environ
        lacks = [f"the environment variable {name} is not set" for name in self.variables() if not env.get(name)]
        lacks += [f"the program {tool!r} is not on PATH" for tool in self.tools if shutil.which(tool) is None]
        if appium_drivers is not None and self.uses_own_server and self.driver not in appium_drivers:
            lacks.append(f"the Appium driver {self.driver!r} is not installed in the project's APPIUM_HOME "
                         f"(APPIUM_HOME=. node_modules/.bin/appium driver install {self.driver})")
        return lacks

    def check_credentials(self, environ: Mapping[str, str] | None = None) -> None:
        """A chosen farm profile without its credentials stops the run at once, naming the variable."""
        env = os.environ if environ is None else environ
        for name in self.variables():
            if not env.get(name):
                raise MissingCredential(f"device profile {self.name!r} ({self.source}) needs the environment "
                                        f"variable {name}, which is not set")

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        env = os.environ if environ is None else environ
        return [env[name] for name in self.credentials if env.get(name)]

    def _resolve(self, value: Any, env: Mapping[str, str], run: Mapping[str, str]) -> Any:
        if isinstance(value, Mapping):
            resolved = {k: self._resolve(v, env, run) for k, v in value.items()}
            # An optional variable that is not set leaves its capability out rather than sending an empty value.
            return {k: v for k, v in resolved.items() if not (v == "" and _references(value[k]))}
        if isinstance(value, list):
            return [self._resolve(v, env, run) for v in value]
        if not isinstance(value, str):
            return value

        def env_value(match: re.Match[str]) -> str:
            found = env.get(match["name"])
            if found:
                return found
            if match["default"] is not None:
                return match["default"]
            raise MissingCredential(f"device profile {self.name!r} ({self.source}) needs the environment variable "
                                    f"{match['name']}, which is not set")

        resolved = _RUN.sub(lambda m: run.get(m["name"], ""), _ENV.sub(env_value, value))
        if _ENV.fullmatch(value) and resolved in ("true", "false"):
            return resolved == "true"  # a switch given by a variable (BROWSERSTACK_LOCAL=true)
        return resolved

    def capabilities(self, environ: Mapping[str, str] | None = None, *, build: str = "",
                     session: str = "") -> dict[str, Any]:
        """The capabilities of one session; every credential is registered with the mask first."""
        env = os.environ if environ is None else environ
        for secret in self.secrets(env):
            register_secret(secret)
        return self._resolve(self.raw_capabilities, env, {"build": build, "session": session})

    def url(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return self._resolve(self.server_url, env, {}) if self.server_url else None

    def redacted(self, value: Any, environ: Mapping[str, str] | None = None) -> Any:
        """``value`` (capabilities, a URL, a message) with every credential of the profile replaced."""
        secrets = sorted(self.secrets(environ), key=len, reverse=True)
        if isinstance(value, Mapping):
            return {k: self.redacted(v, environ) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redacted(v, environ) for v in value]
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, SECRET_MASK)
        return value


def _profile(ld: YamlChecker, key: tuple[str, ...], name: str, spec: dict[str, Any], source: str) -> DeviceProfile:
    kind = ld.choice((*key, "kind"), spec.get("kind"), KINDS)
    platform = ld.choice((*key, "platform"), spec.get("platform"), PLATFORMS)
    build = ld.choice((*key, "build"), spec.get("build", "web"), BUILDS)
    driver = ld.choice((*key, "driver"), spec.get("driver"), DRIVERS)
    network = ld.choice((*key, "network"), spec.get("network", "none"), NETWORK)
    caps = spec.get("capabilities")
    if not caps:
        raise ld.error(key, "missing 'capabilities' (a mapping of W3C and vendor capabilities)")
    for cap in caps:
        # Appium 3 refuses a non-W3C capability without a vendor prefix (DEVICES: InvalidArgumentError).
        if ":" not in cap and cap not in {"platformName", "browserName", "browserVersion", "acceptInsecureCerts",
                                          "pageLoadStrategy", "proxy", "timeouts", "unhandledPromptBehavior",
                                          "webSocketUrl", "strictFileInteractability", "setWindowRect"}:
            raise ld.error((*key, "capabilities", str(cap)), "not a W3C capability: give it a vendor prefix "
                                                             "such as 'appium:'")
    if kind == "farm" and "server_url" not in spec:
        raise ld.error(key, "a farm profile needs 'server_url' (its Appium or Grid hub)")
    if kind == "local" and (driver != "chromium" or build != "web"):
        raise ld.error(key, "a local profile runs the web build on the chromium driver")
    if build == "native" and kind != "farm" and "appium:app" not in caps:
        raise ld.error((*key, "capabilities"), "the native build needs 'appium:app' (e.g. '${ANDROID_APP}')")
    version = spec.get("app_version")
    if version is not None and not re.fullmatch(r"\d+(\.\d+){0,2}", version):
        raise ld.error((*key, "app_version"), "expected a version such as '3.4.0'")
    return DeviceProfile(
        name=name, kind=kind, platform=platform, build=build, driver=driver, raw_capabilities=dict(caps),
        server_url=spec.get("server_url"), description=spec.get("description", ""),
        default=bool(spec.get("default", False)), app_version=version, network=network,
        needs=ld.names((*key, "needs"), spec.get("needs", [])), tools=ld.names((*key, "tools"), spec.get("tools", [])),
        credentials=ld.names((*key, "credentials"), spec.get("credentials", [])),
        provider=spec.get("provider", ""), source=source)


def load_profiles(path: Path = DEVICES_FILE) -> dict[str, DeviceProfile]:
    """Read and check a device file; a farm's matrix becomes one profile per entry."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise DeviceFileError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    ld = YamlChecker(path, text, DeviceFileError)
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict) or not data["profiles"]:
        raise DeviceFileError(f"{ld.display}: key 'profiles': missing; expected a mapping of profile names")
    ld.check((), data, {"profiles": dict})
    profiles: dict[str, DeviceProfile] = {}
    for name, spec in data["profiles"].items():
        key = ("profiles", str(name))
        ld.check(key, spec, PROFILE_KEYS)
        source = f"{ld.display}, line {ld.lines.of(key)}"
        matrix = spec.get("matrix")
        if matrix is None:
            profiles[str(name)] = _profile(ld, key, str(name), spec, source)
            continue
        base = {k: v for k, v in spec.items() if k != "matrix"}
        for entry, extra in matrix.items():
            entry_key = (*key, "matrix", str(entry))
            ld.check(entry_key, extra, MATRIX_KEYS)
            merged = {**base, **{k: v for k, v in extra.items() if k != "capabilities"},
                      "capabilities": _merge(base.get("capabilities", {}), extra.get("capabilities", {}))}
            full = f"{name}-{entry}"
            profiles[full] = _profile(ld, entry_key, full, merged, f"{ld.display}, line {ld.lines.of(entry_key)}")
    return profiles


def select(profiles: dict[str, DeviceProfile], wanted: list[str]) -> dict[str, DeviceProfile]:
    """The named profiles (all ``default`` ones when none are named); an unknown name is a ValueError."""
    if not wanted:
        return {n: p for n, p in profiles.items() if p.default}
    unknown = [n for n in wanted if n not in profiles]
    if unknown:
        raise ValueError(f"unknown device profile {', '.join(map(repr, unknown))}; profiles: {', '.join(profiles)}")
    return {n: profiles[n] for n in dict.fromkeys(wanted)}


# --- the device a flow drives -----------------------------------------------------------------------------------

# Screenshots are images the text mask cannot reach: on a web page, anything that reads as a personnummer is
# blacked out for the shot (typed into a field or shown as text), and put back afterwards.
_MASK_SCRIPT = r"""
const pnr = /\b(?:19|20)?\d{6}[-+]?\d{4}\b/;
const hidden = [];
for (const el of document.querySelectorAll('input, textarea')) {
  if (pnr.test(el.value)) { hidden.push([el, el.style.cssText]); el.style.color = 'transparent';
    el.style.background = '#000'; }
}
const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const el = walker.currentNode.parentElement;
  if (el && pnr.test(walker.currentNode.nodeValue)) { hidden.push([el, el.style.cssText]);
    el.style.color = 'transparent'; el.style.background = '#000'; }
}
window.__harnessHidden = hidden;
return hidden.length;
"""
_UNMASK_SCRIPT = """
for (const [el, css] of (window.__harnessHidden || [])) { el.style.cssText = css; }
window.__harnessHidden = [];
"""


class NotOnThisDevice(RuntimeError):
    """A step the profile cannot take (e.g. network loss on an iOS simulator); the flow is skipped with it."""


class Device:
    """One Appium session on one profile, with the steps a flow takes that differ by platform and build."""

    def __init__(self, driver: Any, profile: DeviceProfile, web_url: str,
                 on_step: Callable[[str, bytes], None] | None = None) -> None:
        self.driver = driver
        self.profile = profile
        self.web_url = web_url.rstrip("/")
        self.on_step = on_step

    def step(self, name: str) -> None:
        """A named screenshot of the flow's step, for its flipbook."""
        if self.on_step is not None:
            self.on_step(name, self.screenshot())

    # --- where the device is ------------------------------------------------------------------------------------
    @property
    def is_web(self) -> bool:
        return self.profile.build == "web"

    def current_path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.driver.current_url)

    def open_link(self, url: str) -> None:
        """A link the app opens: a web path on the web build, a deep link on the native app (BR-INBOX-2)."""
        if self.is_web:
            self.driver.get(url if url.startswith("http") else f"{self.web_url}{url}")
        elif self.profile.platform == "android":
            self.driver.execute_script("mobile: deepLink", {"url": url})
        else:
            self.driver.get(url)  # XCUITest: simctl openurl on a simulator, WDA /url on a device

    def wait_until(self, condition: Any, timeout: float = 15.0, what: str = "the condition") -> Any:
        """Poll ``condition()`` until it is truthy; a timeout is an AssertionError saying what was awaited."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:.0f} s for {what}; the device shows {self.current_path()!r}")
            time.sleep(0.1)

    # --- the web build's own tools (Chrome DevTools through Appium's proxy to chromedriver) ---------------------
    def cdp(self, command: str, params: dict[str, Any] | None = None) -> Any:
        if self.profile.driver != "chromium":
            raise NotOnThisDevice(f"{self.profile.name}: DevTools commands only on the Chromium driver")
        return self.driver.execute_cdp(command, params or {})

    def on_target(self, web_url: str) -> Device:
        """The same session against another system (a private one whose clock moves)."""
        return Device(self.driver, self.profile, web_url, self.on_step)

    def open_as_app(self, path: str, version: str | None = None) -> None:
        """Open a page of the web build as the app's WebView does: declaring the app and its version in the user
        agent (BR-REG-3; default: the profile's ``app_version``). Chromium's mobile emulation puts the device's
        own user agent back at the next navigation, so the declaration holds for this page load only."""
        wanted = version or self.profile.app_version
        if not self.is_web or not wanted:
            raise NotOnThisDevice(f"{self.profile.name}: the native build declares its own version; a version below "
                                  "the minimum needs an older build")
        base = re.sub(r" 1177-appen/\S+ \(\w+\)$", "", self.driver.execute_script("return navigator.userAgent"))
        agent = f"{base} {APP_USER_AGENT.format(version=wanted, platform=self.profile.platform)}"
        self.cdp("Emulation.setUserAgentOverride", {"userAgent": agent})
        self.open_link(path)

    # --- network ------------------------------------------------------------------------------------------------
    def set_online(self, online: bool) -> None:
        """Take the network away or give it back, the way the profile can."""
        how = self.profile.network
        if how == "cdp":
            self.cdp("Network.enable")
            self.cdp("Network.emulateNetworkConditions", {"offline": not online, "latency": 0,
                                                          "downloadThroughput": -1, "uploadThroughput": -1})
        elif how == "android-connectivity":
            self.driver.execute_script("mobile: setConnectivity", {"wifi": online, "data": online})
        elif how == "saucelabs":
            self.driver.execute_script("sauce: network-profile", "no-throttling" if online else "no-network")
        else:
            raise NotOnThisDevice(f"{self.profile.name}: no way to take the network away here ({how}); "
                                  "use a proxy or the farm's network profile")

    # --- notification permission --------------------------------------------------------------------------------
    def set_notification_permission(self, granted: bool, answer: Any = None) -> None:
        """The operating system's question whether the app may notify: on the web build the browser's
        permission; on the native app ``answer(granted)`` taps the system dialog's button."""
        if self.is_web:
            self.cdp("Browser.setPermission", {"permission": {"name": "notifications"},
                                               "setting": "granted" if granted else "denied",
                                               "origin": self.web_url})
        elif answer is not None:
            answer(granted)
        else:
            raise NotOnThisDevice(f"{self.profile.name}: the system's permission dialog needs a screen to tap")

    def notification_permission(self) -> str:
        if not self.is_web:
            raise NotOnThisDevice("read on the web build only")
        return str(self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.permissions.query({name: 'notifications'}).then(s => done(s.state), e => done(String(e)));"))

    # --- the WebView ----------------------------------------------------------------------------------------------
    def enter_webview(self, timeout: float = 15.0) -> None:
        """Native: switch to the e-service's WebView context. The web build already is that WebView's page."""
        if self.is_web:
            return
        found = self.wait_until(lambda: [c for c in self.driver.contexts if c.startswith("WEBVIEW")], timeout,
                                "a WebView context")
        self.driver.switch_to.context(found[-1])

    def leave_webview(self) -> None:
        if not self.is_web:
            self.driver.switch_to.context("NATIVE_APP")

    # --- evidence -------------------------------------------------------------------------------------------------
    def screenshot(self) -> bytes:
        """A PNG of the screen; on a web page any personnummer is blacked out for the shot."""
        masked = False
        if self.is_web:
            try:
                masked = bool(self.driver.execute_script(_MASK_SCRIPT))
            except Exception:  # noqa: BLE001 - a page that will not run the script still gets its shot
                masked = False
        try:
            return bytes(self.driver.get_screenshot_as_png())
        finally:
            if masked:
                self.driver.execute_script(_UNMASK_SCRIPT)

    def page_source(self) -> str:
        return str(self.driver.page_source)


def new_driver(server_url: str, capabilities: dict[str, Any], *, timeout: float = 90.0) -> Any:
    """An Appium session (appium-python-client 6, the ``mobile`` dependency group) with one extra command: Chrome
    DevTools through Appium's proxy to chromedriver, which the Chromium driver passes on (``execute_cdp``)."""
    from appium import webdriver
    from appium.options.common import AppiumOptions
    from appium.webdriver.client_config import AppiumClientConfig
    from appium.webdriver.webdriver import ExtensionBase

    class DevTools(ExtensionBase):
        def method_name(self) -> str:
            return "execute_cdp"

        def execute_cdp(self, cmd: str, params: dict[str, Any]) -> Any:
            return self.execute({"cmd": cmd, "params": params})["value"]

        def add_command(self) -> tuple[str, str]:
            return ("post", "/session/$sessionId/goog/cdp/execute")

    options = AppiumOptions().load_capabilities(capabilities)
    # Every command ends: a server or device that stops answering fails the test instead of hanging the run.
    config = AppiumClientConfig(server_url, timeout=timeout)
    return webdriver.Remote(server_url, options=options, client_config=config, extensions=[DevTools])
