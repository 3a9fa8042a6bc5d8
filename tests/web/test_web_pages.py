"""Every e-service page: rendered for its owner, refused or redirected for anyone else, accessible by its markup,
and working under the CSP (BR-INBOX-1, BR-PROXY-1, BR-REG-3, BR-AUDIT-1, BR-GDPR-1, BR-A11Y-1, BR-SEC-1)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support import reset_keeping_faults
from web_support import (
    APP_UA,
    BROWSER_UA,
    SESSION_COOKIE,
    Page,
    WebUser,
    contains_pnr,
    login_via_idp,
    query_of,
    set_cookies,
)

from harness.sut_process import SutProcess

# Each page, and the element that shows it did its job.
PAGES = {
    "/": "start-inbox",
    "/inbox": "message-list",
    "/bookings": "booking-list",
    "/journal": "journal-list",
    "/settings": "settings-form",
    "/devices": "devices-empty",
    "/consents": "consent-text",
    "/acting-for": "acting-for-form",
    "/audit-extract": "audit-filter",  # the list itself is empty until something has been read
    "/my-data": "erasure-form",
    "/video": "video-mode",
    "/services": "service-list",
}
AGENTS = {"browser": BROWSER_UA, "app": APP_UA}


@pytest.fixture(scope="module")
def guardian(sut: SutProcess) -> Iterator[WebUser]:
    """One guardian logged in for the read-only checks of this module (the other tests make their own users)."""
    with httpx.Client(base_url=sut.urls["base"], timeout=10, follow_redirects=False) as client:
        reset_keeping_faults(client)  # a fresh login limit
        person = client.post("/_sut/persons", json={"role": "guardian"}).json()
        callback, _ = login_via_idp(client, person["personnummer"])
        assert callback.status_code == 303, callback.text[:300]
        yield WebUser(client=client, person=person, cookie=set_cookies(callback)[SESSION_COOKIE].value,
                      user_agent=BROWSER_UA)


def as_agent(user: WebUser, agent: str) -> WebUser:
    return WebUser(client=user.client, person=user.person, cookie=user.cookie, user_agent=AGENTS[agent])


def accessible_name_ok(page: Page, node: Any) -> bool:
    attrs = node.attributes
    if attrs.get("aria-label") or attrs.get("aria-labelledby"):
        return True
    if attrs.get("id") and page.css(f'label[for="{attrs["id"]}"]'):
        return True
    parent = node.parent
    while parent is not None:
        if parent.tag == "label":
            return True
        parent = parent.parent
    return False


def assert_page_markup(page: Page) -> None:
    """What every page must have for WCAG 2.1 AA that markup alone can show (BR-A11Y-1), and CSP fitness."""
    assert page.one("html").attributes.get("lang") == "sv"
    assert len(page.css("h1")) == 1, "exactly one h1"
    assert page.title.endswith(" – 1177") and len(page.title) > len(" – 1177"), page.title
    for landmark in ("header", "main", "footer"):
        assert len(page.css(landmark)) == 1, landmark
    assert page.one("main").attributes.get("id") == "main"
    skip = page.css("body a")[0]
    assert skip.attributes.get("href") == "#main" and skip.attributes.get("data-testid") == "skip-link"
    for nav in page.css("nav"):
        assert nav.attributes.get("aria-label"), "a navigation landmark has a name"
    for img in page.css("img"):
        assert (img.attributes.get("alt") or "").strip(), "an image without alt text"
    for field in page.css("input, select, textarea"):
        if (field.attributes.get("type") or "").lower() in {"hidden", "submit", "button"}:
            continue
        assert accessible_name_ok(page, field), f"unlabelled field {field.attributes}"
    for button in page.css("button"):
        assert button.text(strip=True), "a button without text"
    levels = [int(h.tag[1]) for h in page.css("h1, h2, h3, h4, h5, h6")]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    # The CSP allows no inline script or style: everything comes from /static.
    for script in page.css("script"):
        assert (script.attributes.get("src") or "").startswith("/static/"), "inline script"
    assert not page.css("style") and not page.css("[style]"), "inline style"
    for node in page.css("*"):
        assert not any(name.startswith("on") for name in node.attributes), "inline event handler"
    for link in page.css('link[rel="stylesheet"]'):
        assert link.attributes["href"].startswith("/static/")
    for form in page.css("form[method=post]"):
        action = form.attributes.get("action") or ""
        if not action.startswith("/idp/"):
            assert form.css('input[name="csrf_token"]'), f"a form without CSRF token: {action}"


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_its_owner(guardian: WebUser, path: str, agent: str) -> None:
    page = as_agent(guardian, agent).page(path)
    assert page.has(PAGES[path]), f"{path} lacks {PAGES[path]}"
    assert_page_markup(page)
    assert page.response.headers["cache-control"] == "no-store", "health data is not cached (OSL 25 kap. 1 §)"
    assert "script-src 'self'" in page.response.headers["content-security-policy"]
    assert not contains_pnr(page.html, guardian.person["personnummer"])
    assert page.has("main-nav") and page.has("logout-form")


def test_page_titles_say_where_one_is(guardian: WebUser) -> None:
    titles = {path: guardian.page(path).title for path in PAGES}
    assert len(set(titles.values())) == len(titles), titles


@pytest.mark.parametrize("path", [*PAGES, "/inbox/some-id", "/bookings/some-id/cancel", "/my-data/export.json"])
def test_every_page_sends_an_anonymous_browser_to_login(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 303
    location = response.headers["location"]
    assert urlsplit(location).path == "/login" and query_of(location)["next"] == path


@pytest.mark.parametrize("path", PAGES)
def test_every_page_asks_the_app_to_renew_sso_without_a_session(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers={"User-Agent": APP_UA, "Cookie": f"{SESSION_COOKIE}=made-up"})
    assert response.status_code == 401
    page = Page(response)
    assert page.has("sso-required")
    assert query_of(page.one('[data-testid="sso-renew"]').attributes["href"])["next"] == path
    assert_page_markup(page)


def test_an_app_below_the_minimum_version_is_told_to_update(guardian: WebUser) -> None:
    old = WebUser(client=guardian.client, person=guardian.person, cookie=guardian.cookie,
                  user_agent="1177-appen/2.9.0 (android)")
    page = Page(old.get("/inbox"))
    assert page.status == 426
    assert page.one('[data-testid="error-page"]').attributes["data-problem"].endswith("app-update-required")


def test_start_page_counts_unread_and_shows_the_next_booking(new_client: Callable[..., Any],
                                                             web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("guardian")
    user = web_login(person)
    summary = app.get("/api/v1/start").json()
    start = user.page("/")
    assert int(start.one('[data-testid="unread-count"]').attributes["data-count"]) == summary["unread"] > 0
    children = {c.attributes["data-person-id"]: c for c in start.testid("start-child")}
    assert set(children) == {c["id"] for c in summary["children"]}, "only the child under 13 is listed"
    next_booking = start.one('[data-testid="next-booking"] time').attributes["datetime"]
    assert next_booking[:16] == summary["next_booking"]["starts_at"][:16]
    # Reading a message lowers the count by one.
    inbox = user.page("/inbox")
    unread = [m for m in inbox.testid("message-item") if m.attributes["data-read"] == "false"]
    user.page(f"/inbox/{unread[0].attributes['data-message-id']}")
    again = user.page("/")
    assert int(again.one('[data-testid="unread-count"]').attributes["data-count"]) == summary["unread"] - 1


def test_opening_a_message_marks_it_read_and_is_audited(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    inbox = user.page("/inbox")
    item = next(m for m in inbox.testid("message-item") if m.attributes["data-read"] == "false")
    message_id = item.attributes["data-message-id"]
    page = user.page(f"/inbox/{message_id}")
    assert page.one('[data-testid="message"]').attributes["data-message-id"] == message_id
    assert page.one('[data-testid="message-body"]').text(strip=True)
    after = user.page("/inbox").one(f'[data-message-id="{message_id}"]')
    assert after.attributes["data-read"] == "true"
    extract = user.page("/audit-extract")
    reads = [r for r in extract.testid("audit-row") if r.attributes["data-action"] == "message.read"]
    assert reads and reads[0].attributes["data-role"] == "self"
    assert reads[0].css_first('[data-testid="audit-care-unit"]').text(strip=True) != "–"


def test_print_and_download_are_hidden_in_the_app_and_shown_in_a_browser(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    message_id = user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    browser = user.page(f"/inbox/{message_id}")
    assert browser.has("print-button") and browser.has("download-button")
    assert user.page("/journal").has("print-button")
    assert user.page("/my-data").has("export-download")
    app = as_agent(user, "app")
    in_app = app.page(f"/inbox/{message_id}")
    assert not in_app.has("print-button") and not in_app.has("download-button")
    assert not app.page("/journal").has("print-button")
    my_data = app.page("/my-data")
    assert not my_data.has("export-download") and my_data.has("export-in-app")
    download = user.get(browser.one('[data-testid="download-button"]').attributes["href"])
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert browser.one('[data-testid="message-body"]').text(strip=True) in download.text


def test_another_persons_message_is_not_found(new_web_user: Callable[..., WebUser]) -> None:
    owner, other = new_web_user("adult"), new_web_user("adult")
    message_id = owner.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    for path in (f"/inbox/{message_id}", f"/inbox/{message_id}/download"):
        refused = other.get(path)
        assert refused.status_code == 404 and Page(refused).has("error-page")
    assert "Hej!" not in other.get(f"/inbox/{message_id}").text


def test_deleting_a_message_only_hides_it(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    message_id = user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    page = user.page(f"/inbox/{message_id}")
    response = user.submit(page, '[data-testid="delete-form"]')
    assert response.status_code == 303 and response.headers["location"] == "/inbox?status=removed"
    inbox = user.page("/inbox?status=removed")
    assert inbox.has("inbox-removed")
    assert not inbox.css(f'[data-message-id="{message_id}"]')
    export = user.get("/my-data/export.json").json()
    kept = [m for m in export["messages"] if m["id"] == message_id]
    assert kept and kept[0]["hidden"] is True, "the message is kept (PdL 3 kap. 17 §)"


def test_cancelling_a_booking_asks_first(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("adult")
    bookings = user.page("/bookings")
    booking = bookings.testid("booking-item")[0]
    booking_id = booking.attributes["data-booking-id"]
    confirm = user.page(booking.css_first('[data-testid="cancel-link"]').attributes["href"])
    assert confirm.one('[data-testid="cancel-booking"]').attributes["data-booking-id"] == booking_id
    assert user.page("/bookings").one(f'[data-booking-id="{booking_id}"]').attributes["data-status"] == "booked"
    done = user.submit(confirm, '[data-testid="cancel-form"]')
    assert done.status_code == 303 and done.headers["location"] == "/bookings?status=cancelled"
    after = user.page("/bookings?status=cancelled")
    assert after.has("booking-cancelled")
    assert after.one(f'[data-booking-id="{booking_id}"]').attributes["data-status"] == "cancelled"
    again = user.submit(confirm, '[data-testid="cancel-form"]')
    assert again.status_code == 409 and Page(again).has("error-page")


def test_another_persons_booking_cannot_be_cancelled(new_web_user: Callable[..., WebUser]) -> None:
    owner, other = new_web_user("adult"), new_web_user("adult")
    booking_id = owner.page("/bookings").testid("booking-item")[0].attributes["data-booking-id"]
    assert other.get(f"/bookings/{booking_id}/cancel").status_code == 404
    csrf = other.page("/").one('[data-testid="logout-form"] input[name="csrf_token"]').attributes["value"]
    assert other.post(f"/bookings/{booking_id}/cancel", {"csrf_token": csrf}).status_code == 404
    assert owner.page("/bookings").one(f'[data-booking-id="{booking_id}"]').attributes["data-status"] == "booked"


@pytest.mark.parametrize("form", ["settings", "consent", "acting-for", "erasure", "cancel", "delete", "logout"])
def test_every_form_refuses_a_missing_or_foreign_csrf_token(new_web_user: Callable[..., WebUser], form: str) -> None:
    user, stranger = new_web_user("guardian"), new_web_user("adult")
    message_id = user.page("/inbox").testid("message-item")[0].attributes["data-message-id"]
    booking_id = user.page("/bookings").testid("booking-item")[0].attributes["data-booking-id"]
    pages = {"settings": ("/settings", "settings-form"), "consent": ("/consents", "consent-form"),
             "acting-for": ("/acting-for", "acting-for-form"), "erasure": ("/my-data", "erasure-form"),
             "cancel": (f"/bookings/{booking_id}/cancel", "cancel-form"),
             "delete": (f"/inbox/{message_id}", "delete-form"), "logout": ("/", "logout-form")}
    path, testid = pages[form]
    page = user.page(path)
    action, fields = page.form(f'[data-testid="{testid}"]')
    if form == "erasure":
        fields["confirm"] = "on"
    foreign = stranger.page("/").one('[data-testid="logout-form"] input[name="csrf_token"]').attributes["value"]
    for token in (None, "", foreign):
        values = {k: v for k, v in fields.items() if k != "csrf_token"}
        if token is not None:
            values["csrf_token"] = token
        refused = user.post(action, values)
        assert refused.status_code == 403, (form, token, refused.status_code)
        assert Page(refused).one('[data-testid="error-page"]').attributes["data-problem"] == "urn:1177:problem:csrf"
    # Nothing happened: the booking stands, the message is there, the session lives.
    assert user.page("/bookings").one(f'[data-booking-id="{booking_id}"]').attributes["data-status"] == "booked"
    assert user.page("/inbox").css(f'[data-message-id="{message_id}"]')
    assert not user.page("/").has("acting-for-banner")
    # The real form, with its own token, goes through.
    assert user.submit(user.page(path), f'[data-testid="{testid}"]',
                       **({"confirm": "on"} if form == "erasure" else {})).status_code in (200, 303)


def test_acting_for_a_child_is_explicit_and_shown_on_every_page(new_web_user: Callable[..., WebUser]) -> None:
    user = new_web_user("guardian")
    own = {m.attributes["data-message-id"] for m in user.page("/inbox").testid("message-item")}
    switch = user.page("/acting-for")
    choices = switch.testid("acting-for-child")
    assert len(choices) == 1, "only the child under 13 is offered"
    child_id = choices[0].attributes["value"]
    response = user.submit(switch, '[data-testid="acting-for-form"]', subject=child_id)
    assert response.status_code == 303
    child_name = None
    # The pages an ombud may use, and the guardian's own pages, which refuse but still say for whom one acts.
    for path, status in (("/", 200), ("/inbox", 200), ("/bookings", 200), ("/settings", 200), ("/services", 403),
                         ("/video", 403), ("/devices", 403), ("/consents", 403)):
        page = user.page(path, status)
        banner = page.one('[data-testid="acting-for-banner"]')
        name = banner.css_first('[data-testid="acting-for-name"]').text(strip=True)
        child_name = child_name or name
        assert name == child_name, path
        assert not page.css('[data-testid="nav-journal"]'), "no journal link while acting as ombud"
    inbox = {m.attributes["data-message-id"] for m in user.page("/inbox").testid("message-item")}
    assert inbox and not inbox & own, "the inbox is the child's"
    for path, problem in (("/journal", "journal-not-for-ombud"), ("/audit-extract", "ombud-not-allowed"),
                          ("/my-data", "ombud-not-allowed"), ("/my-data/export.json", "ombud-not-allowed")):
        refused = user.get(path)
        assert refused.status_code == 403, path
        assert Page(refused).one('[data-testid="error-page"]').attributes["data-problem"].endswith(problem)
    back = user.submit(user.page("/acting-for"), '[data-testid="acting-for-form"]', subject="self")
    assert back.status_code == 303
    assert not user.page("/").has("acting-for-banner")
    assert user.page("/journal").has("journal-list")


def test_acting_for_a_teen_or_a_stranger_is_refused(new_web_user: Callable[..., WebUser],
                                                    new_person: Callable[[str], dict]) -> None:
    user = new_web_user("guardian")
    teen = next(c for c in user.person["children"] if c["role"] == "child-13-17")
    stranger = new_person("guardian")["children"][0]
    switch = user.page("/acting-for")
    for subject in (teen["id"], stranger["id"], user.person["id"] + "x"):
        refused = user.submit(switch, '[data-testid="acting-for-form"]', subject=subject)
        assert refused.status_code == 403
        assert Page(refused).one('[data-testid="error-page"]').attributes["data-problem"].endswith("not-ombud")
    assert not user.page("/").has("acting-for-banner")


def test_notification_settings_follow_the_rules(new_client: Callable[..., Any],
                                                web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    user = web_login(person)
    form = user.page("/settings")
    for name in ("push", "sms", "email"):
        box = form.one(f'[data-testid="setting-{name}"]')
        assert form.css(f'label[for="{box.attributes["id"]}"]'), name
    # Push without a device and consent, and SMS off without push: refused with the reason on the form.
    for fields in ({"push": "on", "sms": "on"}, {}):
        values = {"csrf_token": form.form('[data-testid="settings-form"]')[1]["csrf_token"], **fields}
        refused = Page(user.post("/settings", values))
        assert refused.status == 409 and refused.has("settings-error")
        assert refused.one('[data-testid="settings-error"]').attributes["role"] == "alert"
    saved = user.submit(form, '[data-testid="settings-form"]', email="on")
    assert saved.status_code == 303 and user.page("/settings?status=saved").has("settings-saved")
    assert app.get("/api/v1/notification-settings").json()["email"] is True
    # With a device (registered by the app) and consent (given here), SMS can be turned off for push.
    token = "ab" * 32
    device = app.put("/api/v1/devices/web-test-installation-1",
                     json={"platform": "ios", "token": token, "app_version": "3.2.0"})
    assert device.status_code == 201, device.text
    consents = user.page("/consents")
    assert user.submit(consents, '[data-testid="consent-form"]').status_code == 303
    form = user.page("/settings")
    values = {"csrf_token": form.form('[data-testid="settings-form"]')[1]["csrf_token"], "push": "on"}
    assert user.post("/settings", values).status_code == 303
    settings = app.get("/api/v1/notification-settings").json()
    assert (settings["push"], settings["sms"], settings["email"]) == (True, False, False)


def test_devices_and_consents_can_be_removed(new_client: Callable[..., Any],
                                            web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    assert app.put("/api/v1/devices/web-test-installation-2",
                   json={"platform": "ios", "token": "cd" * 32, "app_version": "3.2.0"}).status_code == 201
    user = web_login(person)
    devices = user.page("/devices")
    item = devices.one('[data-testid="device-item"]')
    assert item.attributes["data-installation-id"] == "web-test-installation-2"
    assert "cd" * 32 not in devices.html, "the push token is not shown"
    csrf = devices.one('[data-testid="device-item"] input[name="csrf_token"]').attributes["value"]
    removed = user.post("/devices/web-test-installation-2/delete", {"csrf_token": csrf})
    assert removed.status_code == 303
    assert user.page("/devices?status=removed").has("devices-empty")
    assert app.get("/api/v1/devices").json()["devices"] == []
    consents = user.page("/consents")
    version = consents.one('[data-testid="consent-text"]').attributes["data-version"]
    assert user.submit(consents, '[data-testid="consent-form"]').status_code == 303
    given = user.page("/consents?status=given")
    item = given.one('[data-testid="consent-item"]')
    assert item.attributes["data-active"] == "true" and version in item.text()
    assert not given.has("consent-form"), "no second consent while one is active"
    listed = app.get("/api/v1/consents").json()["consents"]
    assert listed[0]["text_version"] == version and listed[0]["granted_at"]
    withdraw = user.submit(given, '[data-testid="consent-item"] form')
    assert withdraw.status_code == 303
    after = user.page("/consents?status=withdrawn")
    assert after.one('[data-testid="consent-item"]').attributes["data-active"] == "false"
    assert after.has("consent-form")


def test_export_downloads_json_and_erasure_keeps_health_records(new_client: Callable[..., Any],
                                                                web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    assert app.put("/api/v1/devices/web-test-installation-3",
                   json={"platform": "ios", "token": "ef" * 32, "app_version": "3.2.0"}).status_code == 201
    user = web_login(person)
    export = user.get("/my-data/export.json")
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/json")
    assert "attachment" in export.headers["content-disposition"]
    data = export.json()
    assert data["person"]["id"] == person["id"] and len(data["messages"]) == 3 and len(data["devices"]) == 1
    page = user.page("/my-data")
    kept = page.one('[data-testid="erasure-kept-list"]').text()
    assert "patientdatalagen" in kept and "arkivlagen" in kept
    csrf = page.form('[data-testid="erasure-form"]')[1]["csrf_token"]
    unconfirmed = user.post("/my-data/erase", {"csrf_token": csrf})
    assert unconfirmed.status_code == 422 and Page(unconfirmed).has("erasure-error")
    assert app.get("/api/v1/devices").json()["devices"], "nothing erased without the confirmation"
    done = Page(user.submit(page, '[data-testid="erasure-form"]', confirm="on"))
    assert done.status == 200 and done.has("erasure-result")
    erased = {li.attributes["data-key"]: int(li.attributes["data-count"])
              for li in done.css('[data-testid="erasure-erased"] li')}
    assert erased["devices"] == 1 and erased["notification_settings"] == 1
    kept = {dt.attributes["data-key"]: int(dt.attributes["data-count"])
            for dt in done.css('[data-testid="erasure-kept"] dt')}
    assert kept["messages"] == 3 and kept["journal_entries"] == 2
    assert len(user.page("/inbox").testid("message-item")) == 3, "health records stay (GDPR art. 17.3)"
    assert app.get("/api/v1/devices").json()["devices"] == []


def _person_in_mode(new_client: Callable[..., Any], mode: str) -> tuple[httpx.Client, dict]:
    for _ in range(15):
        app, person = new_client("adult")
        if app.get("/api/v1/video-meetings").json()["mode"] == mode:
            return app, person
        app.close()
    pytest.fail(f"no seeded region with video mode {mode}")


def _sso_user(http: httpx.Client, app: httpx.Client, person: dict, user_agent: str) -> WebUser:
    ticket = app.post("/api/v1/sso/tickets", json={"audience": "1177-eservices"}).json()["ticket"]
    response = http.post("/sso", data={"ticket": ticket, "next": "/video"}, headers={"User-Agent": user_agent})
    assert response.status_code == 303
    return WebUser(client=http, person=person, cookie=set_cookies(response)[SESSION_COOKIE].value,
                   user_agent=user_agent)


@pytest.mark.parametrize("mode", ["inera", "regional-sso", "external"])
def test_video_meetings_follow_the_regions_video_mode(http: httpx.Client, new_client: Callable[..., Any],
                                                      mode: str) -> None:
    app, person = _person_in_mode(new_client, mode)
    api = app.get("/api/v1/video-meetings").json()
    for agent in AGENTS:
        user = _sso_user(http, app, person, AGENTS[agent])
        page = user.page("/video")
        assert page.one('[data-testid="video-mode"]').attributes["data-mode"] == mode
        joins = page.testid("video-join")
        assert len(joins) == len(api["meetings"]) >= 1
        href = joins[0].attributes["href"]
        if mode == "inera":
            assert href == f"/video/{api['meetings'][0]['id']}"
            assert user.page(href).has("video-room")
        elif mode == "regional-sso" and agent == "app":
            assert href.startswith("se.1177.appen://sso/open?")
            assert query_of(href)["audience"] == api["audience"] and query_of(href)["url"].startswith("https://")
        else:
            assert href == api["meetings"][0]["join_url"] and href.startswith("https://")
        if mode == "external":
            assert joins[0].attributes["target"] == "_blank"
            assert joins[0].attributes["data-open-in"] == "external-browser"


def test_services_page_lists_the_regions_catalogue(new_client: Callable[..., Any],
                                                   web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    catalogue = app.get("/api/v1/services").json()
    user = web_login(person)
    page = user.page("/services")
    listed = [n.attributes["data-service-id"] for n in page.testid("service-item")]
    assert listed == [s["id"] for s in catalogue["services"]]
    assert catalogue["region"]["name"] in page.h1
    app_page = as_agent(user, "app").page("/services")
    regional = app_page.one('[data-service-id="regional-services"] [data-testid="service-link"]')
    assert regional.attributes["href"].startswith("se.1177.appen://sso/open?")


def test_a_staff_message_lands_in_the_web_inbox_as_text(http: httpx.Client, new_client: Callable[..., Any],
                                                        web_login: Callable[..., WebUser]) -> None:
    app, person = new_client("adult")
    unit = app.get("/api/v1/inbox/messages").json()["messages"][0]["care_unit"]["id"]
    hsa_id = http.get("/_sut/staff", params={"care_unit": unit}).json()[0]["hsa_id"]
    code = http.post("/idp/api/staff-login", json={"hsa_id": hsa_id}).json()["code"]
    token = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()["access_token"]
    subject = 'Svar på provet <script src="/static/app.js"></script>'
    sent = http.post("/staff/v1/messages", headers={"Authorization": f"Bearer {token}"},
                     json={"patient_id": person["id"], "subject": subject, "body": "<b>Hej</b> Åsa & Örjan"})
    assert sent.status_code == 201, sent.text
    user = web_login(person)
    message_id = sent.json()["id"]
    assert user.page("/inbox").one(f'[data-message-id="{message_id}"]').attributes["data-read"] == "false"
    page = user.page(f"/inbox/{message_id}")
    assert page.h1 == subject, "shown as the text it is"
    assert page.one('[data-testid="message-body"]').text() == "<b>Hej</b> Åsa & Örjan"
    assert len(page.css("script")) == 1 and not page.css("main b"), "no markup from a message is rendered"
