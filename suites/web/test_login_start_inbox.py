"""Login through the identity provider, the start screen's counts, and the inbox, in every device profile."""

from __future__ import annotations

import pytest
from pages import InboxPage, SsoRequiredPage, StartPage
from playwright.sync_api import expect


@pytest.mark.smoke
@pytest.mark.req("BR-ID-1")
def test_login_through_the_identity_provider(new_context, profile_name, profiles, new_person, web_login, web_url,
                                            flipbook):
    """En person loggar in via identitetsleverantörens inloggningssida och kommer till startsidan."""
    page = new_context(profile_name).new_page()
    person = new_person("adult")
    page.goto(f"{web_url}/inbox")
    if profiles[profile_name].in_app:
        # In the app's WebView a visitor without a web session is handed back to the app for SSO (BR-ID-3).
        expect(SsoRequiredPage(page, web_url).find("notice")).to_be_visible()
    else:
        assert "/idp/authorize" in page.url, "a page of the e-services sends a visitor to the identity provider"
    flipbook(page, "Utan inloggning")
    landed = web_login(page, person)
    start = StartPage(page, web_url)
    assert start.current_path == "/", landed
    expect(start.find("heading")).to_have_text(f"Hej {person.given_name}")
    expect(start.find("user_name")).to_contain_text(person.given_name)
    flipbook(page, "Startsidan")


@pytest.mark.req("BR-INBOX-1")
def test_start_screen_counts_match_the_inbox(new_context, profile_name, new_person, web_login, web_url,
                                             new_api_client, flipbook):
    """Startsidans antal olästa meddelanden stämmer med inkorgen, och sjunker när ett meddelande läses."""
    person = new_person("adult")
    unread = [m["id"] for m in new_api_client(person).get("/inbox/messages").json()["messages"] if not m["read"]]
    assert unread, "the seed gives an adult unread messages"
    page = new_context(profile_name).new_page()
    web_login(page, person)
    start = StartPage(page, web_url)
    assert start.unread_count() == len(unread)
    flipbook(page, "Startsidan med olästa")
    inbox = start.go_to_inbox()
    assert set(unread) <= set(inbox.message_ids())
    flipbook(page, "Inkorgen")
    message = inbox.open_message(unread[0])
    assert message.is_shown()
    flipbook(page, "Meddelandet")
    start.open()
    assert start.unread_count() == len(unread) - 1, "an opened message is read"
    flipbook(page, "Startsidan efter läsning")


@pytest.mark.req("BR-INBOX-1")
def test_inbox_lists_the_persons_own_messages(new_context, profile_name, new_person, web_login, web_url,
                                              new_api_client):
    """Inkorgen visar personens egna meddelanden och ingen annans."""
    person, other = new_person("adult"), new_person("adult")
    own = {m["id"] for m in new_api_client(person).get("/inbox/messages").json()["messages"]}
    others = {m["id"] for m in new_api_client(other).get("/inbox/messages").json()["messages"]}
    page = new_context(profile_name).new_page()
    web_login(page, person, next_path="/inbox")
    inbox = InboxPage(page, web_url)
    expect(inbox.find("list")).to_be_visible()
    shown = set(inbox.message_ids())
    assert shown == own and not shown & others
