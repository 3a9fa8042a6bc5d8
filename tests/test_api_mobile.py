"""The mobile API's business rules over real HTTP: profile, regions, inbox, ombud, bookings, journal,
notification settings, devices, consents, video and SSO tickets (BR-REG-*, BR-INBOX-1, BR-NOTIF-1, BR-PROXY-1)."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import problem

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


def apns_token() -> str:
    return secrets.token_hex(32)


def fcm_token() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(secrets.choice(alphabet) for _ in range(22)) + ":APA91b" + "".join(
        secrets.choice(alphabet) for _ in range(134))


def child(person: dict[str, Any], role: str) -> dict[str, Any]:
    return next(c for c in person["children"] if c["role"] == role)


def messages(client: httpx.Client, acting_for: str | None = None) -> list[dict[str, Any]]:
    headers = {"X-Acting-For": acting_for} if acting_for else {}
    response = client.get(f"{API}/inbox/messages", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


# --- profile and region (BR-ID-1, BR-REG-1..3) --------------------------------------------------------------------

def test_profile_has_no_personnummer_and_only_children_under_13(new_client: NewClient) -> None:
    client, person = new_client("guardian")
    response = client.get(f"{API}/me")
    assert response.status_code == 200
    assert person["personnummer"] not in response.text
    assert person["personnummer"][2:] not in response.text
    profile = response.json()
    assert profile["id"] == person["id"] and profile["region"]["code"] == person["region"]
    assert profile["address"]  # an ordinary person's own address is shown to them
    assert [c["id"] for c in profile["acting_for"]] == [child(person, "child-under-13")["id"]]
    listed = client.get(f"{API}/acting-for").json()["persons"]
    assert [p["id"] for p in listed] == [child(person, "child-under-13")["id"]]


def test_protected_identity_logs_in_but_address_never_leaves(new_client: NewClient) -> None:
    client, _ = new_client("protected-identity")
    profile = client.get(f"{API}/me").json()
    assert profile["protected_identity"] is True and profile["address"] is None
    assert "Testgatan" not in client.get(f"{API}/export").text


def test_joined_region_gets_its_catalogue(new_client: NewClient) -> None:
    client, person = new_client("adult")
    catalogue = client.get(f"{API}/services").json()
    assert catalogue["region_joined"] is True and catalogue["redirect"] is None
    kinds = {s["kind"] for s in catalogue["services"]}
    assert kinds == {"native", "webview", "external-link", "video"}
    native = {s["component"] for s in catalogue["services"] if s["kind"] == "native"}
    assert native == {"start", "inbox", "bookings", "settings"}
    for webview in (s for s in catalogue["services"] if s["kind"] == "webview"):
        assert webview["sso"] is True and webview["audience"]
    assert any(s["audience"] == f"regional:{person['region']}:services" for s in catalogue["services"]
               if s["kind"] == "webview")
    video = next(s for s in catalogue["services"] if s["kind"] == "video")
    mode = catalogue["region"]["video_mode"]
    expected = {"inera": ("embedded", False), "regional-sso": ("webview", True),
                "external": ("external-browser", False)}[mode]
    assert (video["presentation"], video["sso"]) == expected


def test_region_not_joined_is_sent_to_1177_and_gets_no_e_service(new_client: NewClient) -> None:
    client, _ = new_client("adult-not-joined")
    catalogue = client.get(f"{API}/services").json()
    assert catalogue["region_joined"] is False and catalogue["services"] == []
    assert catalogue["redirect"] == {"url": "https://www.1177.se/", "target": "external-browser"}
    for method, path in (("GET", "/inbox/messages"), ("GET", "/bookings"), ("GET", "/journal"), ("GET", "/start"),
                         ("GET", "/notification-settings"), ("GET", "/video-meetings")):
        problem(client.request(method, f"{API}{path}"), 403, "urn:1177:problem:region-not-joined")
    problem(client.post(f"{API}/sso/tickets", json={"audience": "1177-eservices"}), 403,
            "urn:1177:problem:region-not-joined")


@pytest.mark.parametrize(("user_agent", "status"), [
    ("1177-appen/2.9.9 (ios)", 426), ("1177-appen/2 (android)", 426), ("1177-appen/3.0.0 (android)", 200),
    ("1177-appen/10.1 (ios)", 200), ("Mozilla/5.0 (X11; Linux x86_64)", 200)])
def test_minimum_app_version(new_client: NewClient, user_agent: str, status: int) -> None:
    client, _ = new_client("adult")
    response = client.get(f"{API}/me", headers={"User-Agent": user_agent})
    if status == 426:
        body = problem(response, 426, "urn:1177:problem:app-update-required")
        assert body["minimum_version"] == "3.0.0"
    else:
        assert response.status_code == 200, response.text


# --- inbox (BR-INBOX-1) -------------------------------------------------------------------------------------------

def test_inbox_list_open_mark_read_and_hide(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    inbox = messages(client)
    assert len(inbox) == 3
    assert [m["created_at"] for m in inbox] == sorted((m["created_at"] for m in inbox), reverse=True)
    unread = [m for m in inbox if not m["read"]]
    assert client.get(f"{API}/start").json()["unread"] == len(unread) == 2

    opened = client.get(f"{API}/inbox/messages/{unread[0]['id']}").json()
    assert opened["body"] and opened["subject"] == unread[0]["subject"] and opened["read"] is False
    assert client.post(f"{API}/inbox/messages/{unread[0]['id']}/read").status_code == 204
    assert client.get(f"{API}/start").json()["unread"] == 1
    assert client.get(f"{API}/inbox/messages/{unread[0]['id']}").json()["read"] is True

    assert client.delete(f"{API}/inbox/messages/{unread[1]['id']}").status_code == 204
    assert unread[1]["id"] not in [m["id"] for m in messages(client)]
    problem(client.get(f"{API}/inbox/messages/{unread[1]['id']}"), 404)
    assert client.get(f"{API}/start").json()["unread"] == 0


def test_another_persons_message_is_not_found(new_client: NewClient) -> None:
    alice, _ = new_client("adult")
    bob, _ = new_client("adult")
    theirs = messages(bob)[0]["id"]
    problem(alice.get(f"{API}/inbox/messages/{theirs}"), 404)
    problem(alice.post(f"{API}/inbox/messages/{theirs}/read"), 404)
    problem(alice.delete(f"{API}/inbox/messages/{theirs}"), 404)
    assert theirs in [m["id"] for m in messages(bob)]
    problem(alice.get(f"{API}/inbox/messages/{uuid.uuid4()}"), 404)


# --- ombud (BR-PROXY-1) -------------------------------------------------------------------------------------------

def test_guardian_acts_for_child_under_13_explicitly(new_client: NewClient) -> None:
    client, person = new_client("guardian")
    young = child(person, "child-under-13")["id"]
    own = {m["id"] for m in messages(client)}
    theirs = {m["id"] for m in messages(client, young)}
    assert len(theirs) == 3 and not own & theirs
    message_id = next(iter(theirs))
    headers = {"X-Acting-For": young}
    assert client.get(f"{API}/inbox/messages/{message_id}", headers=headers).status_code == 200
    problem(client.get(f"{API}/inbox/messages/{message_id}"), 404)  # without acting-for it is not one's own
    assert len(client.get(f"{API}/bookings", headers=headers).json()["bookings"]) == 2
    settings = client.get(f"{API}/notification-settings", headers=headers).json()
    assert settings["subject_id"] == young and settings["role"] == "ombud"
    start = client.get(f"{API}/start").json()
    assert [(c["id"], c["unread"]) for c in start["children"]] == [(young, 2)]


@pytest.mark.parametrize("whom", ["teen", "stranger", "unknown"])
def test_no_ombud_for_teen_or_anyone_else(new_client: NewClient, new_person: Callable[[str], dict[str, Any]],
                                         whom: str) -> None:
    client, person = new_client("guardian")
    target = {"teen": lambda: child(person, "child-13-17")["id"], "stranger": lambda: new_person("adult")["id"],
              "unknown": lambda: str(uuid.uuid4())}[whom]()
    for path in ("/inbox/messages", "/bookings", "/notification-settings", "/journal"):
        problem(client.get(f"{API}{path}", headers={"X-Acting-For": target}), 403, "urn:1177:problem:not-ombud")


def test_journal_is_never_available_as_ombud(new_client: NewClient) -> None:
    client, person = new_client("guardian")
    assert len(client.get(f"{API}/journal").json()["entries"]) == 2
    young = child(person, "child-under-13")["id"]
    problem(client.get(f"{API}/journal", headers={"X-Acting-For": young}), 403,
            "urn:1177:problem:journal-not-for-ombud")
    problem(client.get(f"{API}/audit-extract", headers={"X-Acting-For": young}), 403)


# --- bookings -----------------------------------------------------------------------------------------------------

def test_cancel_a_booking_once(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    bookings = client.get(f"{API}/bookings").json()["bookings"]
    assert len(bookings) == 2 and all(b["status"] == "booked" for b in bookings)
    target = bookings[0]["id"]
    cancelled = client.post(f"{API}/bookings/{target}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    problem(client.post(f"{API}/bookings/{target}/cancel"), 409, "urn:1177:problem:booking-not-cancellable")
    statuses = {b["id"]: b["status"] for b in client.get(f"{API}/bookings").json()["bookings"]}
    assert statuses == {target: "cancelled", bookings[1]["id"]: "booked"}
    other, _ = new_client("adult")
    problem(other.post(f"{API}/bookings/{bookings[1]['id']}/cancel"), 404)


def test_video_meetings_follow_the_region(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    region = client.get(f"{API}/me").json()["region"]
    video = client.get(f"{API}/video-meetings").json()
    assert video["mode"] == region["video_mode"]
    assert [m["kind"] for m in video["meetings"]] == ["video"]
    assert video["meetings"][0]["join_url"]
    assert (video["audience"] is not None) == (region["video_mode"] == "regional-sso") == video["sso"]


# --- notification settings, devices, consents (BR-NOTIF-1, BR-NOTIF-4) --------------------------------------------

def test_push_needs_device_and_consent_and_sms_goes_off_only_with_push(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    url = f"{API}/notification-settings"
    start = client.get(url).json()
    assert (start["push"], start["sms"], start["push_available"]) == (False, True, False)
    body = problem(client.put(url, json={"push": True, "sms": True, "email": False}), 409,
                   "urn:1177:problem:push-unavailable")
    assert body["missing"] == "device"
    problem(client.put(url, json={"push": False, "sms": False, "email": True}), 409, "urn:1177:problem:sms-required")

    device = client.put(f"{API}/devices/{uuid.uuid4()}", json={"platform": "ios", "token": apns_token(),
                                                                "app_version": "3.2.0"})
    assert device.status_code == 201
    body = problem(client.put(url, json={"push": True, "sms": True, "email": False}), 409)
    assert body["missing"] == "consent"
    consent = client.post(f"{API}/consents", json={"purpose": "push", "text_version": "1.0"})
    assert consent.status_code == 201

    on = client.put(url, json={"push": True, "sms": False, "email": False})
    assert on.status_code == 200, on.text
    assert (on.json()["push"], on.json()["sms"]) == (True, False)
    assert client.get(url).json()["push_available"] is True

    # Withdrawing consent makes push impossible: SMS comes back on so no message goes unnoticed.
    assert client.delete(f"{API}/consents/{consent.json()['id']}").status_code == 204
    after = client.get(url).json()
    assert (after["push"], after["sms"], after["has_push_consent"]) == (False, True, False)


def test_guardian_settings_for_a_child_are_separate(new_client: NewClient) -> None:
    client, person = new_client("guardian")
    young = child(person, "child-under-13")["id"]
    headers = {"X-Acting-For": young}
    changed = client.put(f"{API}/notification-settings", headers=headers,
                         json={"push": False, "sms": True, "email": True})
    assert changed.status_code == 200 and changed.json()["subject_id"] == young
    assert client.get(f"{API}/notification-settings", headers=headers).json()["email"] is True
    assert client.get(f"{API}/notification-settings").json()["email"] is False


@pytest.mark.parametrize(("platform", "token"), [
    ("ios", "a" * 63), ("ios", "g" * 64), ("ios", "a" * 65), ("android", "a" * 64), ("android", "abc:APA91b"),
    ("ios", "FCM"), ("windows", "a" * 64)])
def test_device_token_formats_are_validated(new_client: NewClient, platform: str, token: str) -> None:
    client, _ = new_client("adult")
    response = client.put(f"{API}/devices/{uuid.uuid4()}",
                          json={"platform": platform, "token": token, "app_version": "3.2.0"})
    problem(response, 422)
    assert client.get(f"{API}/devices").json()["devices"] == []


def test_reregistering_an_installation_replaces_its_token(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    installation = str(uuid.uuid4())
    first, second = fcm_token(), fcm_token()
    url = f"{API}/devices/{installation}"
    assert client.put(url, json={"platform": "android", "token": first, "app_version": "3.1.0"}).status_code == 201
    again = client.put(url, json={"platform": "android", "token": second, "app_version": "3.2.0"})
    assert again.status_code == 200
    devices = client.get(f"{API}/devices").json()["devices"]
    assert [(d["installation_id"], d["token_suffix"], d["app_version"]) for d in devices] == [
        (installation, second[-6:], "3.2.0")]
    assert first not in client.get(f"{API}/devices").text and second not in client.get(f"{API}/export").text
    assert client.delete(url).status_code == 204
    assert client.get(f"{API}/devices").json()["devices"] == []
    problem(client.delete(url), 404)


def test_a_token_moves_to_its_new_installation(new_client: NewClient) -> None:
    old_owner, _ = new_client("adult")
    new_owner, _ = new_client("adult")
    token = apns_token()
    body = {"platform": "ios", "token": token, "app_version": "3.2.0"}
    assert old_owner.put(f"{API}/devices/{uuid.uuid4()}", json=body).status_code == 201
    assert new_owner.put(f"{API}/devices/{uuid.uuid4()}", json=body).status_code == 201
    assert old_owner.get(f"{API}/devices").json()["devices"] == []
    assert len(new_owner.get(f"{API}/devices").json()["devices"]) == 1


def test_consents_keep_time_and_text_version(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    first = client.post(f"{API}/consents", json={"purpose": "push", "text_version": "1.0"}).json()
    second = client.post(f"{API}/consents", json={"purpose": "push", "text_version": "1.1"}).json()
    consents = {c["id"]: c for c in client.get(f"{API}/consents").json()["consents"]}
    assert consents[first["id"]]["withdrawn_at"] is not None  # superseded by the newer text
    assert consents[second["id"]]["active"] is True and consents[second["id"]]["text_version"] == "1.1"
    assert consents[second["id"]]["granted_at"] >= consents[first["id"]]["granted_at"]
    assert client.delete(f"{API}/consents/{second['id']}").status_code == 204
    problem(client.delete(f"{API}/consents/{second['id']}"), 409)
    other, _ = new_client("adult")
    problem(other.delete(f"{API}/consents/{first['id']}"), 404)


# --- SSO tickets (BR-ID-3) ----------------------------------------------------------------------------------------

def test_sso_tickets_only_for_audiences_the_region_offers(new_client: NewClient) -> None:
    client, person = new_client("adult")
    web = client.post(f"{API}/sso/tickets", json={"audience": "1177-eservices"})
    assert web.status_code == 201
    assert web.json()["consume_url"].endswith("/sso") and web.json()["expires_in"] <= 120
    regional = client.post(f"{API}/sso/tickets", json={"audience": f"regional:{person['region']}:services"})
    assert regional.status_code == 201
    other_region = "01" if person["region"] != "01" else "03"
    problem(client.post(f"{API}/sso/tickets", json={"audience": f"regional:{other_region}:services"}), 403,
            "urn:1177:problem:sso-audience")
    video = client.post(f"{API}/sso/tickets", json={"audience": f"regional:{person['region']}:video"})
    mode = client.get(f"{API}/me").json()["region"]["video_mode"]
    assert video.status_code == (201 if mode == "regional-sso" else 403), video.text
    problem(client.post(f"{API}/sso/tickets", json={"audience": "https://evil.example"}), 422)
