"""Token lifecycle and retries of the push fan-out (BR-NOTIF-4), driven through the fake gateways' fault knobs:
410/UNREGISTERED prunes at once, 429 waits out retry-after, 5xx and timeouts back off with jitter, a retry or a
restarted worker sends the same idempotency key, the HTTP/2 stream limit holds, the APNs provider token renews.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from sut.push.inspector import GatewayInspector, PushControl, poll

STAFF = "/staff/v1"


@pytest.fixture
def devices(new_person: Callable[[str], dict[str, Any]], push: PushControl) -> Callable[..., list[dict[str, Any]]]:
    """Push-only devices (SMS off) of a fresh adult; each dict also carries the owner's id."""

    def make(count: int = 1, platform: str = "ios") -> list[dict[str, Any]]:
        person = new_person("adult")
        return [{**d, "person_id": person["id"]}
                for d in push.add_devices(person["id"], count=count, platform=platform, sms=False)]

    return make


def gaps(device: dict[str, Any]) -> list[float]:
    times = [d["received_mono"] for d in device["deliveries"]]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.req("BR-NOTIF-4")
def test_unregistered_token_is_deactivated_at_once_and_never_sent_to_again(
        devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector, push: PushControl,
        send: Callable[..., str]) -> None:
    ios, android, canary = devices(3, "mixed")  # ios, android, ios
    with gateways.knobs_set("apns", unregistered={"tokens": [ios["token"]]}), \
            gateways.knobs_set("fcm", unregistered={"tokens": [android["token"]]}):
        first = send(ios["person_id"])
        rows = {r["device_id"]: r for r in push.settled(expected=3, message_id=first)}
    assert rows[ios["id"]]["state"] == rows[android["id"]]["state"] == "pruned"
    assert rows[ios["id"]]["reason"] == "apns 410 Unregistered"
    assert rows[android["id"]]["reason"] == "fcm 404 UNREGISTERED"
    assert rows[canary["id"]]["state"] in {"sent", "delivered"}
    for device in (ios, android):
        stored = push.device(device["id"])
        assert stored["active"] is False and stored["deactivated_reason"] == "unregistered"
    assert gateways.device("apns", ios["token"])["deliveries"][0]["status"] == 410
    assert gateways.device("fcm", android["token"])["deliveries"][0]["reason"] == "UNREGISTERED"
    # The knobs are off again: the gateways would now accept these tokens, but nothing is sent to them.
    second = send(ios["person_id"])
    assert [r["device_id"] for r in push.settled(expected=1, message_id=second)] == [canary["id"]]
    gateways.wait_device("apns", canary["token"], requests=2)
    assert gateways.device("apns", ios["token"])["requests"] == 1
    assert gateways.device("fcm", android["token"])["requests"] == 1


@pytest.mark.req("BR-NOTIF-4")
def test_429_waits_out_retry_after(devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector,
                                   push: PushControl, send: Callable[..., str]) -> None:
    ios, android = devices(2, "mixed")
    with gateways.knobs_set("apns", throttle={"count": 1, "retry_after": 1, "tokens": [ios["token"]]}), \
            gateways.knobs_set("fcm", throttle={"count": 1, "retry_after": 1, "tokens": [android["token"]]}):
        message = send(ios["person_id"])
        received = {gw: gateways.wait_device(gw, d["token"], requests=2, timeout=15)
                    for gw, d in (("apns", ios), ("fcm", android))}
    for gw, device in received.items():
        assert [d["status"] for d in device["deliveries"]] == [429, 200], gw
        assert device["deliveries"][0]["reason"] == ("TooManyRequests" if gw == "apns" else "QUOTA_EXCEEDED")
        assert gaps(device)[0] >= 1.0, f"{gw}: retried {gaps(device)[0]:.3f} s after a 429 with retry-after: 1"
        assert device["deliveries"][0]["key"] == device["deliveries"][1]["key"]
    assert [r["attempts"] for r in push.settled(expected=2, message_id=message)] == [2, 2]


@pytest.mark.req("BR-NOTIF-4")
def test_5xx_is_retried_with_capped_exponential_backoff_full_jitter_and_one_key(
        devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector, push: PushControl,
        send: Callable[..., str]) -> None:
    (ios,) = devices(1, "ios")
    androids = devices(6, "android")
    with push.config_set(backoff_base=0.1, backoff_cap=0.15), \
            gateways.knobs_set("apns", errors={"count": 4, "status": 503, "tokens": [ios["token"]]}), \
            gateways.knobs_set("fcm", errors={"count": 6, "status": 500, "tokens": [d["token"] for d in androids]}):
        send(ios["person_id"])
        send(androids[0]["person_id"])
        apns = gateways.wait_device("apns", ios["token"], requests=5, timeout=15)
        fcm = [gateways.wait_device("fcm", d["token"], requests=2, timeout=15) for d in androids]
    assert [d["status"] for d in apns["deliveries"]] == [503, 503, 503, 503, 200]
    assert [d["reason"] for d in apns["deliveries"][:4]] == ["ServiceUnavailable"] * 4
    assert len({d["key"] for d in apns["deliveries"]}) == 1  # every attempt carries the same idempotency key
    assert (apns["delivered"], apns["duplicates"]) == (1, 0)
    # Backoff: retry n waits at most min(cap, base * 2^(n-1)), plus the time to get the answer through; uncapped,
    # the fourth could wait 0.8 s.
    for n, gap in enumerate(gaps(apns), start=1):
        assert gap <= min(0.15, 0.1 * 2 ** (n - 1)) + 0.4, f"retry {n} came after {gap:.3f} s"
    assert all(len(d["deliveries"]) == 2 and d["deliveries"][0]["reason"] == "INTERNAL" for d in fcm)
    first_retries = [gaps(d)[0] for d in fcm]
    assert max(first_retries) - min(first_retries) > 0.01, f"no jitter: {first_retries}"
    row = poll(lambda: push.deliveries(device_id=ios["id"])[0], lambda r: r["attempts"] == 5,
               what="five attempts recorded")
    assert row["state"] in {"sent", "delivered"}


@pytest.mark.req("BR-NOTIF-4")
def test_timeout_is_retried_with_the_same_key_so_the_device_shows_it_once(
        devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector, push: PushControl,
        send: Callable[..., str]) -> None:
    (ios,) = devices(1, "ios")
    with push.config_set(send_timeout=0.5, backoff_base=0.1), \
            gateways.knobs_set("apns", stall={"seconds": 1.5, "count": 1, "tokens": [ios["token"]]}):
        send(ios["person_id"])
        device = gateways.wait_device("apns", ios["token"], requests=2, timeout=15)
    assert [d["outcome"] for d in device["deliveries"]] == ["delivered", "replay"]
    assert device["deliveries"][0]["key"] == device["deliveries"][1]["key"]
    # The gateway knows the fan-out gave up on the held answer (it reset the stream): what that answer said never
    # reached the sender (the load layer's retry-after check leaves such answers out).
    assert [d["abandoned"] for d in device["deliveries"]] == [True, False]
    assert device["duplicates"] == 0
    row = poll(lambda: push.deliveries(device_id=ios["id"])[0], lambda r: r["attempts"] == 2,
               what="the second attempt recorded")
    assert row["state"] in {"sent", "delivered"}


@pytest.mark.req("BR-NOTIF-2", "BR-NOTIF-4")
def test_a_restarted_worker_resends_in_flight_deliveries_with_the_same_keys(
        devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector, push: PushControl,
        send: Callable[..., str]) -> None:
    phones = devices(3, "ios")
    tokens = [d["token"] for d in phones]
    # No delivery reports here: a report would rightly mark the deliveries done before the crash.
    with gateways.knobs_set("apns", stall={"seconds": 3, "count": 3, "tokens": tokens}, receipts=False):
        message = send(phones[0]["person_id"])
        for token in tokens:  # received, answer held back: in flight
            gateways.wait_device("apns", token)
        restart = push.restart_worker()
        assert restart["lost"]["in_flight"] >= 3
        received = [gateways.wait_device("apns", token, requests=2, timeout=15) for token in tokens]
    for device in received:
        assert [d["outcome"] for d in device["deliveries"]] == ["delivered", "replay"]
        assert device["duplicates"] == 0
    rows = push.settled(expected=3, message_id=message)
    assert {r["state"] for r in rows} <= {"sent", "delivered"}
    assert {r["key"] for r in rows} == {d["deliveries"][0]["key"] for d in received}


@pytest.mark.req("BR-NOTIF-4")
def test_the_advertised_stream_limit_is_kept(devices: Callable[..., list[dict[str, Any]]],
                                            gateways: GatewayInspector, push: PushControl,
                                            send: Callable[..., str]) -> None:
    phones = devices(12, "ios")
    with gateways.knobs_set("apns", max_streams=2, latency_ms=150):
        poll(lambda: gateways.connections("apns"), lambda c: c["max_streams"] == 2, what="limit set")
        message = send(phones[0]["person_id"])
        rows = push.settled(expected=12, message_id=message, timeout=20)
        connections = [c for c in gateways.connections("apns")["connections"] if not c["closed"]]
    assert {r["state"] for r in rows} <= {"sent", "delivered"}, [r["reason"] for r in rows]
    assert {r["attempts"] for r in rows} == {1}
    assert connections and max(c["peak_streams"] for c in connections) == 2  # used, and never more
    assert sum(c["violations"] for c in connections) == 0


@pytest.mark.req("BR-NOTIF-4")
def test_apns_provider_token_is_renewed_after_40_minutes_only(
        http: httpx.Client, devices: Callable[..., list[dict[str, Any]]], gateways: GatewayInspector,
        send: Callable[..., str], _staff_tokens: dict[str, str]) -> None:
    (ios,) = devices(1, "ios")
    send(ios["person_id"])
    gateways.wait_device("apns", ios["token"])
    minted = len(gateways.provider_tokens())
    send(ios["person_id"])
    gateways.wait_device("apns", ios["token"], requests=2)
    assert len(gateways.provider_tokens()) == minted  # reused, not re-minted per request
    # Past the renewal age of the token in use, however far earlier tests moved the clock while it was minted.
    now = datetime.fromisoformat(http.post("/_sut/clock/advance", json={"seconds": 0}).json()["now"]).timestamp()
    newest = max(t["iat"] for t in gateways.provider_tokens())
    try:
        advance = max(now, newest) + 41 * 60 - now
        assert http.post("/_sut/clock/advance", json={"seconds": advance}).status_code == 200
        send(ios["person_id"], fresh_login=True)  # the staff session, too, has timed out meanwhile
        device = gateways.wait_device("apns", ios["token"], requests=3)
    finally:
        assert http.post("/_sut/reset").status_code == 200
        _staff_tokens.clear()
    tokens = gateways.provider_tokens()
    assert len(tokens) == minted + 1
    assert tokens[-1]["iat"] - tokens[-2]["iat"] >= 40 * 60
    assert [d["status"] for d in device["deliveries"]] == [200, 200, 200]


def test_delivery_reports_must_be_signed_by_the_gateways(http: httpx.Client) -> None:
    body = {"reports": [{"gateway": "apns", "key": "00000000-0000-4000-8000-000000000000", "at": 0}]}
    assert http.post("/push/v1/delivery-reports", json=body).status_code == 401
    forged = http.post("/push/v1/delivery-reports", json=body,
                       headers={"x-gateway-timestamp": "1", "x-gateway-signature": "0" * 64})
    assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"


@pytest.mark.req("BR-NOTIF-4")
def test_failures_are_recorded_with_their_reason(new_person: Callable[[str], dict[str, Any]],
                                                 gateways: GatewayInspector, push: PushControl,
                                                 send: Callable[..., str]) -> None:
    person = new_person("adult")
    bad, flaky = push.add_devices(person["id"], count=2, platform="ios", sms=False,
                                  tokens=["not-a-device-token", "cd" * 32])
    with push.config_set(max_attempts=3, backoff_base=0.05), \
            gateways.knobs_set("apns", errors={"count": 3, "status": 500, "tokens": [flaky["token"]]}):
        message = send(person["id"])
        rows = {r["device_id"]: r for r in push.settled(expected=2, message_id=message)}
    assert gateways.device("apns", "not-a-device-token")["deliveries"][0]["reason"] == "BadDeviceToken"
    assert (rows[bad["id"]]["state"], rows[bad["id"]]["reason"]) == ("failed", "apns 400 BadDeviceToken")
    assert push.device(bad["id"])["deactivated_reason"] == "invalid-token"
    gave_up = rows[flaky["id"]]
    assert gave_up["state"] == "failed" and gave_up["attempts"] == 3
    assert gave_up["reason"] == "gave up after 3 attempts: apns 500 InternalServerError"
    assert [d["status"] for d in gateways.device("apns", flaky["token"])["deliveries"]] == [500, 500, 500]
