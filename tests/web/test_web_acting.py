"""Acting for a child (BR-PROXY-1): every page says for whom, the start page is the child's, a page an ombud may not
use keeps the way back, and a user with nobody to act for is offered no chooser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from selectolax.lexbor import LexborNode as Node
from web_support import Page, WebUser

OMBUD_PAGES = ("/", "/inbox", "/bookings", "/settings")
OWN_PAGES = ("/journal", "/audit-extract", "/my-data", "/video", "/services", "/devices", "/consents")


def words(node: Node) -> str:
    return " ".join(node.text(separator=" ").split())


def act_for_child(user: WebUser) -> dict[str, str]:
    """Switch to the guardian's child under 13; return its id and the name the pages show."""
    switch = user.page("/acting-for")
    child_id = switch.one('[data-testid="acting-for-child"]').attributes["value"]
    assert user.submit(switch, '[data-testid="acting-for-form"]', subject=child_id).status_code == 303
    child = next(c for c in user.person["children"] if c["id"] == child_id)
    return {"id": child_id, "given_name": child["given_name"],
            "name": f"{child['given_name']} {child['family_name']}"}


def assert_logged_in_frame(page: Page, *, acting_for: str | None) -> None:
    """The header, menu, switch and logout that let the user go on from any page."""
    assert page.has("site-header") and page.has("main-nav") and page.has("logout-form"), page.status
    assert page.has("acting-for-switch"), "the way to switch whom one acts for"
    if acting_for:
        assert page.one('[data-testid="acting-for-name"]').text(strip=True) == acting_for
        nav = {n.attributes["data-testid"] for n in page.css('[data-testid="main-nav"] a')}
        assert nav == {"nav-start", "nav-inbox", "nav-bookings", "nav-settings"}, "only what an ombud may use"


def test_the_start_page_is_the_childs_while_acting_for_it(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("guardian")
    # Read one of the guardian's own messages, so the guardian's and the child's counts differ.
    own = next(m for m in user.page("/inbox").testid("message-item") if m.attributes["data-read"] == "false")
    user.page(f"/inbox/{own.attributes['data-message-id']}")
    mine = user.page("/")
    assert mine.h1 == f"Hej {user.person['given_name']}"
    assert words(mine.one('[data-testid="unread-text"]')).startswith("Du har ")
    for child in mine.testid("start-child"):
        name = child.css_first("h3").text(strip=True).split()[0]
        assert words(child.css_first('[data-testid="child-unread-text"]')).startswith(f"{name} har ")

    child = act_for_child(user)
    start = user.page("/")
    assert_logged_in_frame(start, acting_for=child["name"])
    # Word by word: a guardian named Nils is not greeted in "Ingrid Nilsson", though the letters are there.
    assert start.h1 == child["name"] and user.person["given_name"] not in start.h1.split()
    assert child["name"] in start.title
    unread = [m for m in user.page("/inbox").testid("message-item") if m.attributes["data-read"] == "false"]
    count = start.one('[data-testid="unread-count"]')
    assert int(count.attributes["data-count"]) == len(unread) == 2, "the child's count, not the guardian's 1"
    assert words(start.one('[data-testid="unread-text"]')).startswith(f"{child['given_name']} har ")
    assert start.one('[data-testid="start-inbox"]').attributes["data-whose"] == child["id"]
    next_booking = start.one('[data-testid="start-next-booking"]')
    assert next_booking.attributes["data-whose"] == child["id"]
    first = user.page("/bookings").testid("booking-item")[0].css_first("time").attributes["datetime"]
    assert next_booking.css_first("time").attributes["datetime"] == first, "the child's next booking"
    assert not start.has("start-children"), "no list of one's children while acting for one"
    links = {a.attributes["href"] for a in start.css('[data-testid="start-links"] a')}
    assert links <= {"/settings", "/acting-for", "/inbox", "/bookings"}, links
    assert not start.css('a[href="/journal"], a[href="/audit-extract"], a[href="/my-data"], a[href="/video"]')


@pytest.mark.parametrize("path", OWN_PAGES)
def test_a_page_an_ombud_may_not_use_keeps_the_frame_and_the_way_back(new_web_user: Callable[..., WebUser],
                                                                        path: str) -> None:
    user = new_web_user("guardian")
    child = act_for_child(user)
    refused = user.page(path, 403)
    assert refused.has("error-page")
    assert_logged_in_frame(refused, acting_for=child["name"])
    back = user.submit(refused, '[data-testid="switch-back-form"]')
    assert back.status_code == 303 and back.headers["location"] == path, "back to the page, as oneself"
    page = user.page(path)
    assert not page.has("acting-for-banner") and not page.has("error-page")


def test_the_switch_back_goes_only_to_a_local_page(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("guardian")
    act_for_child(user)
    refused = user.page("/journal", 403)
    back = user.submit(refused, '[data-testid="switch-back-form"]', next="https://evil.example/")
    assert back.status_code == 303 and back.headers["location"] == "/"


@pytest.mark.parametrize("acting", [False, True])
def test_an_unknown_page_keeps_the_frame_for_a_logged_in_user(new_web_user: Callable[..., WebUser],
                                                               acting: bool) -> None:
    user = new_web_user("guardian")
    child = act_for_child(user) if acting else None
    response = user.client.get("/no-such-page", headers={**user.headers(), "Accept": "text/html"})
    page = Page(response)
    assert page.status == 404 and page.has("error-page")
    assert_logged_in_frame(page, acting_for=child["name"] if child else None)
    assert not page.has("login-link")


def test_an_error_page_offers_an_anonymous_user_the_login(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    response = user.client.get("/no-such-page", headers={**user.headers(cookie=False), "Accept": "text/html"})
    page = Page(response)
    assert page.status == 404 and page.has("error-page")
    assert urlsplit(page.one('[data-testid="login-link"]').attributes["href"]).path == "/login"
    assert not page.has("main-nav") and not page.has("logout-form")


def test_the_update_page_keeps_the_frame_for_an_old_app(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    old = WebUser(client=user.client, person=user.person, cookie=user.cookie, user_agent="1177-appen/2.9.0 (ios)")
    page = Page(old.get("/inbox"))
    assert page.status == 426 and page.has("error-page")
    assert page.has("main-nav") and page.has("logout-form")


def test_an_adult_without_children_is_offered_no_chooser(new_web_user: Callable[..., WebUser]) -> None:
    adult, guardian = new_web_user("adult"), new_web_user("guardian")
    for path in ("/", "/settings", "/inbox"):
        page = adult.page(path)
        assert not page.has("acting-for-switch") and not page.css('a[href="/acting-for"]'), path
        assert guardian.page(path).has("acting-for-switch"), path
    chooser = adult.page("/acting-for")
    assert chooser.has("acting-for-none") and not chooser.has("acting-for-form"), "no one-option chooser"
    assert guardian.page("/acting-for").has("acting-for-form")


def test_a_deep_link_to_a_childs_message_asks_once_and_refuses_whom_one_may_not_act_for(
        new_web_user: Callable[..., WebUser], new_person: Callable[[str], dict[str, Any]]) -> None:
    """A push about a child's message opens /inbox/<id>?acting_for=<child>: one tap switches (the same check as
    every switch decides); a link naming a teenager or a stranger is refused with the frame kept."""
    user = new_web_user("guardian")
    choosable = {n.attributes["value"] for n in user.page("/acting-for").testid("acting-for-child")}
    child = next(c for c in user.person["children"] if c["id"] in choosable)
    teen = next(c for c in user.person["children"] if c["id"] not in choosable)
    path = "/inbox/00000000-0000-4000-8000-000000000000"
    asked = user.page(f"{path}?acting_for={child['id']}")
    assert asked.h1 == f"Meddelandet gäller {child['given_name']}"
    form = asked.one('[data-testid="message-switch-form"]')
    assert {i.attributes["name"]: i.attributes["value"] for i in form.css('input[type="hidden"]')
            if i.attributes["name"] != "csrf_token"} == {"subject": child["id"], "next": path}
    assert not asked.has("acting-for-banner"), "nothing is switched before the tap"
    for stranger in (teen, new_person("adult")):
        refused = user.page(f"{path}?acting_for={stranger['id']}", 403)
        assert refused.has("error-page")
        assert_logged_in_frame(refused, acting_for=None)
