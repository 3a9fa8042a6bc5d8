"""A refresh token is judged again on every use (BR-ID-1, BR-ID-2): the person as a login would judge them
(alive, a personnummer, a region that has joined) and the session (revoked, idle); rotation never extends the
login; and the faults that skip these checks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import FaultSwitch, app_tokens, problem, reset_keeping_faults

from harness.control import ControlApi
from harness.sut_process import SutProcess


@pytest.fixture
def control_api(sut: SutProcess) -> Iterator[ControlApi]:
    with ControlApi(sut.urls["control"]) as api:
        yield api


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/idp/token", data={"grant_type": "refresh_token", "refresh_token": token})


CHANGES = {"deceased": {}, "samordningsnummer": {}, "moved": {"joined": False}}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_refresh_is_refused_once_the_person_may_no_longer_log_in(control_api: ControlApi, http: httpx.Client,
                                                                   change: str) -> None:
    person = control_api.seed_person("adult")
    tokens = app_tokens(http, person.personnummer)
    control_api.change(person, change, **CHANGES[change])
    body = problem(refresh(http, tokens["refresh_token"]), 400)
    assert body["error"] == "invalid_grant"
    # The session has ended for good: its access token stops at once too.
    problem(http.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}), 401)


def test_a_move_between_joined_regions_keeps_the_session(control_api: ControlApi, http: httpx.Client) -> None:
    person = control_api.seed_person("adult")
    tokens = app_tokens(http, person.personnummer)
    control_api.change(person, "moved", joined=True)
    assert refresh(http, tokens["refresh_token"]).status_code == 200


def test_staff_sessions_refresh(http: httpx.Client) -> None:
    staff = http.get("/_sut/staff").json()[0]
    code = http.post("/idp/api/staff-login", json={"hsa_id": staff["hsa_id"]}).json()["code"]
    tokens = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()
    assert refresh(http, tokens["refresh_token"]).status_code == 200


def test_rotation_never_extends_the_login(control_api: ControlApi, http: httpx.Client) -> None:
    tokens = app_tokens(http, control_api.seed_person("adult").personnummer)
    assert tokens["refresh_expires_in"] == 12 * 3600
    first = refresh(http, tokens["refresh_token"]).json()
    second = refresh(http, first["refresh_token"]).json()
    assert second["refresh_expires_in"] <= first["refresh_expires_in"] <= tokens["refresh_expires_in"]


@pytest.mark.xdist_group("clock")
def test_a_refresh_token_expires_with_the_login_however_active(control_api: ControlApi, http: httpx.Client) -> None:
    tokens = app_tokens(http, control_api.seed_person("adult").personnummer)
    step, elapsed = 25 * 60, 0  # active every 25 minutes, inside the idle limit
    try:
        control_api.freeze()
        current = tokens["refresh_token"]
        while elapsed < 13 * 3600:
            control_api.advance(step)
            elapsed += step
            renewed = refresh(http, current)
            if renewed.status_code != 200:
                break
            current = renewed.json()["refresh_token"]
        problem(renewed, 400)
        assert 12 * 3600 <= elapsed < 12 * 3600 + step, f"the login ended after {elapsed / 3600:.2f} h, not 12 h"
    finally:
        reset_keeping_faults(http)


def test_fault_refresh_skips_person_check(control_api: ControlApi, http: httpx.Client, faults: FaultSwitch) -> None:
    person = control_api.seed_person("adult")
    tokens = app_tokens(http, person.personnummer)
    control_api.change(person, "deceased")
    faults.on("refresh-skips-person-check")
    renewed = refresh(http, tokens["refresh_token"])
    assert renewed.status_code == 200  # the defect: a deceased person's session renewed
    faults.off()
    problem(refresh(http, renewed.json()["refresh_token"]), 400)
