"""Screen objects of the app: locators are data per platform (screens.yaml), state is ``is_*`` and readers,
actions are verbs that return the next screen. The same screens serve the web build (CSS on the reference
system's pages) and the native app (accessibility ids)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import yaml
from appium.webdriver.common.appiumby import AppiumBy

from harness.mobile import Device

LOCATORS_FILE = Path(__file__).with_name("screens.yaml")
PLATFORMS = ("web", "android", "ios")


@cache
def locators() -> dict[str, dict[str, dict[str, str]]]:
    """screens.yaml, checked: every element has a locator for every platform."""
    data = yaml.safe_load(LOCATORS_FILE.read_text(encoding="utf-8"))
    for screen, elements in data.items():
        for element, per_platform in elements.items():
            missing = [p for p in PLATFORMS if p not in (per_platform or {})]
            if missing:
                raise ValueError(f"{LOCATORS_FILE.name}: {screen}.{element} has no locator for {', '.join(missing)}")
    return data


def by(locator: str, platform: str) -> tuple[str, str]:
    """A locator of screens.yaml as (strategy, value): CSS on the web build, '~id' accessibility id, 'id=' id."""
    if platform == "web":
        return AppiumBy.CSS_SELECTOR, locator
    if locator.startswith("~"):
        return AppiumBy.ACCESSIBILITY_ID, locator[1:]
    if locator.startswith("id="):
        return AppiumBy.ID, locator[3:]
    return AppiumBy.XPATH, locator


class Screen:
    """A screen of the app, found by its name in screens.yaml."""

    name: ClassVar[str] = ""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.driver = device.driver

    def locator(self, element: str) -> tuple[str, str]:
        platform = self.device.profile.locator_platform
        return by(locators()[self.name][element][platform], platform)

    def find_all(self, element: str) -> list[Any]:
        return list(self.driver.find_elements(*self.locator(element)))

    def find(self, element: str, timeout: float = 15.0) -> Any:
        """The element, waited for; a timeout is an AssertionError naming screen, element and where we are."""
        return self.device.wait_until(lambda: self.find_all(element), timeout, f"{self.name}.{element}")[0]

    def has(self, element: str) -> bool:
        return any(e.is_displayed() for e in self.find_all(element))

    def text(self, element: str) -> str:
        return str(self.find(element).text).strip()

    def tap(self, element: str) -> None:
        self.find(element).click()


class LoginScreen(Screen):
    name = "login"

    def log_in(self, personnummer: str) -> None:
        field = self.find("personnummer")
        field.clear()
        field.send_keys(personnummer)
        self.tap("submit")

    def error_text(self) -> str:
        return " ".join(e.text for e in self.find_all("error")).strip()


class StartScreen(Screen):
    name = "start"

    def greeting(self) -> str:
        return self.text("heading")

    def unread_count(self) -> int:
        return int(self.find("unread").get_attribute("data-count"))

    def is_acting_for_child(self) -> bool:
        return self.has("acting_banner")

    def go_to_inbox(self) -> InboxScreen:
        self.tap("inbox")
        return InboxScreen(self.device)

    def go_to_settings(self) -> SettingsScreen:
        self.tap("settings")
        return SettingsScreen(self.device)


class InboxScreen(Screen):
    name = "inbox"

    def message_ids(self) -> list[str]:
        return [item.get_attribute("data-message-id") for item in self.find_all("item")]

    def open_message(self, message_id: str) -> MessageScreen:
        for item in self.find_all("item"):
            if item.get_attribute("data-message-id") == message_id:
                item.find_element(*self.locator("link")).click()
                return MessageScreen(self.device)
        raise AssertionError(f"message {message_id} is not in the inbox: {self.message_ids()}")


class MessageScreen(Screen):
    name = "message"

    def subject(self) -> str:
        return self.text("heading")

    def message_id(self) -> str:
        return str(self.find("message").get_attribute("data-message-id"))


class SettingsScreen(Screen):
    name = "settings"

    def is_on(self, channel: str) -> bool:
        return bool(self.find(channel).is_selected())

    def choose(self, channel: str, on: bool) -> SettingsScreen:
        if self.is_on(channel) != on:
            self.tap(channel)
        return self

    def save(self) -> SettingsScreen:
        self.tap("save")
        self.device.wait_until(lambda: self.find_all("saved") or self.find_all("error"), 15,
                               "the settings to be saved or refused")
        return self

    def error(self) -> str:
        return " ".join(e.text for e in self.find_all("error")).strip()


class ActingForScreen(Screen):
    name = "acting_for"

    def child_ids(self) -> list[str]:
        return [radio.get_attribute("value") for radio in self.find_all("child")]

    def choose(self, subject_id: str | None) -> StartScreen:
        """A child by id, or oneself (None); the start screen of whom one now acts for."""
        if subject_id is None:
            self.tap("self")
        else:
            [radio] = [r for r in self.find_all("child") if r.get_attribute("value") == subject_id]
            radio.click()
        self.tap("submit")
        start = StartScreen(self.device)
        start.find("heading")
        return start


class RegionNotJoinedScreen(Screen):
    name = "region_not_joined"


class SsoRequiredScreen(Screen):
    name = "sso_required"


class UpdateScreen(Screen):
    name = "update"

    def problem(self) -> str:
        return str(self.find("page").get_attribute("data-problem") or "")


class PermissionDialog(Screen):
    """The operating system's question whether the app may send notifications (native builds only)."""

    name = "permission"

    def answer(self, allow: bool) -> None:
        self.tap("allow" if allow else "deny")
