"""The fake gateways themselves: they answer as Apple and Google document (checked with an independent HTTP/2
client, httpx), their knobs are validated and settable at start, and their process never outlives the system."""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import psutil
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from harness.sut_process import SutProcess
from sut.push.inspector import GatewayInspector, wait_for

TOPIC = "se.inera.1177.app"
TOKEN = "ab" * 32


@pytest.fixture
def gateways(sut: SutProcess) -> Iterator[GatewayInspector]:
    with GatewayInspector(sut.urls["gateway_inspect"]) as inspector:
        yield inspector


@pytest.fixture
def tls(gateways: GatewayInspector) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=gateways.ca_pem())


@pytest.fixture
def apns(sut: SutProcess, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(http2=True, verify=tls, base_url=sut.urls["apns"], timeout=10) as client:
        yield client


def apns_post(client: httpx.Client, token: str = TOKEN, body: bytes = b'{"aps":{"alert":"x"}}', *,
              drop: tuple[str, ...] = (), **headers: str) -> httpx.Response:
    base = {"apns-topic": TOPIC, "apns-push-type": "alert", "apns-priority": "10", "apns-expiration": "0",
            "apns-id": str(uuid.uuid4()), "content-type": "application/json"}
    sent = {k: v for k, v in {**base, **{k.replace("_", "-"): v for k, v in headers.items()}}.items()
            if k not in drop}
    return client.post(f"/3/device/{token}", content=body, headers=sent)


def reason(response: httpx.Response) -> str:
    return response.json()["reason"]


def test_ready_line_lists_the_gateways(sut: SutProcess) -> None:
    urls = sut.urls
    assert urls["apns"].startswith("https://127.0.0.1:") and urls["fcm"].startswith("https://127.0.0.1:")
    for name in ("sms", "email", "gateway_inspect"):
        assert urls[name].startswith("http://127.0.0.1:"), name
    assert len({urls[n] for n in ("apns", "fcm", "sms", "email", "gateway_inspect")}) == 5  # a port each


@pytest.mark.req("BR-NOTIF-3", "BR-NOTIF-4")
def test_fake_apns_checks_what_apple_checks(apns: httpx.Client) -> None:
    missing_topic = apns_post(apns, drop=("apns-topic",))
    assert missing_topic.http_version == "HTTP/2"
    assert (missing_topic.status_code, reason(missing_topic)) == (400, "MissingTopic")
    assert missing_topic.headers["apns-id"]
    assert reason(apns_post(apns, apns_topic="com.example.other")) == "TopicDisallowed"
    assert reason(apns_post(apns, drop=("apns-push-type",))) == "InvalidPushType"
    assert reason(apns_post(apns, apns_priority="7")) == "BadPriority"
    assert reason(apns_post(apns, apns_expiration="tomorrow")) == "BadExpirationDate"
    assert reason(apns_post(apns, apns_id="not-a-uuid")) == "BadMessageId"
    assert reason(apns_post(apns, apns_collapse_id="x" * 65)) == "BadCollapseId"
    assert reason(apns_post(apns, token="12345")) == "BadDeviceToken"
    too_big = apns_post(apns, body=json.dumps({"aps": {"alert": "x" * 4100}}).encode())
    assert (too_big.status_code, reason(too_big)) == (413, "PayloadTooLarge")
    assert reason(apns_post(apns, body=b"")) == "PayloadEmpty"
    assert apns.get(f"/3/device/{TOKEN}").status_code == 405
    # Well-formed, but no provider token, or one not signed by the team's key: 403.
    unsigned = apns_post(apns)
    assert (unsigned.status_code, reason(unsigned)) == (403, "MissingProviderToken")
    forged = jwt.encode({"iss": "TEAMID1234", "iat": int(time.time())}, ec.generate_private_key(ec.SECP256R1()),
                        algorithm="ES256", headers={"kid": "ABCDEFGHIJ"})
    refused = apns_post(apns, authorization=f"bearer {forged}")
    assert (refused.status_code, reason(refused)) == (403, "InvalidProviderToken")


def test_fake_apns_speaks_only_http2(sut: SutProcess, tls: ssl.SSLContext) -> None:
    with httpx.Client(http2=False, verify=tls, timeout=5) as http1, pytest.raises(httpx.TransportError):
        http1.post(f"{sut.urls['apns']}/3/device/{TOKEN}", content=b"{}")


def test_fake_fcm_wants_an_oauth_token_from_a_signed_assertion(sut: SutProcess, tls: ssl.SSLContext) -> None:
    with httpx.Client(http2=True, verify=tls, base_url=sut.urls["fcm"], timeout=10) as fcm:
        anonymous = fcm.post("/v1/projects/app-1177-test/messages:send", json={"message": {"token": "x"}})
        assert anonymous.http_version == "HTTP/2" and anonymous.status_code == 401
        assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
        stranger = ec.generate_private_key(ec.SECP256R1())
        now = int(time.time())
        assertion = jwt.encode({"iss": "someone@example.invalid", "aud": f"{sut.urls['fcm']}/token", "iat": now,
                                "exp": now + 600, "scope": "https://www.googleapis.com/auth/firebase.messaging"},
                               stranger, algorithm="ES256")
        forged = fcm.post("/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                          "assertion": assertion})
        assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"
        assert fcm.post("/token", data={"grant_type": "client_credentials"}).json()["error"] == \
            "unsupported_grant_type"


def test_sms_and_email_gateways_want_their_api_key(sut: SutProcess) -> None:
    for name, path in (("sms", "/v1/sms"), ("email", "/v1/email")):
        response = httpx.post(sut.urls[name] + path, json={"to": "+46701740605", "text": "x"}, timeout=10)
        assert response.status_code == 401, name


def test_knobs_are_validated_and_merged(gateways: GatewayInspector) -> None:
    assert set(gateways.http.get("/").json()["gateways"]) == {"apns", "fcm", "sms", "email"}
    assert gateways.http.put("/apns/knobs", json={"no_such_knob": 1}).status_code == 422
    assert gateways.http.patch("/fcm/knobs", json={"errors": {"rate": 2}}).status_code == 422
    assert gateways.http.patch("/fcm/knobs", json=["latency_ms"]).status_code == 422
    assert gateways.http.get("/nope/summary").status_code == 404
    with gateways.knobs_set("sms", latency_ms=5, throttle={"count": 2, "retry_after": 3}) as knobs:
        assert knobs["latency_ms"] == 5 and knobs["throttle"]["count"] == 2
        assert knobs["remaining"]["throttle"] == 2 and knobs["max_streams"] == 1000
    restored = gateways.knobs("sms")
    assert restored["latency_ms"] == 0 and restored["throttle"]["count"] == 0


def test_knobs_set_at_start_and_restored_by_reset(tmp_path: Path) -> None:
    start = {"apns": {"latency_ms": 7, "max_streams": 50}, "sms": {"errors": {"rate": 0.5, "status": 500}}}
    with SutProcess(log_path=tmp_path / "sut.log", env={"SUT_GATEWAY_KNOBS": json.dumps(start)}) as proc, \
            GatewayInspector(proc.urls["gateway_inspect"]) as gateways:
        assert gateways.knobs("apns")["latency_ms"] == 7 and gateways.connections("apns")["max_streams"] == 50
        assert gateways.knobs("sms")["errors"] == {"rate": 0.5, "count": 0, "status": 500, "tokens": None}
        gateways.patch_knobs("apns", latency_ms=0, max_streams=3)
        gateways.reset("apns")
        assert gateways.knobs("apns")["latency_ms"] == 7 and gateways.connections("apns")["max_streams"] == 50


def test_bad_knobs_at_start_are_refused(tmp_path: Path) -> None:
    proc = SutProcess(log_path=tmp_path / "sut.log", extra_args=["--gateway-knobs", "[1, 2]"], start_timeout=30)
    with pytest.raises(Exception, match="exited"):
        proc.start()
    assert not proc.alive()


def test_gateway_process_never_outlives_the_system(tmp_path: Path) -> None:
    proc = SutProcess(log_path=tmp_path / "sut.log").start()
    try:
        assert proc.proc is not None
        children = [p for p in psutil.Process(proc.proc.pid).children(recursive=True)
                    if "sut.push.gateways" in " ".join(p.cmdline())]
        assert len(children) == 1
        os.kill(proc.proc.pid, signal.SIGKILL)  # no clean-up at all: the gateways notice their parent is gone
        assert wait_for(lambda: not children[0].is_running() or children[0].status() == psutil.STATUS_ZOMBIE,
                        timeout=10, what="the gateways' process ends with its parent")
    finally:
        proc.stop()
