"""A push's deep link opens the message itself, in at most two taps after login (BR-INBOX-2)."""

from __future__ import annotations

import secrets

import pytest
from flows import delivered_deep_link, register_push_device, staff_send, web_path_for
from pages import InboxPage, MessagePage, MessageSwitchPage, StartPage
from playwright.sync_api import expect

MAX_TAPS = 2  # BR-INBOX-2: "fewer clicks to reach the information"


@pytest.mark.smoke
@pytest.mark.req("BR-INBOX-2")
def test_push_deep_link_opens_the_message(new_context, profile_name, new_person, new_staff, new_api_client,
                                          gateways, web_login, web_url, flipbook):
    """En push från en vårdenhet öppnar själva meddelandet, högst två tryck efter inloggningen."""
    person = new_person("adult")
    token = register_push_device(new_api_client(person))
    subject = f"Provsvar {secrets.token_hex(3)}"
    message_id = staff_send(new_api_client(new_staff(for_patient=person)), person.id, subject)
    link = delivered_deep_link(gateways, token)
    path, child = web_path_for(link)
    assert path == f"/inbox/{message_id}" and child is None, link

    page = new_context(profile_name).new_page()
    page.goto(f"{web_url}{path}")
    flipbook(page, "Djuplänken kräver inloggning")
    web_login(page, person, next_path=path)  # the login keeps where the link pointed
    flipbook(page, "Efter inloggningen")
    taps = 0
    if MessagePage(page, web_url).current_path != path:  # not there yet: the user's way, one tap at a time
        StartPage(page, web_url).go_to_inbox()
        taps += 1
        if MessagePage(page, web_url).current_path != path:
            InboxPage(page, web_url).open_message(message_id)
            taps += 1
    message = MessagePage(page, web_url)
    assert message.current_path == path and taps <= MAX_TAPS, f"{taps} taps after login"
    expect(message.find("heading")).to_have_text(subject)
    flipbook(page, "Meddelandet")


@pytest.mark.req("BR-INBOX-2", "BR-PROXY-1")
def test_push_deep_link_for_a_child_opens_the_message_as_ombud(new_context, profile_name, new_person, new_staff,
                                                               new_api_client, gateways, web_login, web_url,
                                                               flipbook):
    """En push om ett meddelande till ett barn under 13 år öppnar meddelandet med vårdnadshavaren som ombud för
    barnet, högst två tryck efter inloggningen."""
    guardian = new_person("guardian")
    child = next(c for c in guardian.children if c.age_group == "under-13")
    app = new_api_client(guardian)
    token = register_push_device(app)
    for_child = app.put("/notification-settings", json={"push": True, "sms": False, "email": False},
                        headers={"X-Acting-For": child.id})
    assert for_child.status_code == 200, for_child.text
    subject = f"Vaccination {secrets.token_hex(3)}"
    message_id = staff_send(new_api_client(new_staff(for_patient=child)), child.id, subject)
    link = delivered_deep_link(gateways, token)
    path, acting_for = web_path_for(link)
    assert path == f"/inbox/{message_id}" and acting_for == child.id, link

    page = new_context(profile_name).new_page()
    opened = f"{path}?acting_for={acting_for}"
    web_login(page, guardian, next_path=opened)
    flipbook(page, "Efter inloggningen")
    taps = 0
    switch = MessageSwitchPage(page, web_url)
    if switch.is_shown():  # the guardian acts for themself: one tap to act for the child
        assert child.given_name in switch.heading()
        switch.switch()
        taps += 1
    message = MessagePage(page, web_url)
    if not message.current_path.startswith(path):
        StartPage(page, web_url).go_to_inbox()
        InboxPage(page, web_url).open_message(message_id)
        taps += 2
    assert message.current_path.startswith(path) and taps <= MAX_TAPS, f"{taps} taps after login"
    expect(message.find("heading")).to_have_text(subject)
    assert message.is_acting_for_child(), "the message is shown while acting for the child"
    expect(message.find("acting_name")).to_contain_text(child.given_name)
    flipbook(page, "Barnets meddelande")
