"""schemathesis 4 on the mobile and staff OpenAPI documents, with the oracles of ownership on every case.

One test per operation and generation mode (positive, negative), so the report has a line for each, with the
requirements that operation's checks verify and the number of cases tried; and one stateful test per document
that follows every OpenAPI link (list -> open -> act -> list again). The stateless phase drives schemathesis'
per-operation strategies with Hypothesis directly: the schema is known only once the target runs, and
schemathesis' own pytest loader does not work with pytest 9's node ids.

Every built-in check runs (server errors, status codes, content types, response schemas and headers, positive
and negative data, missing headers, unsupported methods, ignored auth; in the stateful phase also use after free
and resource availability), and so do the oracles (harness/oracles.py): every record in every answer belongs to
the caller, or to the child under 13 the caller acts for in that request, or for staff to a patient of their own
unit, judged against the control API's truth. Positive cases reach for real records: path ids, X-Acting-For and
patient ids are drawn from the records of the caller, their children and a neighbour at the same care unit, so a
200 with someone else's data is met, not hoped for. Generation is deterministic with the run's seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import allure
import httpx
import hypothesis
import pytest
from schemathesis import GenerationMode

from fixtures.api import FUZZ_CASES, ORACLE_COVERAGE, FuzzSample, FuzzSettings, login_rate_limit_handler
from fixtures.evidence import BROKEN_REQUIREMENTS
from fixtures.sut import LiveTarget
from harness import oracles
from harness.api_client import APP_USER_AGENT, curl_line, login_person, login_staff
from harness.identities import Person, StaffMember
from harness.masking import mask

# Operations that end the caller's session or data: each such case gets a session of its own, so the cases after
# it still run with a live token.
FRESH_SESSION_OPERATIONS = {"logout", "requestErasure"}
SERVER_ERROR = "BR-SEC-1"  # a 5xx breaks "every malformed request answered with a 4xx, never a 500", nothing else
MODES = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}
SMOKE = {("mobile", "listMessages", "positive"), ("mobile", "getMessage", "positive"),
         ("staff", "getStaffMessage", "positive")}


class FuzzAuth:
    """Bearer tokens for generated cases: one session for most, a fresh one for session-ending operations."""

    def __init__(self, login: Callable[[], str]) -> None:
        self._login = login
        self._token: str | None = None

    def headers_for(self, case: Any) -> dict[str, str]:
        if _operation_id(case) in FRESH_SESSION_OPERATIONS:
            token = self._login()
        else:
            if self._token is None:
                self._token = self._login()
            token = self._token
        return {"Authorization": f"Bearer {token}", "User-Agent": APP_USER_AGENT}


@dataclass
class FuzzWorld:
    """The caller, the records positive cases reach for, and the oracles' truth and findings."""

    api: str
    auth: FuzzAuth
    caller: oracles.Caller
    pools: dict[str, list[str]]  # parameter name -> real ids (own, a child's, a neighbour's)
    acting_for: list[str]  # the caller's children: one under 13 (allowed), one of 13-17 (not)
    truth: oracles.TruthSource | None
    sample: FuzzSample
    coverage: oracles.Coverage = field(default_factory=oracles.Coverage)
    cases: int = 0
    broken: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)


def _operation_id(case: Any) -> str:
    return case.operation.definition.raw.get("operationId", case.operation.label)


def _pick(pool: list[str], seed: Any, n: int) -> Any:
    """The n-th of the pool's ids and the generated value, in turn: every id is met within a budget of its size,
    and the same run picks the same (generation is deterministic, so the n-th case is too)."""
    choices = [*pool, seed]
    return choices[n % len(choices)]


def _test_personnummer(seed: str) -> str:
    """A valid synthetic personnummer (birth number 980-999, Skatteverket's test range) derived from ``seed``."""
    n = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    stem = f"19{n % 80 + 20:02d}{n // 80 % 12 + 1:02d}{n // 960 % 28 + 1:02d}{980 + n // 26880 % 20:03d}"
    digits = stem[2:]
    total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d for i, d in enumerate(map(int, digits)))
    return stem + str((10 - total % 10) % 10)


def _is_positive(case: Any) -> bool:
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    return mode == GenerationMode.POSITIVE


def _prepare(case: Any, world: FuzzWorld, *, stateful: bool = False) -> None:
    """Positive cases get a real (synthetic) personnummer, since a pattern cannot express date and check digit
    (BR-ID-1), and reach for real records: path ids (not in the stateful phase, where links give them),
    X-Acting-For and patient ids from the pools, so ownership is tested where it can fail."""
    if not _is_positive(case):
        return
    n = world.cases
    body = getattr(case, "body", None)
    if isinstance(body, dict):
        if isinstance(body.get("personnummer"), str):
            body["personnummer"] = _test_personnummer(body["personnummer"])
        if isinstance(body.get("patient_id"), str):
            body["patient_id"] = _pick(world.pools.get("patient_id", []), body["patient_id"], n)
        if isinstance(body.get("patient_ids"), list):
            body["patient_ids"] = [_pick(world.pools.get("patient_id", []), p, n + i)
                                   for i, p in enumerate(body["patient_ids"])]
    if not stateful:
        for name, value in list((case.path_parameters or {}).items()):
            if world.pools.get(name):
                case.path_parameters[name] = _pick(world.pools[name], value, n)
    if case.headers and "X-Acting-For" in case.headers and world.acting_for:
        case.headers["X-Acting-For"] = _pick(world.acting_for, case.headers["X-Acting-For"], n // 2)


def _reproduce(case: Any, headers: dict[str, str]) -> str:
    """A runnable cURL line for the case: the bearer token becomes ${TOKEN}, other secrets are masked."""
    kwargs = case.as_transport_kwargs(headers=headers)
    request = httpx.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                            headers=kwargs.get("headers"), json=kwargs.get("json"),
                            content=kwargs.get("data") if isinstance(kwargs.get("data"), (bytes, str)) else None)
    return curl_line(request)


def _body(response: Any) -> Any:
    kind = response.headers.get("content-type") or ""
    if "json" not in (" ".join(kind) if isinstance(kind, list) else kind):  # schemathesis keeps header lists
        return None
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _ownership(world: FuzzWorld) -> Callable[[Any, Any, Any], None]:
    """The oracles as a schemathesis check: whose data the answer holds (harness/oracles.py)."""

    def whose_data(ctx: Any, response: Any, case: Any) -> None:
        if world.truth is None:
            return
        operation = _operation_id(case)
        acting = case.headers.get("X-Acting-For") if case.headers else None
        answer = oracles.Answer(operation, response.status_code, _body(response), acting)
        verdict = oracles.judge(world.caller, answer, world.truth)
        world.coverage.add(operation, verdict)
        if not verdict.ok:
            world.broken.update(verdict.requirements() or oracles.requirements_for(operation))
            raise AssertionError("Whose data: " + "; ".join(verdict.problems))

    return whose_data


def _run_case(case: Any, world: FuzzWorld) -> None:
    _prepare(case, world)
    headers = {**world.auth.headers_for(case)}
    world.cases += 1
    response = case.call(headers=headers)
    curl = lambda: _reproduce(case, headers)  # noqa: E731 - made only when kept or failing
    world.sample.add(case.operation.label, response.status_code, response.content, curl)
    if response.status_code >= 500:
        world.server_errors.append(f"# {case.operation.label} -> HTTP {response.status_code}\n{curl()}")
    try:
        case.validate_response(response, headers=headers, additional_checks=[_ownership(world)])
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        allure.attach(mask(f"# {case.operation.label}\n# export TOKEN=<a fresh access token>\n{curl()}\n"),
                      name=f"reproduce {case.operation.label}.curl.sh", attachment_type=allure.attachment_type.TEXT)
        raise


def _auth(live: LiveTarget, who: Person | StaffMember) -> tuple[FuzzAuth, httpx.Client]:
    client = httpx.Client(timeout=30, headers={"User-Agent": APP_USER_AGENT})
    handler = login_rate_limit_handler(live)

    def login() -> str:
        if isinstance(who, StaffMember):
            return login_staff(client, live.urls["idp"], who.hsa_id, on_rate_limited=handler).access_token
        return login_person(client, live.urls["idp"], who.personnummer, on_rate_limited=handler).access_token

    return FuzzAuth(login), client


def _ids(person: Person, kind: str, key: str = "id") -> list[str]:
    return [row[key] for row in person.records.get(kind, ())]


@pytest.fixture
def fuzz_world(request: pytest.FixtureRequest, target_up: LiveTarget, new_person, new_staff,
               fuzz_sample: FuzzSample) -> Iterator[Callable[[str], FuzzWorld]]:
    """``fuzz_world("mobile")``: a guardian (or, for "staff", staff of the guardian's own unit) with records of every
    kind, their children, and a neighbour at the same care unit whose records must never show.

    On the embedded target the guardian and the neighbour share a care unit of their own: the staff API's fuzzing
    sends to all of a unit's patients (createBulkSend), which must not reach the persons of tests running at the
    same time (a start screen's unread count changed under a web test that way)."""
    made: list[tuple[httpx.Client, oracles.ControlTruth | None]] = []

    def make(api: str) -> FuzzWorld:
        # Records of every kind on the embedded target; a real target's configured persons have what they have.
        extra = {"devices": 1, "consents": 2, "audit_lines": 2, "care_unit": "new"} if target_up.has_control else {}
        guardian = new_person("guardian", **extra)
        child, teen = guardian.child("under-13"), guardian.child("13-17")
        neighbour = new_person("adult", region=guardian.region, care_unit=guardian.care_unit, devices=2, consents=2,
                               audit_lines=3) if target_up.has_control else guardian
        everyone = (guardian, child, teen, neighbour)
        pools = {
            "message_id": [i for p in everyone for i in _ids(p, "messages")],
            "booking_id": [i for p in everyone for i in _ids(p, "bookings")],
            "consent_id": [i for p in (guardian, neighbour) for i in _ids(p, "consents")],
            "installation_id": [i for p in (guardian, neighbour) for i in _ids(p, "devices", "installation_id")],
            "patient_id": [str(p.id) for p in everyone if p.id],
        }
        truth = oracles.ControlTruth(target_up.urls["control"]) if target_up.has_control else None
        if api == "staff":
            staff = new_staff(for_patient=guardian, relation="own-unit")
            who: Person | StaffMember = staff
            caller = oracles.Caller(str(staff.id), staff=True, care_unit=staff.care_unit)
        else:
            who, caller = guardian, oracles.Caller(str(guardian.id))
        auth, client = _auth(target_up, who)
        made.append((client, truth))
        return FuzzWorld(api, auth, caller, pools, [str(child.id), str(teen.id)], truth, fuzz_sample)

    yield make
    for client, truth in made:
        client.close()
        if truth is not None:
            truth.close()


def _report(request: pytest.FixtureRequest, world: FuzzWorld, title: str) -> None:
    """Cases tried, what the oracles judged, and what a failure breaks: a 500 is a server error, not a rule."""
    allure.dynamic.parameter("cases", world.cases)
    allure.attach(world.coverage.table(), name="oracles: records judged per operation and kind.md",
                  attachment_type=allure.attachment_type.TEXT)
    request.node.user_properties.append((ORACLE_COVERAGE, json.dumps(world.coverage.as_json())))
    request.node.user_properties.append((FUZZ_CASES, str(world.cases)))
    if world.server_errors:
        request.node.user_properties.append((BROKEN_REQUIREMENTS, SERVER_ERROR))
        allure.attach(mask("\n\n".join(world.server_errors[:10]) + "\n"), name=f"server errors in {title}.curl.sh",
                      attachment_type=allure.attachment_type.TEXT)
    elif world.broken:
        request.node.user_properties.append((BROKEN_REQUIREMENTS, ",".join(sorted(world.broken))))


def _server_error_text(world: FuzzWorld) -> str:
    return (f"server error: the system answered 5xx ({len(world.server_errors)} case(s)), a defect of the system, "
            f"not a broken business rule; the first:\n{world.server_errors[0]}\n\n") if world.server_errors else ""


def _operations() -> Iterator[Any]:
    for api, operations in oracles.OPERATIONS.items():
        for operation in operations:
            for mode in MODES:
                reqs = ("BR-SEC-1", *oracles.requirements_for(operation))
                what = ("giltiga anrop, också mot andras och barnens poster, besvaras enligt OpenAPI-dokumentet"
                        if mode == "positive" else "ogiltiga anrop får 4xx enligt OpenAPI-dokumentet")
                whose = ", och svaret innehåller bara data som den som frågar får se" \
                    if oracles.requirements_for(operation) else ""
                marks = [pytest.mark.req(*reqs), pytest.mark.check(f"{operation}: {what}, aldrig 500{whose}."),
                         pytest.mark.destructive]
                if (api, operation, mode) in SMOKE:
                    marks.append(pytest.mark.smoke)
                yield pytest.param(api, operation, mode, id=f"{api}-{operation}-{mode}", marks=marks)


@pytest.mark.parametrize(("api", "operation", "mode"), list(_operations()))
def test_operation(api: str, operation: str, mode: str, fuzz_world, fuzz_settings: FuzzSettings,
                   request: pytest.FixtureRequest) -> None:
    schema = request.getfixturevalue(f"{api}_schema")
    found = schema.find_operation_by_id(operation)
    world = fuzz_world(api)
    allure.dynamic.title(f"{api} {operation} ({mode})")

    @hypothesis.settings(max_examples=fuzz_settings.budget, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    @hypothesis.given(case=found.as_strategy(generation_mode=MODES[mode]))
    def run(case: Any) -> None:
        _run_case(case, world)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pytest.skip(f"{operation} takes no input that could be invalid: there is no negative case")
    except Exception as exc:  # noqa: BLE001 - every failure of the operation, with the server errors named first
        raise AssertionError(f"{_server_error_text(world)}{api} {operation} ({mode} data): {exc}") from None
    finally:
        _report(request, world, f"{api} {operation} {mode}")


@pytest.mark.parametrize("api", list(oracles.OPERATIONS))
def test_every_documented_operation_is_fuzzed(api: str, request: pytest.FixtureRequest) -> None:
    """Varje operation i OpenAPI-dokumentet har sina egna fuzz-tester och sin rad i orakeltabellen."""
    schema = request.getfixturevalue(f"{api}_schema")
    documented = {result.ok().definition.raw.get("operationId") for result in schema.get_all_operations()}
    assert documented == set(oracles.OPERATIONS[api]), (
        f"operations of the live {api} document without a test: {sorted(documented - set(oracles.OPERATIONS[api]))}"
        f"; listed but gone: {sorted(set(oracles.OPERATIONS[api]) - documented)} (harness/oracles.py OPERATIONS)")


def _stateful(request: pytest.FixtureRequest, world: FuzzWorld, schema: Any, fuzz: FuzzSettings) -> None:
    base = schema.as_state_machine()
    check = _ownership(world)
    failed_checks: list[str] = []  # every check that failed on an answer, as a cURL line to reproduce it

    class Followed(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            _prepare(case, world, stateful=True)
            world.cases += 1
            return {"headers": world.auth.headers_for(case)}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            headers = kwargs.get("headers") or {}
            curl = lambda: _reproduce(case, headers)  # noqa: E731
            world.sample.add(case.operation.label, response.status_code, response.content, curl)
            if response.status_code >= 500:
                world.server_errors.append(f"# {case.operation.label} -> HTTP {response.status_code}\n{curl()}")
            try:
                super().validate_response(response, case, additional_checks=[*(additional_checks or []), check],
                                          **kwargs)
            except BaseException as exc:
                failed_checks.append(f"# {case.operation.label}: {str(exc).strip()[:500]}\n{curl()}")
                allure.attach(mask(f"# {case.operation.label}\n{curl()}\n"),
                              name=f"reproduce {case.operation.label}.curl.sh",
                              attachment_type=allure.attachment_type.TEXT)
                raise

    try:
        Followed.run(settings=hypothesis.settings(
            max_examples=fuzz.budget, stateful_step_count=8, derandomize=True, database=None, deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck), phases=[hypothesis.Phase.generate]))
    except hypothesis.errors.FlakyStrategyDefinition as exc:
        # Which rules can run depends on what the system answered before (the links' bundles), and the system's
        # state moves on between Hypothesis' replays of a prefix (consents supersede, lists grow). The engine then
        # stops exploring: a limit of stateful testing against a live system, not a defect of the system. What
        # was judged stays judged; a check that failed on the way still fails the test, with its request.
        if failed_checks or world.server_errors:
            raise AssertionError(f"{_server_error_text(world)}" + "\n\n".join(failed_checks)) from None
        allure.attach(f"Utforskningen avslutades efter {world.cases} anrop: {exc}".strip(),
                      name="stateful exploration ended early", attachment_type=allure.attachment_type.TEXT)
    except Exception as exc:  # noqa: BLE001 - as above
        raise AssertionError(f"{_server_error_text(world)}{exc}") from None
    finally:
        _report(request, world, f"{world.api} stateful")


def _stateful_params() -> Iterator[Any]:
    for api, operations in oracles.OPERATIONS.items():
        reqs = ("BR-SEC-1", *dict.fromkeys(r for op in operations for r in oracles.requirements_for(op)))
        yield pytest.param(api, id=api, marks=[pytest.mark.req(*reqs), pytest.mark.destructive, pytest.mark.check(
            f"Kedjor av anrop i {api}-API:t längs OpenAPI-dokumentets länkar (lista, öppna, agera, lista igen) får "
            "svar enligt dokumentet, och varje svar innehåller bara data som den som frågar får se.")])


@pytest.mark.parametrize("api", list(_stateful_params()))
def test_stateful(api: str, fuzz_world, fuzz_settings: FuzzSettings, request: pytest.FixtureRequest) -> None:
    world = fuzz_world(api)
    allure.dynamic.title(f"{api} stateful: every link followed")
    _stateful(request, world, request.getfixturevalue(f"{api}_schema"), fuzz_settings)
