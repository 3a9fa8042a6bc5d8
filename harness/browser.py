"""The browser behind the web and accessibility layers: which Chromium, launched how, in which device profiles.

The contract the layers build on (suites/web, suites/a11y; the pytest glue is fixtures/browser.py):

- ``find_chromium(explicit)``: the Chromium to launch, or None. In order: ``explicit`` (``--browser-path``), the
  environment variable ``HARNESS_CHROMIUM``, Playwright's own download (``playwright install chromium``), then the
  system's (``/usr/bin/chromium`` or ``chromium`` on PATH). An explicit path that is not a program is an error.
- ``require_chromium(explicit)``: the same, but no browser at all is ``BrowserMissing``, whose message names what
  to install.
- ``LAUNCH_ARGS``: the flags Chromium needs on a closed build machine, as root (headless, no sandbox, no
  background networking that floods the network with refused connections). Playwright adds a fresh user-data-dir
  per launch itself.
- ``load_profiles(path)``: ``devices/web.yaml`` as ``{name: Profile}``. Each profile is one of Playwright's device
  descriptors (``"iPhone 13"``, ``"Pixel 7"``, ``"Desktop Chrome"``) plus overrides; ``Profile.context_args()``
  is what ``browser.new_context`` takes. The in-app WebView profile adds the app's user agent of BR-REG-3,
  ``1177-appen/<version> (<ios|android>)``, after the device's own. A broken file is a ``ProfileError`` that
  names the file, the line and the key.

Free of pytest, so plain unit tests reach it (tests/test_harness_browser.py).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .yamlcheck import YamlChecker

ROOT = Path(__file__).resolve().parent.parent
PROFILES_FILE = ROOT / "devices" / "web.yaml"
ENV_VAR = "HARNESS_CHROMIUM"
SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "chromium", "chromium-browser")
INSTALL_HINT = ("install Debian's packages 'chromium' and 'fonts-liberation' (apt-get install chromium "
                "fonts-liberation; the nox sessions do this when run as root), or Playwright's own browser "
                "(python -m playwright install chromium), or name a Chromium with --browser-path or "
                f"{ENV_VAR}")

LAUNCH_ARGS = (
    "--headless=new",
    "--no-sandbox",  # Chromium's sandbox refuses to run as root, which is how CI and these machines run
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home (updates, sync, field trials): refused connections on a closed net.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

APP_USER_AGENT = "1177-appen/{version} ({platform})"  # BR-REG-3, read by sut/auth.py APP_UA
APP_PLATFORMS = ("ios", "android")
# What a profile may say besides its device: Playwright context options, and ``app`` for the in-app WebView.
PROFILE_KEYS = {
    "device": str, "description": str, "app": dict, "user_agent": str, "viewport": dict,
    "device_scale_factor": (int, float), "is_mobile": bool, "has_touch": bool, "locale": str, "timezone_id": str,
}
APP_KEYS = {"version": str, "platform": str}
VIEWPORT_KEYS = {"width": int, "height": int}
DEFAULTS = {"locale": "sv-SE", "timezone_id": "Europe/Stockholm"}  # the app's users: Swedish, in Sweden
# Descriptor keys that are not context options (the browser to run it on is always Chromium here).
_NOT_CONTEXT = ("default_browser_type",)


class BrowserMissing(RuntimeError):
    """No Chromium to launch; the message names what to install."""


class ProfileError(ValueError):
    """A device profile file that cannot be used; the message names the file, the line and the key."""


@dataclass(frozen=True)
class Profile:
    """One browser profile: a Playwright device descriptor with the file's overrides applied."""

    name: str
    device: str
    options: dict[str, Any] = field(default_factory=dict)
    in_app: bool = False  # the app's WebView: the e-services hide print and download (BR-REG-3)
    description: str = ""

    @property
    def user_agent(self) -> str:
        return str(self.options.get("user_agent", ""))

    @property
    def is_mobile(self) -> bool:
        return bool(self.options.get("is_mobile", False))

    def context_args(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``browser.new_context``; ``overrides`` (e.g. ``color_scheme``) win."""
        return {**self.options, **overrides}


def _executable(path: str) -> str | None:
    found = shutil.which(path) if os.sep not in path else (path if os.access(path, os.X_OK) else None)
    return found if found and Path(found).is_file() else None


def playwright_chromium() -> str | None:
    """Playwright's own downloaded Chromium (``playwright install chromium``), newest revision first."""
    base = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
                "chromium-*/chrome-win*/chrome.exe", "chromium_headless_shell-*/chrome-*/headless_shell")

    def revision(path: Path) -> int:
        digits = re.search(r"-(\d+)$", path.relative_to(base).parts[0])
        return int(digits.group(1)) if digits else 0

    found = [p for pattern in patterns for p in base.glob(pattern) if os.access(p, os.X_OK)]
    return str(max(found, key=revision)) if found else None


def find_chromium(explicit: str | None, *, environ: dict[str, str] | None = None,
                  bundled: str | None = None, system: tuple[str, ...] = SYSTEM_CHROMIUMS) -> str | None:
    """The Chromium to launch: ``explicit``, then $HARNESS_CHROMIUM, Playwright's own, the system's; else None.

    ``bundled`` is Playwright's own browser as a running Playwright reports it (default: its download folder)."""
    env = os.environ if environ is None else environ
    for source, value in (("--browser-path", explicit), (ENV_VAR, env.get(ENV_VAR))):
        if value:
            found = _executable(value)
            if found is None:
                raise BrowserMissing(f"{source} names {value!r}, which is not an executable program; {INSTALL_HINT}")
            return found
    own = bundled if bundled and os.access(bundled, os.X_OK) else playwright_chromium()
    if own:
        return own
    for candidate in system:
        found = _executable(candidate)
        if found:
            return found
    return None


def require_chromium(explicit: str | None, **kwargs: Any) -> str:
    """``find_chromium`` or ``BrowserMissing`` naming what to install."""
    found = find_chromium(explicit, **kwargs)
    if found is None:
        raise BrowserMissing(f"no Chromium found: {INSTALL_HINT}")
    return found


def playwright_devices() -> dict[str, dict[str, Any]]:
    """Playwright's device descriptors (``playwright.devices``) from a Playwright started for the purpose; a
    caller that runs one already passes its ``devices`` instead (Playwright keeps them inside its driver)."""
    from playwright.sync_api import sync_playwright  # the web dependency group; only this function needs it

    with sync_playwright() as playwright:
        return {name: dict(descriptor) for name, descriptor in playwright.devices.items()}


def load_profiles(path: Path = PROFILES_FILE, devices: dict[str, dict[str, Any]] | None = None) -> dict[str, Profile]:
    """Read and check a profile file; ``devices`` defaults to Playwright's own descriptors."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ProfileError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    ld = YamlChecker(path, text, ProfileError)
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict) or not data["profiles"]:
        raise ProfileError(f"{ld.display}: key 'profiles': missing; expected a mapping of profile names")
    ld.check((), data, {"profiles": dict})
    known = playwright_devices() if devices is None else devices
    profiles: dict[str, Profile] = {}
    for name, spec in data["profiles"].items():
        key = ("profiles", str(name))
        ld.check(key, spec, PROFILE_KEYS)
        device = spec.get("device")
        if device is None:
            raise ld.error(key, "missing 'device' (a Playwright device name such as 'Pixel 7')")
        if device not in known:
            close = [d for d in known if device.lower() in d.lower()][:5]
            raise ld.error((*key, "device"), f"unknown Playwright device {device!r}"
                           + (f"; similar: {', '.join(close)}" if close else ""))
        options = {k: v for k, v in known[device].items() if k not in _NOT_CONTEXT}
        options.update(DEFAULTS)
        if "viewport" in spec:
            ld.check((*key, "viewport"), spec["viewport"], VIEWPORT_KEYS)
            if set(spec["viewport"]) != set(VIEWPORT_KEYS):
                raise ld.error((*key, "viewport"), "needs both width and height")
        options.update({k: v for k, v in spec.items() if k not in ("device", "description", "app")})
        in_app = "app" in spec
        if in_app:
            app = spec["app"]
            ld.check((*key, "app"), app, APP_KEYS)
            if app.get("platform") not in APP_PLATFORMS:
                raise ld.error((*key, "app", "platform"), f"expected one of {', '.join(APP_PLATFORMS)}")
            if not re.fullmatch(r"\d+(\.\d+){0,2}", str(app.get("version", ""))):
                raise ld.error((*key, "app", "version"), "expected a version such as '3.2.0'")
            options["user_agent"] = f"{options['user_agent']} {APP_USER_AGENT.format(**app)}"
        profiles[str(name)] = Profile(str(name), device, options, in_app, str(spec.get("description", "")))
    return profiles


def profile_names(path: Path = PROFILES_FILE) -> list[str]:
    """The profile names in a file, without checking them (enough to parametrise tests at collection)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(n) for n in data["profiles"]] if isinstance(data, dict) and isinstance(data.get("profiles"), dict) \
        else []


def select(profiles: dict[str, Profile], wanted: str | None) -> dict[str, Profile]:
    """The profiles named in ``wanted`` ("a,b"; all when empty); an unknown name is a ValueError naming the rest."""
    if not wanted:
        return dict(profiles)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in profiles]
    if unknown:
        raise ValueError(f"unknown device profile {', '.join(map(repr, unknown))}; profiles: {', '.join(profiles)}")
    return {n: profiles[n] for n in names}


def mask_zip(path: Path) -> int:
    """Mask every text member of a zip (a Playwright trace: DOM snapshots, network, actions) in place; images
    and other binary members stay as they are. Returns how many members changed."""
    import zipfile

    from .masking import mask_bytes

    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    changed = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            masked = mask_bytes(data)
            changed += masked != data
            target.writestr(info, masked)
    return changed
