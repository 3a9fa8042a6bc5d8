"""The app's WebView: SSO into the e-services (BR-ID-3), and print and download hidden in the app (BR-REG-3)."""

from __future__ import annotations

import pytest
from flows import open_webview_with_ticket, sso_ticket
from pages import ErrorPage, MessagePage, SettingsPage, SsoRequiredPage, StartPage
from playwright.sync_api import expect

from harness.api_client import ApiClient, Tokens, login_person
from harness.login import refresh

SESSION_COOKIE = "eservice_session"
IDLE_TIMEOUT = 30 * 60  # BR-ID-2: a web session ends after 30 idle minutes


def _session_cookie(context) -> dict:
    cookies = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(cookies) == 1, f"one session cookie, found {len(cookies)}"
    return cookies[0]


@pytest.mark.smoke
@pytest.mark.req("BR-ID-3")
@pytest.mark.profiles("app-webview")
def test_sso_ticket_works_once(new_context, profile_name, new_person, new_api_client, web_url, flipbook):
    """En SSO-biljett från appen öppnar e-tjänsten i webbvyn en gång; samma biljett igen nekas."""
    person = new_person("adult")
    app = new_api_client(person)
    ticket = sso_ticket(app)
    first = new_context(profile_name).new_page()
    answer = open_webview_with_ticket(first, web_url, ticket, "/inbox")
    assert answer.status == 303, answer.status
    assert StartPage(first, web_url).current_path == "/inbox"
    flipbook(first, "Inkorgen via SSO")
    replay = new_context(profile_name).new_page()
    answer = open_webview_with_ticket(replay, web_url, ticket, "/inbox")
    error = ErrorPage(replay, web_url)
    assert answer.status == 401 and error.problem() == "urn:1177:problem:sso-ticket", "a replayed ticket is refused"
    assert not [c for c in replay.context.cookies() if c["name"] == SESSION_COOKIE]
    flipbook(replay, "Återanvänd biljett nekas")


@pytest.mark.req("BR-ID-3", "BR-SEC-1")
@pytest.mark.profiles("app-webview")
def test_cookies_survive_the_hand_over(new_context, profile_name, new_person, new_api_client, web_url, flipbook):
    """Sessionskakan från SSO följer med till e-tjänstens alla sidor i webbvyn, utan ny inloggning."""
    person = new_person("adult")
    context = new_context(profile_name)
    page = context.new_page()
    open_webview_with_ticket(page, web_url, sso_ticket(new_api_client(person)), "/")
    cookie = _session_cookie(context)
    assert cookie["path"] == "/" and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    start = StartPage(page, web_url)
    expect(start.find("heading")).to_have_text(f"Hej {person.given_name}")
    for path in ("/inbox", "/settings", "/video"):
        start.open(path)
        assert start.current_path == path, f"{path}: the hand-over's session reaches every page"
        expect(SsoRequiredPage(page, web_url).find("notice")).to_have_count(0)
    flipbook(page, "Sista sidan i samma session")


@pytest.mark.req("BR-ID-3")
@pytest.mark.profiles("app-webview")
def test_expired_web_session_reruns_sso_without_a_login_loop(new_context, profile_name, private_target,
                                                             clock_control, flipbook):
    """När webbsessionen gått ut men appens session lever ber webbvyn appen om SSO igen, aldrig om inloggning."""
    web = private_target.urls["web"].rstrip("/")
    person = clock_control.seed_person("adult")
    idp = private_target.urls["idp"]
    with ApiClient(private_target.urls["mobile_api"], label="appen") as app:
        tokens = login_person(app, idp, person.personnummer)
        app.use_token(tokens.access_token)
        page = new_context(profile_name).new_page()
        open_webview_with_ticket(page, web, sso_ticket(app), "/settings")
        settings = SettingsPage(page, web)
        assert settings.current_path == "/settings"
        flipbook(page, "Webbsession via SSO")
        # The app keeps its own session alive by refreshing its short-lived token; the web session idles out.
        for step in (IDLE_TIMEOUT // 2, IDLE_TIMEOUT // 2 + 60):
            clock_control.advance(step)
            renewed = refresh(app, idp, tokens.refresh_token)
            assert renewed.status_code == 200, f"the app's session is still valid: {renewed.status_code}"
            tokens = Tokens.from_json(renewed.json())
            app.use_token(tokens.access_token)
        visited: list[str] = []
        page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
        settings.open()
        renew = SsoRequiredPage(page, web)
        expect(renew.find("notice")).to_be_visible()
        flipbook(page, "Webbvyn ber appen om SSO")
        href = renew.find("renew").get_attribute("href")
        assert href.startswith("se.1177.appen://sso/renew?") and "next=%2Fsettings" in href, href
        assert not [u for u in visited if "/login" in u or "/idp/" in u], f"no login page inside the app: {visited}"
        # The app follows its renew link: a fresh ticket for the same page, and the user is back where they were.
        open_webview_with_ticket(page, web, sso_ticket(app), "/settings")
        assert settings.current_path == "/settings"
        expect(settings.find("form")).to_be_visible()
        flipbook(page, "Tillbaka via ny SSO")


@pytest.mark.req("BR-REG-3")
def test_print_and_download_hidden_in_the_app(new_context, profile_name, profiles, new_person, new_api_client,
                                              web_login, web_url, flipbook):
    """Utskrift och nedladdning döljs i appens webbvy och visas på webben."""
    person = new_person("adult")
    message_id = new_api_client(person).get("/inbox/messages").json()["messages"][0]["id"]
    page = new_context(profile_name).new_page()
    web_login(page, person, next_path=f"/inbox/{message_id}")
    message = MessagePage(page, web_url)
    expect(message.find("message")).to_be_visible()
    flipbook(page, "Meddelandet")
    shown = not profiles[profile_name].in_app
    assert message.offers_print() == shown, f"print {'shown' if shown else 'hidden'} in {profile_name}"
    assert message.offers_download() == shown, f"download {'shown' if shown else 'hidden'} in {profile_name}"
