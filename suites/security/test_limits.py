"""The rate limits hold when someone tries: logins for one person, guessed numbers from one address, and a staff
member's sends (BR-SEC-1). Run on the layer's private system, so the run's other logins are not stopped."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness.control import ControlApi
from harness.identities import Person

LOGINS_PER_MINUTE = 20  # BR-SEC-1: the IdP's limit per identity and, for refused attempts, per address
SENDS_PER_MINUTE = 600  # BR-SEC-1: a staff member's sends
UNKNOWN = "199001019802"  # a Skatteverket test number nobody in the system has (format valid)

pytestmark = pytest.mark.destructive


@pytest.fixture
def private(private_target: LiveTarget) -> Iterator[tuple[httpx.Client, ControlApi]]:
    with httpx.Client(base_url=private_target.urls["base"], timeout=15) as http, \
            ControlApi(private_target.urls["control"]) as control:
        control.reset()  # a fresh limit: nothing before this test counts
        yield http, control
        control.reset()


def _login(http: httpx.Client, personnummer: str) -> httpx.Response:
    return http.post("/idp/api/login", json={"personnummer": personnummer, "method": "bankid"})


def _first_refusal(answers: list[httpx.Response]) -> int | None:
    return next((n for n, a in enumerate(answers, start=1) if a.status_code == 429), None)


@pytest.mark.req("BR-SEC-1")
def test_logins_for_one_person_stop_at_the_limit(private: tuple[httpx.Client, ControlApi]) -> None:
    """Inloggningar för en och samma person stoppas efter 20 på en minut, med Retry-After."""
    http, control = private
    person: Person = control.seed_person("adult")
    answers = [_login(http, person.personnummer) for _ in range(LOGINS_PER_MINUTE + 3)]
    refused = _first_refusal(answers)
    assert refused == LOGINS_PER_MINUTE + 1, f"the first 429 came at attempt {refused}, not {LOGINS_PER_MINUTE + 1}"
    assert all(a.status_code == 200 for a in answers[:LOGINS_PER_MINUTE]), [a.status_code for a in answers]
    assert int(answers[-1].headers.get("retry-after", "0")) >= 1, "a 429 without Retry-After"


@pytest.mark.req("BR-SEC-1")
def test_guessing_numbers_from_one_address_stops_at_the_limit(private: tuple[httpx.Client, ControlApi]) -> None:
    """Gissade personnummer från en adress stoppas efter 20 misslyckade försök på en minut."""
    http, _ = private
    answers = [_login(http, UNKNOWN[:-2] + f"{n % 90 + 10:02d}") for n in range(LOGINS_PER_MINUTE + 3)]
    refused = _first_refusal(answers)
    assert refused is not None and refused <= LOGINS_PER_MINUTE + 1, \
        f"{len(answers)} refused logins from one address and no 429: {sorted({a.status_code for a in answers})}"


@pytest.mark.req("BR-SEC-1")
def test_a_staff_members_sends_stop_at_the_limit(private: tuple[httpx.Client, ControlApi],
                                                 private_target: LiveTarget) -> None:
    """En anställds utskick stoppas efter 600 på en minut, med Retry-After."""
    http, control = private
    patient = control.seed_person("adult")
    staff = control.staff_for(patient).get("own-unit")
    code = http.post("/idp/api/staff-login", json={"hsa_id": staff.hsa_id}).json()["code"]
    token = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code}).json()["access_token"]
    body = {"patient_id": patient.id, "subject": "Påminnelse", "body": "Välkommen på besök."}
    statuses = []
    for _ in range(SENDS_PER_MINUTE + 2):
        answer = http.post("/staff/v1/messages", json=body, headers={"Authorization": f"Bearer {token}"})
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers.get("retry-after", "0")) >= 1, "a 429 without Retry-After"
            break
    assert statuses.count(201) == SENDS_PER_MINUTE and statuses[-1] == 429, \
        f"{statuses.count(201)} sends accepted, then {statuses[-1]}"
