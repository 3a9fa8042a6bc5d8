"""The app's flows on every selected device profile: login, push to message, notification permission and
channels, ombud, regions, the WebView with SSO, network loss, session expiry and the forced update."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from mobile_flows import MAX_TAPS, log_in, open_eservice_with_sso, open_pushed_message
from screens import (
    ActingForScreen,
    LoginScreen,
    MessageScreen,
    RegionNotJoinedScreen,
    SettingsScreen,
    SsoRequiredScreen,
    StartScreen,
    UpdateScreen,
)

from harness.appflows import delivered_deep_link, register_device, register_push_device, sso_ticket, staff_send
from harness.mobile import Device, NotOnThisDevice

IDLE_TIMEOUT = 30 * 60  # BR-ID-2: a session ends after 30 idle minutes
OLD_APP_VERSION = "2.9.0"  # below the reference system's minimum, 3.0.0 (BR-REG-3)
UPDATE_PROBLEM = "urn:1177:problem:app-update-required"


def _or_skip(step, *args, **kwargs):
    """A step the profile cannot take skips the flow there, saying why (e.g. no network switch on a simulator)."""
    try:
        return step(*args, **kwargs)
    except NotOnThisDevice as exc:
        pytest.skip(str(exc))


@pytest.mark.smoke
@pytest.mark.req("BR-ID-1")
def test_login(device: Device, new_person, rate_limited):
    """En person loggar in med BankID i appen och möts av sin startsida."""
    person = new_person("adult")
    log_in(device, person, on_rate_limited=rate_limited)
    start = StartScreen(device)
    assert start.greeting() == f"Hej {person.given_name}"
    assert start.unread_count() >= 0
    device.step("Startsidan")


@pytest.mark.smoke
@pytest.mark.req("BR-INBOX-2")
def test_push_notification_opens_the_message(device: Device, new_person, new_staff, new_api_client, gateways,
                                              rate_limited):
    """Ett tryck på pushnotisen öppnar själva meddelandet, högst två tryck efter inloggningen."""
    person = new_person("adult")
    token = register_push_device(new_api_client(person))
    subject = f"Provsvar {secrets.token_hex(3)}"
    message_id = staff_send(new_api_client(new_staff(for_patient=person)), person.id, subject)
    link = delivered_deep_link(gateways, token)  # what the fake APNs delivered to the device
    from harness.appflows import web_path_for

    path, child = web_path_for(link)
    assert path == f"/inbox/{message_id}" and child is None, link
    taps = open_pushed_message(device, path, link, person, message_id, on_rate_limited=rate_limited)
    message = MessageScreen(device)
    assert taps <= MAX_TAPS, f"{taps} taps after login"
    assert message.message_id() == message_id and message.subject() == subject
    device.step("Meddelandet")


@pytest.mark.req("BR-NOTIF-1")
def test_notification_permission_denied_then_granted(device: Device, new_person, new_api_client, rate_limited):
    """Nekar användaren notiser kan push inte slås på; när hon sedan tillåter dem går det."""
    person = new_person("adult")
    app = new_api_client(person)
    log_in(device, person, next_path="/settings", on_rate_limited=rate_limited)
    _or_skip(device.set_notification_permission, False)
    if device.is_web:
        assert device.notification_permission() == "denied"
    settings = SettingsScreen(device)
    settings.choose("push", True).save()
    assert "enhet" in settings.error(), "push without a registered device is refused, saying why"
    device.step("Notiser nekade")
    _or_skip(device.set_notification_permission, True)
    register_device(app)  # what the app does once it may notify
    device.open_link("/settings")
    settings.choose("push", True).save()
    assert not settings.error() and settings.has("saved"), settings.error()
    assert settings.is_on("push")
    device.step("Notiser tillåtna och påslagna")
    assert app.get("/notification-settings").json()["push"] is True, "the app reads the same setting"


@pytest.mark.req("BR-NOTIF-1")
def test_push_on_and_sms_off(device: Device, new_person, new_api_client, rate_limited):
    """SMS går att stänga av först när push är påslaget; valet gäller också i appen."""
    person = new_person("adult")
    app = new_api_client(person)
    register_device(app)
    log_in(device, person, next_path="/settings", on_rate_limited=rate_limited)
    settings = SettingsScreen(device)
    settings.choose("push", False).choose("sms", False).save()
    assert settings.error(), "SMS cannot be turned off while push is off"
    device.step("SMS av utan push nekas")
    device.open_link("/settings")
    settings.choose("push", True).choose("sms", False).save()
    assert not settings.error() and settings.has("saved"), settings.error()
    device.step("Push på, SMS av")
    device.open_link("/settings")
    assert settings.is_on("push") and not settings.is_on("sms"), "the choice survives a reload"
    chosen = app.get("/notification-settings").json()
    assert (chosen["push"], chosen["sms"]) == (True, False), chosen


@pytest.mark.req("BR-PROXY-1")
def test_switching_ombud(device: Device, new_person, rate_limited):
    """En vårdnadshavare byter till sitt barn under 13 och tillbaka; barn över 13 erbjuds aldrig."""
    guardian = new_person("guardian")
    young = guardian.child("under-13")
    log_in(device, guardian, on_rate_limited=rate_limited)
    start = StartScreen(device)
    assert not start.is_acting_for_child()
    start.tap("acting_for")
    chooser = ActingForScreen(device)
    chooser.find("submit")
    device.step("Välj vem du agerar för")
    assert chooser.child_ids() == [young.id], "only the child under 13, never one of 13 or older"
    start = chooser.choose(young.id)
    assert start.is_acting_for_child() and young.given_name in start.text("acting_name")
    device.step("Agerar för barnet")
    device.open_link("/acting-for")
    start = ActingForScreen(device).choose(None)
    assert not start.is_acting_for_child()
    device.step("Tillbaka som sig själv")


@pytest.mark.req("BR-REG-1")
def test_region_not_joined_hands_over_to_the_browser(device: Device, new_person, rate_limited):
    """En användare i en region som inte anslutit lämnas över till 1177.se i den externa webbläsaren."""
    person = new_person("adult-not-joined")
    log_in(device, person, on_rate_limited=rate_limited)
    notice = RegionNotJoinedScreen(device)
    assert device.current_path() == "/region-not-joined", "after login only the page that sends the user on"
    link = notice.find("external")
    device.step("Använd 1177.se")
    assert urlsplit(link.get_attribute("href")).hostname in {"www.1177.se", "1177.se"}
    assert link.get_attribute("data-open-in") == "external-browser" and link.get_attribute("target") == "_blank"
    device.open_link("/inbox")
    assert device.current_path() == "/region-not-joined", "no e-service opens for a region that has not joined"


@pytest.mark.req("BR-ID-3")
def test_eservice_in_webview_with_sso(device: Device, new_person, new_api_client):
    """En e-tjänst öppnas i appens webbvy med engångsbiljett, utan ny inloggning."""
    person = new_person("adult")
    open_eservice_with_sso(device, device.web_url, sso_ticket(new_api_client(person)), "/inbox")
    assert device.current_path() == "/inbox", "the ticket opens the e-service, not a login"
    assert StartScreen(device).find_all("heading"), "the e-service's page is shown"
    device.step("Inkorgen i webbvyn")
    assert not SsoRequiredScreen(device).has("notice")


@pytest.mark.req("BR-ID-2")
def test_network_loss_and_recovery(device: Device, new_person, new_api_client, rate_limited):
    """När nätet försvinner och kommer tillbaka är användaren kvar inloggad och kan fortsätta där hon var."""
    person = new_person("adult")
    register_device(new_api_client(person))
    log_in(device, person, next_path="/settings", on_rate_limited=rate_limited)
    settings = SettingsScreen(device)
    wanted = not settings.is_on("email")
    _or_skip(device.set_online, False)
    try:
        settings.choose("email", wanted).tap("save")
        device.wait_until(lambda: not settings.find_all("form"), 15, "the offline page")
        device.step("Utan nät")
    finally:
        device.set_online(True)
    device.open_link("/settings")
    assert device.current_path() == "/settings", "still logged in after the network came back"
    assert settings.is_on("email") != wanted, "a change that never reached the system has not taken effect"
    settings.choose("email", wanted).save()
    assert settings.has("saved"), settings.error()
    device.step("Nätet tillbaka, sparat")


@pytest.mark.req("BR-ID-2")
def test_session_expiry(device: Device, private_target, clock_control):
    """Efter 30 minuters inaktivitet visas inget innehåll längre; användaren loggar in igen och kommer tillbaka."""
    from fixtures.api import login_rate_limit_handler

    here = device.on_target(private_target.urls["web"])
    person = clock_control.seed_person("adult")
    login = {"on_rate_limited": login_rate_limit_handler(private_target)}
    log_in(here, person, next_path="/settings", **login)
    settings = SettingsScreen(here)
    settings.find("form")
    here.step("Inloggad")
    clock_control.advance(IDLE_TIMEOUT + 60)
    here.open_link("/settings")
    here.wait_until(lambda: not settings.find_all("form"), 10, "the settings to be hidden")
    assert LoginScreen(here).find_all("personnummer"), f"a new login is asked for; shown: {here.current_path()}"
    here.step("Sessionen har gått ut")
    log_in(here, person, next_path="/settings", **login)
    assert here.current_path() == "/settings" and settings.find_all("form"), "back where the user was"
    here.step("Inloggad igen")


@pytest.mark.req("BR-REG-3")
def test_forced_update(device: Device, new_person, rate_limited):
    """En app äldre än lägsta version får HTTP 426 och uppdateringsskärmen i stället för innehållet."""
    person = new_person("adult")
    log_in(device, person, on_rate_limited=rate_limited)
    StartScreen(device).find("heading")
    _or_skip(device.open_as_app, "/", OLD_APP_VERSION)
    update = UpdateScreen(device)
    assert update.problem() == UPDATE_PROBLEM, f"an app at {OLD_APP_VERSION} is not sent to the update screen"
    assert "Hej" not in update.text("heading"), "no content for an unsupported app"
    device.step("Uppdatera appen")
    device.open_as_app("/")  # the updated app
    assert StartScreen(device).greeting() == f"Hej {person.given_name}", "the updated app is served again"
