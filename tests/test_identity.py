"""Identity and sessions over real HTTP (BR-ID-1..3): who may log in, token lifetimes, idle timeout, refresh
rotation and reuse detection, logout, forged tokens, SSO tickets; and the identity faults that break them."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support import FaultSwitch, app_tokens, problem, reset_keeping_faults

API = "/api/v1"
NewClient = Callable[..., tuple[httpx.Client, dict[str, Any]]]
NewPerson = Callable[[str], dict[str, Any]]


def luhn_digit(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def login(http: httpx.Client, personnummer: str) -> httpx.Response:
    return http.post("/idp/api/login", json={"personnummer": personnummer, "method": "bankid"})


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/idp/token", data={"grant_type": "refresh_token", "refresh_token": token})


def me(http: httpx.Client, access_token: str) -> httpx.Response:
    return http.get(f"{API}/me", headers={"Authorization": f"Bearer {access_token}"})


def advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_sut/clock/advance", json={"seconds": seconds}).status_code == 200


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- who may log in (BR-ID-1) -------------------------------------------------------------------------------------

REFUSED = "urn:1177:problem:login-refused"


def refused_numbers(http: httpx.Client, new_person: NewPerson) -> dict[str, str]:
    """A number for every reason a login is refused (BR-ID-1), all syntactically personnummer. The refusals
    count towards the per-address limit, so the limits are reset first."""
    reset_keeping_faults(http)
    stem = "200101980"  # 1920-01-01, a test serial: older than anyone the seed makes
    number = new_person("adult")["personnummer"]
    return {"unknown": "19" + stem + luhn_digit(stem), "deceased": new_person("deceased")["personnummer"],
            "samordningsnummer": new_person("samordningsnummer")["personnummer"],
            "wrong check digit": number[:-1] + str((int(number[-1]) + 1) % 10),
            # A region's reservnummer is written like a personnummer but has no valid check digit.
            "reservnummer": "19900101999" + str((int(luhn_digit("900101999")) + 1) % 10),
            "no such date": "19901301" + "9803"}


def outside_view(response: httpx.Response) -> tuple[Any, ...]:
    """What anyone outside sees of an answer: status, body, and every header but the date."""
    headers = {k: v for k, v in response.headers.items() if k not in {"date", "content-length"}}
    body = response.json() if "json" in response.headers.get("content-type", "") else response.text
    return response.status_code, json.dumps(body, sort_keys=True), tuple(sorted(headers.items()))


def test_every_refused_login_looks_the_same(http: httpx.Client, new_person: NewPerson) -> None:
    """Who exists, who died and who has a samordningsnummer is not told to whoever types a number (BR-ID-1)."""
    seen = {}
    for reason, number in refused_numbers(http, new_person).items():
        response = login(http, number)
        problem(response, 403, REFUSED)
        seen[reason] = outside_view(response)
    assert len(set(seen.values())) == 1, seen
    for garbage in ("", "abc", "19900101", "1990-01-01-1234", "1990010198031"):
        problem(login(http, garbage), 422)  # not a personnummer at all: the form says so


def test_every_refused_form_login_looks_the_same(http: httpx.Client, new_person: NewPerson) -> None:
    page = http.get("/idp/authorize")
    assert page.status_code == 200
    seen = {}
    for reason, number in refused_numbers(http, new_person).items():
        response = http.post("/idp/authorize", data={"personnummer": number, "method": "bankid"})
        assert response.status_code == 403, (reason, response.status_code)
        seen[reason] = outside_view(response)
    assert len(set(seen.values())) == 1, seen
    assert "Det gick inte att logga in" in response.text


def test_the_reason_of_a_refusal_goes_to_the_audit_log(http: httpx.Client, new_person: NewPerson,
                                                       faults: FaultSwitch) -> None:
    deceased = new_person("deceased")
    problem(login(http, deceased["personnummer"]), 403, REFUSED)
    faults.on("deceased-login")  # only so the person can read their own log afterwards
    tokens = app_tokens(http, deceased["personnummer"])
    extract = http.get(f"{API}/audit-extract", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    refusals = [e for e in extract.json()["entries"] if e["action"] == "login.refused"]
    assert [e["resource_id"] for e in refusals] == ["deceased"]


def test_fault_login_reveals_reason(http: httpx.Client, new_person: NewPerson, faults: FaultSwitch) -> None:
    faults.on("login-reveals-reason")
    numbers = refused_numbers(http, new_person)
    assert problem(login(http, numbers["deceased"]), 403)["type"] == "urn:1177:problem:deceased"
    assert problem(login(http, numbers["unknown"]), 403)["type"] == "urn:1177:problem:unknown-person"


def test_the_same_number_in_any_form_logs_in(http: httpx.Client, new_person: NewPerson) -> None:
    number = new_person("protected-identity")["personnummer"]  # protected identity logs in too
    for form in (number, f"{number[:8]}-{number[8:]}", number[2:], f"{number[2:8]}-{number[8:]}"):
        assert login(http, form).status_code == 200, form


# --- tokens and sessions (BR-ID-2) --------------------------------------------------------------------------------

def test_access_token_is_short_lived_and_refresh_renews_it(http: httpx.Client, new_person: NewPerson) -> None:
    tokens = app_tokens(http, new_person("adult")["personnummer"])
    assert me(http, tokens["access_token"]).status_code == 200
    assert tokens["expires_in"] <= 900
    advance(http, tokens["expires_in"] + 1)
    problem(me(http, tokens["access_token"]), 401)
    renewed = refresh(http, tokens["refresh_token"])
    assert renewed.status_code == 200
    assert me(http, renewed.json()["access_token"]).status_code == 200


def test_idle_timeout_ends_the_session_and_activity_keeps_it(http: httpx.Client, new_person: NewPerson) -> None:
    number = new_person("adult")["personnummer"]
    active = app_tokens(http, number)
    idle = app_tokens(http, number)
    advance(http, 20 * 60)
    kept = refresh(http, active["refresh_token"])  # activity 20 minutes in
    assert kept.status_code == 200
    advance(http, 11 * 60)  # 31 minutes since login, 11 since the last activity
    problem(refresh(http, idle["refresh_token"]), 400)
    again = refresh(http, kept.json()["refresh_token"])
    assert again.status_code == 200
    assert me(http, again.json()["access_token"]).status_code == 200
    advance(http, 31 * 60)
    problem(refresh(http, again.json()["refresh_token"]), 400)


def test_refresh_tokens_rotate_and_a_reuse_revokes_the_session(http: httpx.Client, new_person: NewPerson) -> None:
    tokens = app_tokens(http, new_person("adult")["personnummer"])
    rotated = refresh(http, tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert me(http, rotated["access_token"]).status_code == 200
    problem(refresh(http, tokens["refresh_token"]), 400)  # the old one again: theft assumed
    problem(refresh(http, rotated["refresh_token"]), 400)  # so the whole session is gone
    problem(me(http, rotated["access_token"]), 401)


def test_logout_revokes_the_session(new_client: NewClient, http: httpx.Client) -> None:
    client, person = new_client("adult")
    assert client.post(f"{API}/session/logout").status_code == 204
    problem(client.get(f"{API}/me"), 401)
    problem(refresh(http, person["tokens"]["refresh_token"]), 400)


def test_forged_tokens_are_refused(http: httpx.Client, new_person: NewPerson) -> None:
    victim = new_person("adult")
    tokens = app_tokens(http, new_person("adult")["personnummer"])
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = {
        "alg-none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg-none-signed": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "tampered-sub": f"{header}.{b64({**claims, 'sub': victim['id']})}.{signature}",
        "tampered-exp": f"{header}.{b64({**claims, 'exp': claims['exp'] + 86400})}.{signature}",
        "hs256": jwt.encode(claims, "a-guessed-secret-of-thirty-two-bytes!", algorithm="HS256"),
        "other-key": jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                                headers={"kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]}),
        "wrong-audience": "",
    }
    forged["wrong-audience"] = jwt.encode({**claims, "aud": "urn:other"}, ec.generate_private_key(ec.SECP256R1()),
                                          algorithm="ES256")
    assert me(http, tokens["access_token"]).status_code == 200
    for name, token in forged.items():
        response = me(http, token)
        assert response.status_code == 401, name
        assert victim["id"] not in response.text


# --- SSO tickets (BR-ID-3) ----------------------------------------------------------------------------------------

def ticket(client: httpx.Client, audience: str = "1177-eservices") -> str:
    response = client.post(f"{API}/sso/tickets", json={"audience": audience})
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


def redeem(client: httpx.Client, value: str) -> httpx.Response:
    return client.post("/sso", data={"ticket": value, "next": "/"})


def test_sso_ticket_works_once(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    value = ticket(client)
    first = redeem(client, value)
    assert first.status_code == 303, first.text
    assert "set-cookie" in first.headers
    assert redeem(client, value).status_code == 401


def test_sso_ticket_expires_and_is_bound_to_its_audience(new_client: NewClient, http: httpx.Client) -> None:
    client, person = new_client("adult")
    stale = ticket(client)
    regional = ticket(client, f"regional:{person['region']}:services")
    advance(http, 61)
    assert redeem(client, stale).status_code == 401
    assert redeem(client, regional).status_code == 401
    assert redeem(client, "not-a-ticket").status_code == 401


def test_sso_ticket_dies_with_the_app_session(new_client: NewClient) -> None:
    client, _ = new_client("adult")
    value = ticket(client)
    assert client.post(f"{API}/session/logout").status_code == 204
    assert redeem(client, value).status_code == 401


# --- the identity faults are caught -------------------------------------------------------------------------------

@pytest.mark.xdist_group("faults")
@pytest.mark.parametrize(("fault", "role"), [("samordningsnummer-login", "samordningsnummer"),
                                              ("deceased-login", "deceased")])
def test_fault_login_refusal_skipped(http: httpx.Client, new_person: NewPerson, faults: FaultSwitch, fault: str,
                                     role: str) -> None:
    number = new_person(role)["personnummer"]
    assert login(http, number).status_code == 403
    faults.on(fault)
    assert login(http, number).status_code == 200  # the defect: this person gets a code
    faults.off()
    assert login(http, number).status_code == 403


@pytest.mark.xdist_group("faults")
def test_fault_session_never_expires(http: httpx.Client, new_person: NewPerson, faults: FaultSwitch) -> None:
    number = new_person("adult")["personnummer"]
    faults.on("session-never-expires")
    tokens = app_tokens(http, number)
    advance(http, 31 * 60)
    assert refresh(http, tokens["refresh_token"]).status_code == 200  # the defect: idle 31 min, still alive
    faults.off()
    tokens = app_tokens(http, number)
    advance(http, 31 * 60)
    problem(refresh(http, tokens["refresh_token"]), 400)


@pytest.mark.xdist_group("faults")
def test_fault_refresh_token_reuse(http: httpx.Client, new_person: NewPerson, faults: FaultSwitch) -> None:
    number = new_person("adult")["personnummer"]
    faults.on("refresh-token-reuse")
    tokens = app_tokens(http, number)
    first = refresh(http, tokens["refresh_token"])
    second = refresh(http, tokens["refresh_token"])
    assert first.status_code == second.status_code == 200  # the defect: the old token keeps working
    assert first.json()["refresh_token"] == tokens["refresh_token"]
    faults.off()
    tokens = app_tokens(http, number)
    assert refresh(http, tokens["refresh_token"]).status_code == 200
    problem(refresh(http, tokens["refresh_token"]), 400)


@pytest.mark.xdist_group("faults")
def test_fault_sso_ticket_replay(new_client: NewClient, faults: FaultSwitch) -> None:
    client, _ = new_client("adult")
    faults.on("sso-ticket-replay")
    value = ticket(client)
    assert redeem(client, value).status_code == 303
    assert redeem(client, value).status_code == 303  # the defect: a replayed ticket opens a second session
    faults.off()
    value = ticket(client)
    assert redeem(client, value).status_code == 303
    assert redeem(client, value).status_code == 401


# --- one-time secrets stay one-time under concurrency (BR-ID-2, BR-ID-3) ------------------------------------------

RACERS = 8


def race(base_url: str, send: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """The same request from RACERS clients at once (each its own connection); their status codes."""
    barrier = threading.Barrier(RACERS)
    clients = [httpx.Client(base_url=base_url, timeout=10, headers={"User-Agent": "1177-appen/3.2.0 (ios)"})
               for _ in range(RACERS)]

    def one(client: httpx.Client) -> int:
        barrier.wait()
        return send(client).status_code

    try:
        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(one, clients))
    finally:
        for client in clients:
            client.close()


def test_a_code_raced_from_many_clients_is_exchanged_once(http: httpx.Client, new_person: NewPerson,
                                                           base_url: str) -> None:
    for _ in range(3):
        code = login(http, new_person("adult")["personnummer"]).json()["code"]
        statuses = race(base_url, lambda c, code=code: c.post(
            "/idp/token", data={"grant_type": "authorization_code", "code": code}))
        assert sorted(statuses) == [200] + [400] * (RACERS - 1), statuses


def test_a_refresh_token_raced_from_many_clients_rotates_once(http: httpx.Client, new_person: NewPerson,
                                                               base_url: str) -> None:
    for _ in range(3):
        token = app_tokens(http, new_person("adult")["personnummer"])["refresh_token"]
        statuses = race(base_url, lambda c, token=token: refresh(c, token))
        assert sorted(statuses) == [200] + [400] * (RACERS - 1), statuses


def test_an_sso_ticket_raced_from_many_clients_is_redeemed_once(new_client: NewClient, base_url: str) -> None:
    client, _ = new_client("adult")
    for _ in range(3):
        value = ticket(client)
        statuses = race(base_url, lambda c, value=value: redeem(c, value))
        assert sorted(statuses) == [303] + [401] * (RACERS - 1), statuses
