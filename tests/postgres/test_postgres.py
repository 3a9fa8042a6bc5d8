"""The reference system on PostgreSQL: a cross-section over HTTP, with the database itself read to prove where the
data went. The cluster runs in Sweden's time zone, so anything that depends on the server's zone shows here."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from support import app_tokens, staff_token

from harness.sut_process import SutProcess
from sut.push.control import fcm_token
from sut.push.inspector import GatewayInspector, PushControl, poll

pytestmark = pytest.mark.xdist_group("postgres")  # one cluster and one system for the whole module

API = "/api/v1"
STAFF = "/staff/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A direct connection to the system's database, to see what it stored."""
    url = make_url(postgres_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database, autocommit=True) as conn:
        yield conn


def staff_client(base_url: str, http: httpx.Client, hsa_id: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10,
                        headers={"Authorization": f"Bearer {staff_token(http, hsa_id)}"})


def test_starts_and_seeds_on_postgresql(http: httpx.Client, database: psycopg.Connection) -> None:
    assert len(http.get("/_sut/staff").json()) == 21 * 3
    server = database.execute("SHOW server_version_num").fetchone()[0]
    regions = database.execute("SELECT count(*), count(*) FILTER (WHERE joined) FROM regions").fetchone()
    persons = database.execute("SELECT count(*) FROM persons").fetchone()[0]
    assert int(server) >= 150000 and regions == (21, 17) and persons > 0


@pytest.mark.req("BR-AUDIT-1")
def test_patient_reads_a_message_and_the_read_is_audited_in_an_intact_chain(
        new_client: NewClient, http: httpx.Client, database: psycopg.Connection) -> None:
    client, person = new_client("adult")
    messages = client.get(f"{API}/inbox/messages")
    assert messages.status_code == 200, messages.text
    message = messages.json()["messages"][0]
    opened = client.get(f"{API}/inbox/messages/{message['id']}")
    assert opened.status_code == 200 and opened.json()["body"]
    entries = client.get(f"{API}/audit-extract").json()["entries"]
    assert [(e["action"], e["role"]) for e in entries if e["resource_id"] == message["id"]] == [
        ("message.read", "self")]
    # Shown in UTC, as on SQLite, though the server's time zone is Sweden's.
    assert datetime.fromisoformat(entries[0]["at"]).utcoffset() == timedelta(0)
    assert http.get("/_sut/audit/verify").json() == {"intact": True, "first_broken_seq": None}
    stored = database.execute("SELECT count(*) FROM audit_log WHERE subject_id = %s AND action = 'message.read'",
                              (person["id"],)).fetchone()[0]
    assert stored == 1


@pytest.mark.req("BR-NOTIF-2", "BR-STAFF-1")
def test_staff_message_reaches_apns_and_fcm_once(
        new_person: Callable[[str], dict[str, Any]], http: httpx.Client, base_url: str, push: PushControl,
        gateways: GatewayInspector) -> None:
    person = new_person("adult")
    ios, android = secrets.token_hex(32), fcm_token()
    push.add_devices(person["id"], count=2, platform="mixed", tokens=[ios, android], sms=False)
    with staff_client(base_url, http, push.care_staff(person["id"])[0]["hsa_id"]) as staff:
        sent = staff.post(f"{STAFF}/messages", json={"patient_id": person["id"], "subject": "Provsvar",
                                                     "body": "Hej! Ditt provsvar är klart."})
    assert sent.status_code == 201, sent.text
    message_id = sent.json()["id"]
    rows = push.settled(expected=2, message_id=message_id)
    assert sorted((r["channel"], r["address"]) for r in rows) == sorted([("apns", ios), ("fcm", android)])
    for channel, token in (("apns", ios), ("fcm", android)):
        device = gateways.wait_device(channel, token)
        assert (device["requests"], device["delivered"], device["duplicates"]) == (1, 1, 0), device
        assert device["deliveries"][0]["message_id"] == message_id


@pytest.mark.req("BR-STAFF-1", "BR-NOTIF-2")
def test_bulk_send_to_a_few_hundred_devices_is_delivered_exactly_once(
        http: httpx.Client, base_url: str, push: PushControl, gateways: GatewayInspector,
        database: psycopg.Connection) -> None:
    count = 300
    cohort = push.cohort(count, ios_share=0.5)
    with staff_client(base_url, http, cohort["staff_hsa_id"]) as staff:
        created = staff.post(f"{STAFF}/bulk-sends", json={"subject": "Vaccination", "body": "Välkommen!",
                                                          "all_patients": True})
        assert created.status_code == 202, created.text
        job = created.json()
        status = poll(lambda: staff.get(job["status_url"]).json(),
                      lambda s: s["state"] != "running" and s["outbox_pending"] == 0
                      and s["deliveries"]["total"] >= count and s["deliveries"]["queued"] == 0,
                      timeout=20, what="bulk send settled")
    assert (status["state"], status["accepted"], status["rejected"]) == ("done", count, 0)
    assert status["deliveries"]["total"] == status["deliveries"]["sent"] + status["deliveries"]["delivered"] == count
    assert status["by_channel"]["apns"]["total"] == cohort["ios"]
    assert status["by_channel"]["fcm"]["total"] == cohort["android"]
    rows = push.deliveries(bulk_job_id=job["job_id"])
    assert len({r["recipient_id"] for r in rows}) == len({r["key"] for r in rows}) == count
    for row in rows:  # exactly once, as each gateway saw it
        device = gateways.device(row["channel"], row["address"])
        assert (device["delivered"], device["duplicates"], device["replays"]) == (1, 0, 0), device
        assert device["deliveries"][0]["key"] == row["key"]
    outbox = database.execute("SELECT state, count(*) FROM outbox WHERE bulk_job_id = %s GROUP BY state",
                              (job["job_id"],)).fetchall()
    assert outbox == [("done", count)]


@pytest.mark.req("BR-GDPR-1")
def test_export_and_erasure(new_client: NewClient, database: psycopg.Connection) -> None:
    client, person = new_client("adult")
    installation = f"inst-{uuid.uuid4().hex[:12]}"
    assert client.put(f"{API}/devices/{installation}", json={
        "platform": "ios", "token": secrets.token_hex(32), "app_version": "3.2.0"}).status_code == 201
    assert client.post(f"{API}/consents", json={"purpose": "push", "text_version": "1.0"}).status_code == 201
    export = client.get(f"{API}/export")
    assert export.status_code == 200, export.text
    data = export.json()
    assert data["person"]["personnummer"] == person["personnummer"] and len(data["messages"]) == 3
    assert [d["installation_id"] for d in data["devices"]] == [installation] and len(data["consents"]) == 1

    erased = client.post(f"{API}/erasure")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] == {"devices": 1, "notification_settings": 1, "consents": 1}
    assert {k["data"]: k["count"] for k in erased.json()["kept"]}["messages"] == 3  # GDPR art. 17.3
    after = client.get(f"{API}/export").json()
    assert after["devices"] == after["consents"] == [] and len(after["messages"]) == 3
    (erased_json, kept_json), = database.execute("SELECT erased, kept FROM erasures WHERE person_id = %s",
                                                 (person["id"],)).fetchall()
    assert erased_json == {"devices": 1, "notification_settings": 1, "consents": 1}
    assert (kept_json["messages"], kept_json["bookings"], kept_json["journal_entries"]) == (3, 2, 2)


@pytest.mark.req("BR-SEC-1")
def test_text_the_database_cannot_hold_is_refused_not_a_server_error(
        new_person: Callable[[str], dict[str, Any]], http: httpx.Client, base_url: str, push: PushControl) -> None:
    person = new_person("adult")
    with staff_client(base_url, http, push.care_staff(person["id"])[0]["hsa_id"]) as staff:
        response = staff.post(f"{STAFF}/messages", json={"patient_id": person["id"], "subject": "Provsvar",
                                                         "body": "Hej\x00!"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")


def test_a_second_start_on_the_same_database_keeps_its_data(
        postgres_url: str, new_person: Callable[[str], dict[str, Any]], tmp_path: Path,
        database: psycopg.Connection) -> None:
    person = new_person("adult")
    regions_before = database.execute("SELECT count(*) FROM regions").fetchone()[0]
    with SutProcess(env={"SUT_DATABASE_URL": postgres_url}, log_path=tmp_path / "second.log") as second, \
            httpx.Client(base_url=second.urls["base"], timeout=10) as client:
        code = client.post("/idp/api/login", json={"personnummer": person["personnummer"], "method": "bankid"})
        assert code.status_code == 200, code.text  # a person of the first start logs in at the second
        assert client.get("/_sut/audit/verify").json()["intact"] is True
    assert database.execute("SELECT count(*) FROM regions").fetchone()[0] == regions_before == 21



def _cookie(response: httpx.Response, name: str) -> str:
    """A cookie the response sets (read from the header: the client's jar keeps no Secure cookie over http)."""
    jar = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar[name].value


@pytest.mark.req("BR-ID-1", "BR-ID-3", "BR-PROXY-1")
def test_web_state_holds_across_two_processes_on_one_database(
        postgres_url: str, new_person: Callable[[str], dict[str, Any]], http: httpx.Client, tmp_path: Path) -> None:
    """A login begun at one process ends at the other; acting-for, CSRF tokens and the SSO link are shared."""
    app_ua = "1177-appen/3.2.0 (ios)"
    guardian = new_person("guardian")
    with SutProcess(env={"SUT_DATABASE_URL": postgres_url}, log_path=tmp_path / "second.log") as second_proc, \
            httpx.Client(base_url=second_proc.urls["base"], timeout=10) as second, \
            httpx.Client(base_url=http.base_url, timeout=10, headers={"User-Agent": app_ua}) as app:
        start = http.get("/login", params={"next": "/inbox"})
        idp = second.post("/idp/authorize", data={**httpx.URL(start.headers["location"]).params,
                                                   "personnummer": guardian["personnummer"], "method": "bankid"})
        assert idp.status_code == 303, idp.text[:300]
        done = second.get(idp.headers["location"], headers={"Cookie": f"login_state={_cookie(start, 'login_state')}"})
        assert done.status_code == 303 and done.headers["location"] == "/inbox", done.text[:300]
        browser = {"Cookie": f"eservice_session={_cookie(done, 'eservice_session')}"}
        # The acting-for form of one process, posted to the other, switches for both.
        form = second.get("/acting-for", headers=browser).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
        child_id = re.search(r'value="([^"]+)"[^>]*data-testid="acting-for-child"', form)[1]
        switched = http.post("/acting-for", data={"csrf_token": csrf, "subject": child_id}, headers=browser)
        assert switched.status_code == 303, switched.text[:300]
        assert 'data-testid="acting-for-name"' in second.get("/", headers=browser).text
        # A WebView session opened at one process ends there when the app logs out at the other.
        app.headers["Authorization"] = f"Bearer {app_tokens(app, new_person('adult')['personnummer'])['access_token']}"
        ticket = app.post(f"{API}/sso/tickets", json={"audience": "1177-eservices"}).json()["ticket"]
        opened = second.post("/sso", data={"ticket": ticket, "next": "/"}, headers={"User-Agent": app_ua})
        assert opened.status_code == 303, opened.text[:300]
        webview = {"User-Agent": app_ua, "Cookie": f"eservice_session={_cookie(opened, 'eservice_session')}"}
        assert second.get("/inbox", headers=webview).status_code == 200
        assert app.post(f"{API}/session/logout").status_code == 204
        assert second.get("/inbox", headers=webview).status_code == 401
