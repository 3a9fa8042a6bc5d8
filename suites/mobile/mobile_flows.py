"""The app's flows as plain functions over screens, the same for every device profile: the web build here, the
native app on emulators and farms (where a step differs, harness.mobile.Device takes it the platform's way)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from screens import InboxScreen, LoginScreen, MessageScreen, StartScreen

from harness.appflows import APP_SCHEME
from harness.identities import Person
from harness.mobile import Device

MAX_TAPS = 2  # BR-INBOX-2: a push opens the message in at most two taps after login


def log_in(device: Device, person: Person, *, next_path: str = "/",
           on_rate_limited: Callable[[float], None] | None = None) -> None:
    """Log in through the identity provider's page (BankID, simulated), landing where ``next_path`` points."""
    for attempt in (1, 2):
        if device.is_web:
            device.open_link(f"/login?next={quote(next_path, safe='/')}")
        login = LoginScreen(device)
        login.find("personnummer")
        device.step("Inloggning")
        login.log_in(person.personnummer)
        device.wait_until(lambda screen=login: "/idp/" not in device.current_path() or screen.has("error"), 15,
                          "the identity provider to answer")
        # Every test logs in from 127.0.0.1: a busy run meets the IdP's limit of 20 logins a minute (BR-SEC-1).
        if "/idp/" in device.current_path() and on_rate_limited is not None and attempt == 1:
            on_rate_limited(1.0)
            continue
        break
    assert "/idp/" not in device.current_path(), f"the login was refused: {LoginScreen(device).error_text()}"


def open_pushed_message(device: Device, web_path: str, deep_link: str, person: Person,
                        message_id: str, **login: Callable[[float], None] | None) -> int:
    """Tap the push: the app opens its link (the web path it stands for on the web build), asks for a login and
    then shows the message; returns the taps it took after the login, on the user's own way if needed."""
    device.open_link(web_path if device.is_web else deep_link)
    device.step("Notisen öppnar appen")
    log_in(device, person, next_path=web_path, **login)  # the login keeps where the link pointed
    device.step("Efter inloggningen")
    taps = 0
    if device.current_path() != web_path:
        StartScreen(device).go_to_inbox()
        taps += 1
        if device.current_path() != web_path:
            InboxScreen(device).open_message(message_id)
            taps += 1
    MessageScreen(device).find("message")
    return taps


def open_eservice_with_sso(device: Device, web_url: str, ticket: str, next_path: str) -> None:
    """The app opens a WebView e-service: it posts its one-time ticket to /sso (never in a URL) from no web
    origin (BR-ID-3). On the native app the app does this itself when its link is opened; the flow then
    switches to the WebView's context."""
    if not device.is_web:
        device.open_link(f"{APP_SCHEME}://sso/open?{urlencode({'next': next_path})}")
        device.enter_webview()
        return
    device.driver.get("about:blank")
    device.driver.execute_script(
        "const [action, ticket, next] = arguments;"
        "const form = document.createElement('form'); form.method = 'post'; form.action = action;"
        "for (const [name, value] of [['ticket', ticket], ['next', next]]) {"
        "  const input = document.createElement('input'); input.type = 'hidden'; input.name = name;"
        "  input.value = value; form.appendChild(input); }"
        "document.body.appendChild(form); form.submit();", f"{web_url}/sso", ticket, next_path)
    device.wait_until(lambda: device.driver.current_url.startswith(web_url), 15, "the e-service to open")
