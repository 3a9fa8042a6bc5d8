"""The harness logs in as the app does (login page, PKCE S256, code for tokens), and counts ages by the system's
date, leap days included."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from harness.api_client import LoginError
from harness.control import ControlApi, born_turning
from harness.identities import Person, StaffChoice
from harness.login import APP_CALLBACK, Pkce, claims, login_authorize, login_form, refresh
from harness.sut_process import SutProcess


@pytest.fixture
def person(sut: SutProcess) -> Person:
    with ControlApi(sut.urls["control"]) as api:
        return api.seed_person("adult")


def test_the_app_login_gives_tokens_that_work(sut: SutProcess, person: Person) -> None:
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        tokens = login_authorize(client, sut.urls["idp"], person.personnummer)
        assert claims(tokens.access_token)["sub"] == person.id
        assert claims(tokens.access_token)["amr"] == ["bankid"]
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}",
                                               "User-Agent": "1177-appen/3.2.0 (ios)"})
        assert me.status_code == 200 and me.json()["id"] == person.id
        assert refresh(client, sut.urls["idp"], tokens.refresh_token).status_code == 200


def test_the_code_is_bound_to_the_verifier(sut: SutProcess, person: Person) -> None:
    pkce = Pkce.new()
    assert 43 <= len(pkce.verifier) <= 128 and pkce.challenge != pkce.verifier
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        answer = client.post("/idp/authorize", data={"client_id": "app", "redirect_uri": APP_CALLBACK, "state": "s",
                                                     "code_challenge": pkce.challenge, "method": "bankid",
                                                     "personnummer": person.personnummer})
        assert answer.status_code == 303
        code = httpx.URL(answer.headers["location"]).params["code"]
        wrong = client.post("/idp/token", data={"grant_type": "authorization_code", "code": code,
                                                "code_verifier": Pkce.new().verifier, "redirect_uri": APP_CALLBACK})
        assert wrong.status_code == 400


def test_a_refused_login_is_a_login_error(sut: SutProcess) -> None:
    with ControlApi(sut.urls["control"]) as api:
        deceased = api.seed_person("deceased")
        api.reset()  # refused logins count towards the per-address limit
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client, pytest.raises(LoginError, match="403"):
        login_authorize(client, sut.urls["idp"], deceased.personnummer)


def test_the_login_form_is_read_as_a_browser_reads_it() -> None:
    page = """<form method="post" action="/other"><input type="hidden" name="x" value="1"></form>
        <form method="post" action="/idp/authorize" data-testid="idp-login-form">
        <input type="hidden" name="state" value="abc"><input type="hidden" name="code_challenge" value="c">
        <input name="personnummer"></form>"""
    assert login_form(page) == ("/idp/authorize", {"state": "abc", "code_challenge": "c"})
    with pytest.raises(LoginError):
        login_form("<p>Något gick fel</p>")


@pytest.mark.parametrize(("years", "on", "born"), [
    (13, date(2026, 12, 2), date(2013, 12, 2)),
    (13, date(2028, 2, 29), date(2015, 2, 28)),  # no 29 February in 2015: born the day before is 13 already
    (4, date(2028, 2, 29), date(2024, 2, 29)),
    (13, date(2025, 3, 1), date(2012, 3, 1)),
])
def test_born_turning_is_the_latest_birth_date_of_that_age(years: int, on: date, born: date) -> None:
    assert born_turning(years, on) == born


def test_a_childs_age_group_counts_from_the_systems_date() -> None:
    data = {"id": "g", "personnummer": "197001019800", "role": "guardian", "birth_date": "1970-01-01",
            "today": "2030-06-01", "children": [
                {"id": "c", "personnummer": "201706019800", "role": "child-13-17", "birth_date": "2017-06-01"}]}
    assert Person.from_control(data).children[0].age_group == "13-17"  # 13 on the system's date, whatever today is


def test_staff_choice_names_its_relations() -> None:
    choice = StaffChoice.from_control({"patient_id": "p", "own_unit": None, "same_region_other_unit": None,
                                       "other_region_unit": None, "related_other_region": []})
    with pytest.raises(ValueError, match="relations"):
        choice.get("neighbour")
    with pytest.raises(LookupError):
        choice.get("own-unit")
