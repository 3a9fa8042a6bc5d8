"""The authorization matrix: every role x every resource (authz_matrix.yaml), one parametrised test.

Each cell seeds its own subject (a patient, or a guardian's child) with a message, a booking, a device and an
audited read, then lets the cell's caller reach for that data and judges the answer against the cell's expected
outcome (harness/authz.py). A failure names the cell, the caller and the requirements it breaks.

The oracles of ownership (harness/oracles.py) judge every answer as well: each record in it must be the
caller's, the child's acted for, or for staff their unit's patient's, so a list with someone else's record fails
even where the subject's own id is absent. Staff are chosen by how their unit stands to the patient, and some
subjects are made to measure: several pages of records, or changed after seeding.

Each cell carries only the requirements the matrix's rules give it for what it checks, and shows in the report
under a Swedish name ("vårdnadshavare för barn under 13 läser barnets meddelande -> 200") with its role, resource
and expected outcome as parameters.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import allure
import httpx
import pytest

from fixtures.api import login_rate_limit_handler
from fixtures.evidence import BROKEN_REQUIREMENTS
from fixtures.sut import LiveTarget
from harness import authz, oracles
from harness.api_client import ApiClient, Recorder, curl_line, login_person, login_staff
from harness.control import ControlApi
from harness.identities import Person, StaffMember

MATRIX = authz.load_matrix(Path(__file__).with_name("authz_matrix.yaml"))
CELLS = {(cell.role.name, cell.resource.name): cell for cell in MATRIX.cells}
SMOKE_RESOURCES = {"message", "acting-for"}  # every role against the IDOR- and ombud-prone resources
MANY_RECORDS = {"messages": 60, "bookings": 30, "audit_lines": 40, "devices": 3, "consents": 3}
# How each staff caller's unit stands to the patient (GET /_sut/persons/{id}/staff), never by HSA order.
STAFF_RELATION = {"staff-right-unit": "own-unit", "staff-other-unit": "same-region-other-unit",
                  "staff-other-region": "other-region-unit", "staff-related-other-region": "related-other-region"}


def _cells() -> Iterator[Any]:
    for cell in MATRIX.cells:
        marks = [pytest.mark.req(*cell.requirements), pytest.mark.check(*cell.checks)]
        if cell.resource.destructive:
            marks.append(pytest.mark.destructive)
        if cell.resource.name in SMOKE_RESOURCES:
            marks.append(pytest.mark.smoke)
        # Role, resource and outcome as three parameters, so the report shows them apart (not a Cell's repr).
        yield pytest.param(cell.role.name, cell.resource.name, cell.expect, id=cell.id, marks=marks)


class World:
    """One target's persons, staff and clients for a cell."""

    def __init__(self, live: LiveTarget, recorder: Recorder, seed: Callable[..., Person],
                 staff: Callable[..., StaffMember], control: Any = None) -> None:
        self.live = live
        self.recorder = recorder
        self.seed = seed
        self.staff = staff
        self.control = control  # harness.control.ControlApi: care relations and changes after seeding
        self.truth = oracles.ControlTruth(live.urls["control"]) if live.has_control else None
        self.clients: list[ApiClient] = []
        self.rate_limited = login_rate_limit_handler(live)

    def client(self, who: Person | StaffMember, *, api: str | None = None, label: str = "") -> ApiClient:
        """A client logged in as ``who`` on the mobile or staff API."""
        is_staff = isinstance(who, StaffMember)
        api = api or ("staff" if is_staff else "mobile")
        client = ApiClient(self.live.urls[f"{api}_api"], label=label or ("staff" if is_staff else who.role),
                           recorder=self.recorder, user_agent=self.live.target.user_agent)
        self.clients.append(client)
        tokens = (login_staff(client, self.live.urls["idp"], who.hsa_id, on_rate_limited=self.rate_limited)
                  if is_staff else
                  login_person(client, self.live.urls["idp"], who.personnummer, on_rate_limited=self.rate_limited))
        client.tokens = tokens
        client.use_token(tokens.access_token)
        return client

    def advance_clock(self, seconds: float) -> None:
        with httpx.Client(timeout=15) as control:
            control.post(f"{self.live.urls['control']}/clock/advance", json={"seconds": seconds}).raise_for_status()

    def reset(self) -> None:
        with httpx.Client(timeout=15) as control:
            control.post(f"{self.live.urls['control']}/reset").raise_for_status()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        if self.truth is not None:
            self.truth.close()


def _subject_data(world: World, subject: Person) -> dict[str, str]:
    """Give the subject data to reach for: ids of a message (read once, so it is audited), a booking, a device."""
    client = world.client(subject, label="subject")
    messages = client.get("/inbox/messages")
    assert messages.status_code == 200, f"setup: the subject's inbox answered {messages.status_code}"
    message = messages.json()["messages"][0]
    assert client.get(f"/inbox/messages/{message['id']}").status_code == 200
    bookings = client.get("/bookings").json()["bookings"]
    booking = next(b for b in bookings if b["status"] == "booked")
    installation = str(uuid.uuid4())
    device = client.put(f"/devices/{installation}",
                        json={"platform": "ios", "token": secrets.token_hex(32), "app_version": "3.2.0"})
    assert device.status_code in (200, 201), f"setup: registering the subject's device answered {device.status_code}"
    return {"message_id": message["id"], "booking_id": booking["id"], "installation_id": installation,
            "subject_id": str(subject.id), "care_unit": message["care_unit"]["id"]}


def _lifetime(token: str) -> int:
    """exp - iat of a JWT, in seconds (read, not verified: the harness only needs to know when it expires)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["exp"]) - int(claims["iat"])


def _format(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**refs)
    if isinstance(value, dict):
        return {k: _format(v, refs) for k, v in value.items()}
    return value


@pytest.fixture
def shared_world(target_up, api_recorder, new_person, new_staff) -> Iterator[World]:
    control = ControlApi(target_up.urls["control"]) if target_up.has_control else None
    world = World(target_up, api_recorder, new_person, new_staff, control)
    yield world
    world.close()
    if control is not None:
        control.close()


@pytest.fixture
def private_world(private_target: LiveTarget, api_recorder: Recorder) -> Iterator[World]:
    control = httpx.Client(base_url=private_target.urls["control"], timeout=15)

    def seed(role: str) -> Person:
        response = control.post("/persons", json={"role": role})
        response.raise_for_status()
        return Person.from_control(response.json())

    def staff(*, care_unit: str | None = None, not_care_unit: str | None = None) -> StaffMember:
        rows = [StaffMember.from_control(s) for s in control.get("/staff").json()]
        return next(s for s in rows if (care_unit is None or s.care_unit == care_unit)
                    and (not_care_unit is None or s.care_unit != not_care_unit))

    world = World(private_target, api_recorder, seed, staff)
    yield world
    world.close()
    world.reset()
    control.close()


def _describe(cell: authz.Cell) -> None:
    """The report's Swedish name of the cell, and its parameters in words."""
    spec = cell.resource.request_for(cell.role)
    allure.dynamic.title(cell.title)
    allure.dynamic.parameter("role", f"{cell.role.name}: {cell.role.description}")
    allure.dynamic.parameter("resource", f"{cell.resource.name}: {spec.method} {spec.path}")
    allure.dynamic.parameter("expected", f"{cell.expect} ({authz.EXPECT_TEXT[cell.expect]})")


@pytest.mark.parametrize(("role", "resource", "expected"), list(_cells()))
def test_authorization(role: str, resource: str, expected: str, request: pytest.FixtureRequest) -> None:
    cell = CELLS[role, resource]
    _describe(cell)
    who, what = cell.role, cell.resource
    world: World = request.getfixturevalue("private_world" if who.token == "expired" else "shared_world")

    if who.subject == "patient":
        guardian = None
        subject = world.seed("adult", **MANY_RECORDS) if who.records == "many" else world.seed("adult")
    else:
        guardian = world.seed("guardian")
        subject = guardian.child("under-13" if who.subject == "child-under-13" else "13-17")
    refs = _subject_data(world, subject)
    if who.caller == "staff-related-other-region":
        # A care relation with a unit in another region, and a message from it for that unit's staff to read.
        relation = _control(world).add_care_relation(subject, region=_other_region(world, subject), messages=1)
        refs.update(message_id=relation["messages"][0]["id"], care_unit=relation["care_unit"])
    if who.change != "none":
        _control(world).change(subject, who.change, **({"joined": True} if who.change == "moved" else {}))

    if who.caller == "patient":
        caller: Person | StaffMember = subject
    elif who.caller == "other-patient":
        caller = world.seed("adult")
        if caller.personnummer == subject.personnummer:
            pytest.skip("the target has only one adult test person: another patient cannot be tested")
    elif who.caller == "guardian":
        assert guardian is not None
        caller = guardian
    else:
        caller = world.staff(for_patient=subject, relation=STAFF_RELATION[who.caller])

    spec = what.request_for(who)
    client = world.client(caller, api=what.api_for(who), label=who.name)
    token = client.tokens.access_token if client.tokens else ""
    if who.token == "none":
        client.use_token(None)
    elif who.token == "tampered":
        client.use_token(authz.tampered(token))
    elif who.token == "alg-none":
        client.use_token(authz.alg_none(token))
    elif who.token == "expired":
        world.advance_clock(_lifetime(token) + 1)  # one second past the token's own expiry
    headers = {"X-Acting-For": refs["subject_id"]} if who.acting_for else {}

    response = client.request(spec.method, _format(spec.path, refs), json=_format(spec.json, refs),
                              headers=headers)
    problems = authz.judge(cell.expect, response, refs[what.evidence])
    problems += _whose_data(world, caller, spec, response)
    broken = cell.broken(problems)
    if problems:  # the evidence names only what the failure breaks (fixtures/evidence.py)
        request.node.user_properties.append((BROKEN_REQUIREMENTS, ",".join(broken)))
    crashed = f"\n{curl_line(response.request)}" if response.status_code >= 500 else ""
    assert not problems, (
        f"{cell.id}: {who.description} -> {spec.method} {spec.path}: expected {cell.expect}; "
        f"{'; '.join(problems)} (breaks {', '.join(broken) or 'no business rule'}){crashed}")


def _whose_data(world: World, caller: Person | StaffMember, spec: authz.Request, response: httpx.Response,
                ) -> list[str]:
    """The oracles of ownership on the cell's answer: every record in it belongs where it may (a whole list)."""
    if world.truth is None or not spec.operation or caller.id is None:
        return []
    who = oracles.Caller(str(caller.id), staff=True, care_unit=caller.care_unit) \
        if isinstance(caller, StaffMember) else oracles.Caller(str(caller.id))
    verdict = oracles.judge(who, oracles.Answer.from_response(spec.operation, response), world.truth)
    return [f"whose data: {problem}" for problem in verdict.problems]


def _control(world: World) -> ControlApi:
    if world.control is None:
        pytest.skip(f"target {world.live.target.name!r} has no control API: this cell needs a person made to measure")
    return world.control


def _other_region(world: World, subject: Person) -> str:
    """A joined region other than the subject's: the first staff member's region that differs."""
    staff = _control(world).http.get("/staff").json()
    return next(s["region"] for s in staff if s["region"] != subject.region)
