"""Notification settings and switching whom one acts for, in every device profile."""

from __future__ import annotations

import pytest
from pages import ActingForPage, SettingsPage, StartPage
from playwright.sync_api import expect


@pytest.mark.req("BR-NOTIF-1")
def test_notification_settings_are_changed_by_the_user(new_context, profile_name, new_person, web_login, web_url,
                                                       new_api_client, flipbook):
    """Användaren ändrar sina aviseringar; valet sparas och gäller också i appen."""
    person = new_person("adult")
    page = new_context(profile_name).new_page()
    web_login(page, person, next_path="/settings")
    settings = SettingsPage(page, web_url)
    wanted = not settings.is_checked("email")
    flipbook(page, "Aviseringar före")
    settings.choose("email", wanted).save()
    expect(settings.find("saved")).to_be_visible()
    flipbook(page, "Aviseringar sparade")
    settings.open()
    assert settings.is_checked("email") == wanted, "the choice survives a reload"
    assert new_api_client(person).get("/notification-settings").json()["email"] == wanted, \
        "the app reads the same setting"


@pytest.mark.req("BR-PROXY-1")
def test_guardian_switches_to_a_child_and_back(new_context, profile_name, new_person, web_login, web_url, flipbook):
    """En vårdnadshavare byter uttryckligen till sitt barn under 13 och tillbaka; sidorna visar vems de är."""
    guardian = new_person("guardian")
    young = guardian.child("under-13")
    page = new_context(profile_name).new_page()
    web_login(page, guardian)
    start = StartPage(page, web_url)
    assert not start.is_acting_for_child()
    flipbook(page, "Startsidan som sig själv")
    chooser = ActingForPage(page, web_url).open()
    assert chooser.child_ids() == [young.id], "only the child under 13, never one of 13 or older"
    flipbook(page, "Välj vem du agerar för")
    start = chooser.choose_child(young.id)
    expect(start.find("acting_name")).to_contain_text(young.given_name)
    expect(start.find("heading")).to_contain_text(young.given_name)
    flipbook(page, "Agerar för barnet")
    start = ActingForPage(page, web_url).open().choose_self()
    assert not start.is_acting_for_child()
    flipbook(page, "Tillbaka som sig själv")
