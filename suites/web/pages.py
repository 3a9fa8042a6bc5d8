"""Page objects of the web e-services: locators as data, state as ``is_*``/readers, actions as verbs that return
the next page. Locators prefer what a user perceives (role and label) and fall back to the pages' test ids."""

from __future__ import annotations

import re
from typing import Any, ClassVar

# A locator is (kind, value): "testid" -> get_by_test_id, "label" -> get_by_label, "role" -> get_by_role with a
# (role, accessible name) pair, "css" -> locator.
Locator = tuple[str, Any]


class WebPage:
    """A page of the e-services, found by its path."""

    path: ClassVar[str] = "/"
    locators: ClassVar[dict[str, Locator]] = {
        "heading": ("testid", "page-heading"),
        "main_nav": ("testid", "main-nav"),
        "user_name": ("testid", "user-name"),
        "acting_banner": ("testid", "acting-for-banner"),
        "acting_name": ("testid", "acting-for-name"),
        "logout": ("testid", "logout-button"),
    }

    def __init__(self, page: Any, web: str) -> None:
        self.page = page
        self.web = web

    def find(self, name: str) -> Any:
        kind, value = {**WebPage.locators, **self.locators}[name]
        if kind == "testid":
            return self.page.get_by_test_id(value)
        if kind == "label":
            return self.page.get_by_label(value, exact=True)
        if kind == "role":
            role, accessible_name = value
            return self.page.get_by_role(role, name=accessible_name)
        return self.page.locator(value)

    def open(self, path: str | None = None) -> Any:
        self.page.goto(f"{self.web}{path or self.path}")
        return self

    @property
    def current_path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.page.url)

    def heading(self) -> str:
        return self.find("heading").inner_text().strip()

    def is_acting_for_child(self) -> bool:
        return self.find("acting_banner").count() > 0


class StartPage(WebPage):
    path = "/"
    locators: ClassVar[dict[str, Locator]] = {
        "unread": ("testid", "unread-count"),
        "inbox_link": ("role", ("link", "Gå till inkorgen")),
        "settings_link": ("testid", "start-settings-link"),
        "video_link": ("testid", "start-video-link"),
        "acting_for_link": ("testid", "start-acting-for-link"),
        "switch_back_link": ("testid", "start-switch-link"),
        "child_unread": ("testid", "child-unread-count"),
    }

    def unread_count(self) -> int:
        return int(self.find("unread").get_attribute("data-count"))

    def child_unread_counts(self) -> list[int]:
        return [int(c.get_attribute("data-count")) for c in self.find("child_unread").all()]

    def go_to_inbox(self) -> InboxPage:
        self.find("inbox_link").click()
        self.page.wait_for_url("**/inbox")
        return InboxPage(self.page, self.web)


class InboxPage(WebPage):
    path = "/inbox"
    locators: ClassVar[dict[str, Locator]] = {
        "list": ("testid", "message-list"),
        "item": ("testid", "message-item"),
        "link": ("testid", "message-link"),
        "empty": ("testid", "inbox-empty"),
    }

    def message_ids(self) -> list[str]:
        return [item.get_attribute("data-message-id") for item in self.find("item").all()]

    def open_message(self, message_id: str) -> MessagePage:
        self.find("item").and_(self.page.locator(f'[data-message-id="{message_id}"]')).get_by_test_id(
            "message-link").click()
        self.page.wait_for_url(f"**/inbox/{message_id}")
        return MessagePage(self.page, self.web)


class MessagePage(WebPage):
    path = "/inbox/{id}"
    locators: ClassVar[dict[str, Locator]] = {
        "message": ("testid", "message"),
        "body": ("testid", "message-body"),
        "print": ("testid", "print-button"),
        "download": ("testid", "download-button"),
        "back": ("testid", "back-to-inbox"),
    }

    def is_shown(self) -> bool:
        return self.find("message").is_visible()

    def offers_print(self) -> bool:
        return self.find("print").count() > 0 and self.find("print").is_visible()

    def offers_download(self) -> bool:
        return self.find("download").count() > 0 and self.find("download").is_visible()


class MessageSwitchPage(WebPage):
    """Where a push about a child's message lands while the guardian acts for someone else: one tap switches."""

    path = "/inbox/{id}?acting_for={child}"
    locators: ClassVar[dict[str, Locator]] = {
        "switch": ("testid", "message-switch-submit"),
    }

    def is_shown(self) -> bool:
        return self.find("switch").count() > 0

    def switch(self) -> MessagePage:
        self.find("switch").click()
        self.page.wait_for_load_state()
        return MessagePage(self.page, self.web)


class SettingsPage(WebPage):
    path = "/settings"
    locators: ClassVar[dict[str, Locator]] = {
        "form": ("testid", "settings-form"),
        "push": ("testid", "setting-push"),
        "sms": ("testid", "setting-sms"),
        "email": ("testid", "setting-email"),
        "save": ("testid", "settings-submit"),
        "saved": ("testid", "settings-saved"),
        "error": ("testid", "settings-error"),
    }

    def is_checked(self, channel: str) -> bool:
        return self.find(channel).is_checked()

    def choose(self, channel: str, on: bool) -> SettingsPage:
        self.find(channel).set_checked(on)
        return self

    def save(self) -> SettingsPage:
        self.find("save").click()
        self.find("saved").or_(self.find("error")).wait_for()
        return self


class ActingForPage(WebPage):
    path = "/acting-for"
    locators: ClassVar[dict[str, Locator]] = {
        "self": ("testid", "acting-for-self"),
        "child": ("testid", "acting-for-child"),
        "submit": ("testid", "acting-for-submit"),
    }

    def child_ids(self) -> list[str]:
        return [radio.get_attribute("value") for radio in self.find("child").all()]

    def choose_child(self, child_id: str) -> StartPage:
        self.find("child").and_(self.page.locator(f'[value="{child_id}"]')).check()
        self.find("submit").click()
        self.find("acting_banner").wait_for()
        return StartPage(self.page, self.web)

    def choose_self(self) -> StartPage:
        self.find("self").check()
        self.find("submit").click()
        self.find("acting_banner").wait_for(state="detached")
        return StartPage(self.page, self.web)


class RegionNotJoinedPage(WebPage):
    path = "/region-not-joined"
    locators: ClassVar[dict[str, Locator]] = {
        "notice": ("testid", "region-not-joined"),
        "external": ("testid", "region-not-joined-link"),
    }


class VideoPage(WebPage):
    path = "/video"
    locators: ClassVar[dict[str, Locator]] = {
        "mode": ("testid", "video-mode"),
        "meeting": ("testid", "video-meeting"),
        "join": ("testid", "video-join"),
    }

    def mode(self) -> str:
        return self.find("mode").get_attribute("data-mode")


class SsoRequiredPage(WebPage):
    locators: ClassVar[dict[str, Locator]] = {
        "notice": ("testid", "sso-required"),
        "renew": ("testid", "sso-renew"),
    }


class ErrorPage(WebPage):
    locators: ClassVar[dict[str, Locator]] = {
        "error": ("testid", "error-page"),
    }

    def problem(self) -> str:
        return self.find("error").get_attribute("data-problem")
