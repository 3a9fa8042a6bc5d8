"""X-Acting-For on every operation of both APIs: honoured where declared, refused everywhere else (BR-PROXY-1).

Each operation of the mobile and staff OpenAPI documents is sent with ``X-Acting-For`` naming (a) the caller's
own child under 13, (b) the caller's child of 13-17 and (c) a stranger. An operation that declares the header
must honour it: for (a) the answer concerns the child, for (b) and (c) it is a 403 problem+json. An operation
that does not declare it must answer a problem+json 4xx for all three and change nothing; the same request
without the header then succeeds, so the refusal was the header's doing and not a bad request. A guardian who
acted for a child and got their own data, or erased their own settings, is the defect this catches.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import allure
import httpx
import pytest

from fixtures.sut import LiveTarget
from harness.api_client import ApiClient
from harness.identities import Person, StaffMember

PROBLEM_JSON = "application/problem+json"
HEADER = "x-acting-for"
VARIANTS = ("child under 13", "child 13-17", "stranger")
SHARED = {"care_unit", "region"}
BULK_WAIT_S = 60  # a one-patient bulk send ends in well under a second; this only bounds a hung job
# Journalen (and the log data of PDL 8 kap.) is never open to an ombud, even for a child under 13 (BR-PROXY-1,
# PDL 5 kap. 5 §): an operation of this kind may declare the header only to refuse it with a clear reason.
NEVER_AS_OMBUD = {"GET /journal"}


@dataclass(frozen=True)
class Operation:
    """One operation to check: how to build a request the caller may send for themselves."""

    api: str  # mobile or staff
    method: str
    path: str
    body: Callable[[dict[str, str]], Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _settings(_: dict[str, str]) -> dict[str, bool]:
    return {"push": False, "sms": True, "email": True}


def _device(_: dict[str, str]) -> dict[str, str]:
    return {"platform": "ios", "token": secrets.token_hex(32), "app_version": "3.2.0"}


def _message(refs: dict[str, str]) -> dict[str, str]:
    return {"patient_id": refs["patient_id"], "subject": "Påminnelse", "body": "Hej! Välkommen på återbesök."}


# Every operation of both documents, with a request body a caller may send for themselves. A new operation in
# either document fails test_every_operation_is_checked until it is added here.
OPERATIONS = [Operation(*spec) for spec in (
    ("mobile", "GET", "/me"),
    ("mobile", "GET", "/acting-for"),
    ("mobile", "GET", "/services"),
    ("mobile", "GET", "/start"),
    ("mobile", "GET", "/inbox/messages"),
    ("mobile", "GET", "/inbox/messages/{message_id}"),
    ("mobile", "POST", "/inbox/messages/{message_id}/read"),
    ("mobile", "DELETE", "/inbox/messages/{message_id}"),
    ("mobile", "GET", "/bookings"),
    ("mobile", "POST", "/bookings/{booking_id}/cancel"),
    ("mobile", "GET", "/journal"),
    ("mobile", "GET", "/video-meetings"),
    ("mobile", "GET", "/notification-settings"),
    ("mobile", "PUT", "/notification-settings", _settings),
    ("mobile", "PUT", "/devices/{installation_id}", _device),
    ("mobile", "GET", "/devices"),
    ("mobile", "DELETE", "/devices/{installation_id}"),
    ("mobile", "POST", "/consents", lambda _: {"purpose": "push", "text_version": "1.0"}),
    ("mobile", "GET", "/consents"),
    ("mobile", "DELETE", "/consents/{consent_id}"),
    ("mobile", "POST", "/sso/tickets", lambda _: {"audience": "1177-eservices"}),
    ("mobile", "POST", "/session/logout"),
    ("mobile", "GET", "/audit-extract"),
    ("mobile", "GET", "/export"),
    ("mobile", "POST", "/erasure"),
    ("staff", "GET", "/me"),
    ("staff", "POST", "/patients/lookup", lambda refs: {"personnummer": refs["personnummer"]}),
    ("staff", "POST", "/messages", _message),
    ("staff", "GET", "/messages/{message_id}"),
    ("staff", "POST", "/bulk-sends", lambda refs: {"patient_ids": [refs["patient_id"]], "subject": "Påminnelse",
                                                    "body": "Hej! Dags att boka en tid."}),
    ("staff", "GET", "/bulk-sends/{job_id}"),
)]


def _param(op: Operation) -> Any:
    marks = [pytest.mark.req("BR-PROXY-1")]
    if op.label in NEVER_AS_OMBUD:
        marks.append(pytest.mark.req("PDL-5-5-OMBUD"))
    if op.method != "GET":
        marks.append(pytest.mark.destructive)
    prefix = "" if op.api == "mobile" else "staff "
    return pytest.param(op, id=f"{prefix}{op.label}", marks=marks)


@dataclass
class Outcome:
    operation: str
    declared: bool
    results: dict[str, str] = field(default_factory=dict)


TABLE: list[Outcome] = []


@pytest.fixture(scope="module")
def documents(live_target: LiveTarget) -> dict[str, dict[str, Any]]:
    """Both OpenAPI documents, read from the target."""
    with httpx.Client(timeout=30) as client:
        return {api: client.get(live_target.urls[f"{api}_openapi"]).raise_for_status().json()
                for api in ("mobile", "staff")}


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    """The whole table of operations and outcomes, for the report (Allure) and the terminal."""
    yield
    if TABLE:
        text = _markdown(TABLE)
        print("\n" + text)
        allure.attach(text, name="X-Acting-For per operation.md", attachment_type=allure.attachment_type.TEXT)


def _markdown(rows: list[Outcome]) -> str:
    lines = ["| operation | declares X-Acting-For | " + " | ".join(VARIANTS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in VARIANTS) + " |"]
    lines += [f"| {r.operation} | {'yes' if r.declared else 'no'} | "
              + " | ".join(r.results.get(v, "") for v in VARIANTS) + " |" for r in rows]
    return "\n".join(lines)


def _declares(documents: dict[str, dict[str, Any]], op: Operation) -> bool:
    operation = documents[op.api]["paths"][op.path][op.method.lower()]
    return any(p.get("in") == "header" and p.get("name", "").lower() == HEADER
               for p in operation.get("parameters", []))


def _ids(value: Any) -> set[str]:
    """The ids of the records a JSON answer holds (a care unit or region is shared, so it says nothing)."""
    if isinstance(value, dict):
        found = {value["id"]} if isinstance(value.get("id"), str) else set()
        return found.union(*(_ids(v) for k, v in value.items() if k not in SHARED))
    if isinstance(value, list):
        return set().union(*(_ids(v) for v in value))
    return set()


def _problem(response: httpx.Response) -> str | None:
    """Why an answer is not a problem+json 4xx, or None when it is one."""
    if not 400 <= response.status_code < 500:
        return f"HTTP {response.status_code}"
    if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return f"HTTP {response.status_code} as {response.headers.get('content-type')}"
    return None


class Caller:
    """A guardian logged in on both APIs' terms, with the resources each operation needs."""

    def __init__(self, guardian: Person, stranger: Person, new_staff: Callable[..., StaffMember],
                 new_api_client: Callable[..., ApiClient]) -> None:
        self.guardian = guardian
        self.targets = {"child under 13": str(guardian.child("under-13").id),
                        "child 13-17": str(guardian.child("13-17").id), "stranger": str(stranger.id)}
        self.mobile = new_api_client(guardian, label="guardian")
        # Staff of a unit that has cared for the guardian, so the staff operations work without the header.
        unit = self.mobile.get("/inbox/messages").json()["messages"][0]["care_unit"]["id"]
        self.staff = new_api_client(new_staff(care_unit=unit), label="staff")

    def client(self, op: Operation) -> ApiClient:
        return self.mobile if op.api == "mobile" else self.staff

    def own_refs(self, op: Operation) -> dict[str, str]:
        """Ids of the guardian's own resources: what an ignored header would reach instead of the child's."""
        messages = self.mobile.get("/inbox/messages").json()["messages"]
        bookings = [b for b in self.mobile.get("/bookings").json()["bookings"] if b["status"] == "booked"]
        installation = str(uuid.uuid4())
        assert self.mobile.put(f"/devices/{installation}", json=_device({})).status_code in (200, 201)
        consent = self.mobile.post("/consents", json={"purpose": "push", "text_version": "1.0"})
        assert consent.status_code == 201, consent.text
        refs = {"message_id": messages[0]["id"], "booking_id": bookings[0]["id"], "installation_id": installation,
                "consent_id": consent.json()["id"], "patient_id": str(self.guardian.id),
                "personnummer": self.guardian.personnummer}
        if op.api != "staff":
            return refs
        sent = self.staff.post("/messages", json=_message(refs))
        assert sent.status_code == 201, f"setup: the staff member cannot message the guardian: {sent.text}"
        bulk = self.staff.post("/bulk-sends", json={"patient_ids": [refs["patient_id"]], "subject": "Påminnelse",
                                                    "body": "Hej!"})
        assert bulk.status_code == 202, bulk.text
        job_id = bulk.json()["job_id"]
        self._wait_for_bulk(job_id)
        return {**refs, "staff_message_id": sent.json()["id"], "job_id": job_id}

    def _wait_for_bulk(self, job_id: str) -> None:
        """The bulk send writes the guardian's message in the background: let it finish before any snapshot, or
        its message lands between 'before' and 'after' and reads as a change the refused request made."""
        deadline = time.monotonic() + BULK_WAIT_S
        while True:
            state = self.staff.get(f"/bulk-sends/{job_id}").json()["state"]
            if state != "running":
                assert state == "done", f"setup: the bulk send ended {state}"
                return
            assert time.monotonic() < deadline, f"setup: the bulk send still runs after {BULK_WAIT_S} s"
            time.sleep(0.05)

    def child_refs(self) -> dict[str, str]:
        """Ids of the young child's resources, read as their ombud."""
        with self.mobile.acting_for(self.targets["child under 13"]) as client:
            messages = client.get("/inbox/messages").json()["messages"]
            bookings = [b for b in client.get("/bookings").json()["bookings"] if b["status"] == "booked"]
        return {"message_id": messages[0]["id"], "booking_id": bookings[0]["id"]}

    def snapshot(self) -> dict[str, Any]:
        """The guardian's own data and session, less what every read adds (the export time, the access log)."""
        export = self.mobile.get("/export")
        if export.status_code != 200:
            return {"session": export.status_code}  # a logout that should have been refused
        return {k: v for k, v in export.json().items() if k not in {"exported_at", "access_log"}}


def _request(caller: Caller, op: Operation, refs: dict[str, str], acting_for: str | None) -> httpx.Response:
    fill = {**refs, "message_id": refs["staff_message_id"]} if op.api == "staff" else refs
    headers = {"X-Acting-For": acting_for} if acting_for is not None else {}
    body = op.body(refs) if op.body else None
    return caller.client(op).request(op.method, op.path.format(**fill), json=body, headers=headers)


@pytest.fixture
def caller(new_person, new_staff, new_api_client) -> Caller:
    return Caller(new_person("guardian"), new_person("adult"), new_staff, new_api_client)


def test_every_operation_is_checked(documents: dict[str, dict[str, Any]]) -> None:
    """Varje operation i båda OpenAPI-dokumenten, lästa från testmålet, prövas med X-Acting-For."""
    published = {(api, method.upper(), path) for api, doc in documents.items()
                 for path, item in doc["paths"].items() for method in item
                 if method in {"get", "put", "post", "delete", "patch"}}
    checked = {(op.api, op.method, op.path) for op in OPERATIONS}
    assert published - checked == set(), f"operations not checked for X-Acting-For: {sorted(published - checked)}"
    assert checked - published == set(), f"checked operations the target does not publish: {checked - published}"


@pytest.mark.parametrize("op", [_param(op) for op in OPERATIONS])
def test_acting_for_is_honoured_or_refused(op: Operation, caller: Caller,
                                           documents: dict[str, dict[str, Any]]) -> None:
    """X-Acting-For följs där operationen anger det och rätten finns, annars nekas anropet och inget ändras."""
    declared = _declares(documents, op)
    outcome = Outcome(op.label if op.api == "mobile" else f"staff {op.label}", declared)
    TABLE.append(outcome)
    own = caller.own_refs(op)
    failures: list[str] = []

    for variant, target in caller.targets.items():
        honoured = declared and variant == "child under 13" and op.label not in NEVER_AS_OMBUD
        if honoured:
            child = caller.child_refs()
            baseline = _request(caller, op, own, None) if op.method == "GET" else None
            response = _request(caller, op, {**own, **child}, target)
            verdict = _concerns_child(response, baseline, target, child)
            outcome.results[variant] = "honoured" if verdict is None else f"FAILED: {verdict}"
        else:
            before = caller.snapshot()
            response = _request(caller, op, own, target)
            refused = _problem(response)
            if declared and refused is None and response.status_code != 403:
                refused = f"HTTP {response.status_code}, not 403"
            after = caller.snapshot()
            verdict = refused or (None if after == before else "refused, but the guardian's own data changed")
            outcome.results[variant] = (f"refused {response.status_code} {response.json().get('type', '')}"
                                        if verdict is None else f"FAILED: {verdict}")
        if verdict is not None:
            failures.append(f"{variant}: {verdict}")

    if not declared:
        # The same request without the header works, so the refusals above were the header's doing.
        plain = _request(caller, op, own, None)
        if not 200 <= plain.status_code < 300:
            failures.append(f"without X-Acting-For the request itself fails (HTTP {plain.status_code}): "
                            "the check proves nothing")
    allure.attach(_markdown([outcome]), name=f"{outcome.operation}.md", attachment_type=allure.attachment_type.TEXT)
    assert not failures, (f"{outcome.operation} ({'declares' if declared else 'does not declare'} X-Acting-For): "
                          + "; ".join(failures))


def _concerns_child(response: httpx.Response, baseline: httpx.Response | None, child_id: str,
                    child: dict[str, str]) -> str | None:
    """Why an answer for the young child is not about the child, or None when it is."""
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code} for own child under 13"
    if response.status_code == 204 or not response.content:
        return None  # a change to the child's own resource: without the header honoured, that id is a 404
    body = response.json()
    if body.get("subject_id") is not None:
        return None if body["subject_id"] == child_id else "the answer is about someone else"
    ids = _ids(body)
    if baseline is not None and baseline.status_code == 200:
        own = _ids(baseline.json())
        if ids and not ids & own:
            return None
        return "the answer is the caller's own data, not the child's"
    return None if ids & set(child.values()) else "the answer names none of the child's resources"
