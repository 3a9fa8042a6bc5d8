"""Each push fault of the catalogue, switched on at run time, shows in what the fake gateways receive; switched
off, the clean behaviour returns. Faults are global to the running system, so these tests run in one group."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from support import FaultSwitch

from sut.push.inspector import GatewayInspector, PushControl

STAFF = "/staff/v1"

pytestmark = pytest.mark.xdist_group("faults")


@pytest.fixture
def phone_of(new_person: Callable[[str], dict[str, Any]], push: PushControl) -> Callable[[str], dict[str, Any]]:
    """A fresh adult with one device of the platform, push on and SMS off."""

    def make(platform: str = "ios") -> dict[str, Any]:
        person = new_person("adult")
        return {**push.add_devices(person["id"], platform=platform, sms=False)[0], "person": person}

    return make


def outcomes(device: dict[str, Any]) -> list[str]:
    return [d["outcome"] for d in device["deliveries"]]


def first_gap(device: dict[str, Any]) -> float:
    times = [d["received_mono"] for d in device["deliveries"]]
    return next(b - a for a, b in itertools.pairwise(times))


@pytest.mark.req("BR-NOTIF-4")
def test_push_duplicate_on_retry(phone_of: Callable[..., dict[str, Any]], gateways: GatewayInspector,
                                 push: PushControl, send: Callable[..., str], faults: FaultSwitch) -> None:
    def timed_out_once() -> dict[str, Any]:
        phone = phone_of("ios")
        with gateways.knobs_set("apns", stall={"seconds": 1.2, "count": 1, "tokens": [phone["token"]]}):
            send(phone["person"]["id"])
            return gateways.wait_device("apns", phone["token"], requests=2, timeout=15)

    with push.config_set(send_timeout=0.4, backoff_base=0.05):
        assert outcomes(timed_out_once()) == ["delivered", "replay"]
        faults.on("push-duplicate-on-retry")
        faulty = timed_out_once()
        assert outcomes(faulty) == ["delivered", "duplicate"]  # the defect: the device shows it twice
        assert faulty["duplicates"] == 1 and len({d["key"] for d in faulty["deliveries"]}) == 2
        faults.off()
        assert outcomes(timed_out_once()) == ["delivered", "replay"]


@pytest.mark.req("BR-NOTIF-4")
def test_push_to_pruned_token(phone_of: Callable[..., dict[str, Any]], gateways: GatewayInspector,
                              push: PushControl, send: Callable[..., str], faults: FaultSwitch) -> None:
    phone = phone_of("android")
    canary = push.add_devices(phone["person"]["id"], platform="ios")[0]
    with gateways.knobs_set("fcm", unregistered={"tokens": [phone["token"]]}):
        send(phone["person"]["id"])
        gateways.wait_device("fcm", phone["token"])
    assert push.settled(expected=1, device_id=phone["id"])[0]["state"] == "pruned"
    send(phone["person"]["id"])
    gateways.wait_device("apns", canary["token"], requests=2)
    assert gateways.device("fcm", phone["token"])["requests"] == 1
    faults.on("push-to-pruned-token")
    send(phone["person"]["id"])
    device = gateways.wait_device("fcm", phone["token"], requests=2)  # the defect: a gone token gets another
    assert device["deliveries"][1]["status"] == 200
    faults.off()
    send(phone["person"]["id"])
    gateways.wait_device("apns", canary["token"], requests=4)
    assert gateways.device("fcm", phone["token"])["requests"] == 2


@pytest.mark.req("BR-NOTIF-3", "GDPR-5-1-c", "OSL-25-1")
def test_push_subject_in_payload(phone_of: Callable[..., dict[str, Any]], gateways: GatewayInspector,
                                 send: Callable[..., str], faults: FaultSwitch) -> None:
    phone = phone_of("ios")
    android = phone_of("android")

    def payloads(subject: str, count: int) -> list[str]:
        send(phone["person"]["id"], subject)
        send(android["person"]["id"], subject)
        return [json.dumps(d["payload"], ensure_ascii=False) for gw, p in (("apns", phone), ("fcm", android))
                for d in gateways.wait_device(gw, p["token"], requests=count)["deliveries"][count - 1:]]

    clean = f"Provsvar hiv {secrets.token_hex(3)}"
    assert not any(clean in raw for raw in payloads(clean, 1))
    faults.on("push-subject-in-payload")
    leaked = f"Provsvar hiv {secrets.token_hex(3)}"
    assert all(leaked in raw for raw in payloads(leaked, 2))  # the defect: health data on the lock screen
    faults.off()
    clean_again = f"Provsvar hiv {secrets.token_hex(3)}"
    assert not any(clean_again in raw for raw in payloads(clean_again, 3))


@pytest.mark.req("BR-NOTIF-4")
def test_push_retry_after_ignored(phone_of: Callable[..., dict[str, Any]], gateways: GatewayInspector,
                                  send: Callable[..., str], faults: FaultSwitch) -> None:
    def throttled_once(platform: str) -> dict[str, Any]:
        phone = phone_of(platform)
        gateway = "apns" if platform == "ios" else "fcm"
        with gateways.knobs_set(gateway, throttle={"count": 1, "retry_after": 1, "tokens": [phone["token"]]}):
            send(phone["person"]["id"])
            return gateways.wait_device(gateway, phone["token"], requests=2, timeout=15)

    assert first_gap(throttled_once("ios")) >= 1.0
    faults.on("push-retry-after-ignored")
    assert first_gap(throttled_once("android")) < 0.5  # the defect: the provider asked for a second, got none
    faults.off()
    assert first_gap(throttled_once("android")) >= 1.0


@pytest.mark.req("BR-NOTIF-2", "OSL-12-3")
def test_push_guardian_of_teen(new_person: Callable[[str], dict[str, Any]], gateways: GatewayInspector,
                               push: PushControl, send: Callable[..., str], faults: FaultSwitch) -> None:
    guardian = new_person("guardian")
    young, teen = guardian["children"]
    token = push.add_devices(guardian["id"], platform="ios", sms=False)[0]["token"]
    push.set_setting(guardian["id"], young["id"], push=True, sms=False, email=False)
    push.set_setting(guardian["id"], teen["id"], push=True, sms=False, email=False)

    def guardian_told_of_teen() -> bool:
        message = send(teen["id"])
        rows = push.settled(expected=1, message_id=message)  # the teen's own SMS at least; all in one go
        told = [r for r in rows if r["recipient_id"] == guardian["id"]]
        if told:  # then the gateway has it too, with the ombud text
            device = gateways.wait_device("apns", token, requests=1)
            assert any(d["message_id"] == message for d in device["deliveries"])
        return bool(told)

    assert not guardian_told_of_teen()
    faults.on("push-guardian-of-teen")
    assert guardian_told_of_teen()  # the defect: a 13-17-year-old's message shown to the guardian
    faults.off()
    assert not guardian_told_of_teen()


@pytest.mark.req("BR-NOTIF-1", "BR-NOTIF-2")
def test_sms_when_disabled(phone_of: Callable[..., dict[str, Any]], gateways: GatewayInspector,
                           push: PushControl, send: Callable[..., str], faults: FaultSwitch) -> None:
    def channels() -> list[str]:
        phone = phone_of("android")
        message = send(phone["person"]["id"])
        rows = push.settled(expected=1, message_id=message)
        sms = [r for r in rows if r["channel"] == "sms"]
        if sms:
            assert gateways.wait_device("sms", sms[0]["address"])["delivered"] >= 1
        return sorted(r["channel"] for r in rows)

    assert channels() == ["fcm"]
    faults.on("sms-when-disabled")
    assert channels() == ["fcm", "sms"]  # the defect: SMS although the user turned it off
    faults.off()
    assert channels() == ["fcm"]
