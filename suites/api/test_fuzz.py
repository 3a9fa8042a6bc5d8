"""schemathesis 4 on the mobile and staff OpenAPI documents: stateless and stateful, every check, negative data.

The stateless phase drives schemathesis' per-operation strategies with Hypothesis directly: the schema is known
only once the target runs, and schemathesis' own pytest loader (``from_fixture``) does not work with pytest 9.2's
node ids. Every operation is tried in positive and negative mode, and all failures are reported together.

Every built-in check runs (server errors, status codes, content types, response schemas and headers, positive
and negative data, missing headers, unsupported methods, ignored auth; in the stateful phase also use after free
and resource availability). Generation is deterministic with the run's seed; ``--fuzz-budget`` sets examples per
operation. A failing case attaches a cURL line that reproduces it after ``export TOKEN=...``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import allure
import httpx
import hypothesis
import pytest
from schemathesis import GenerationMode

from fixtures.api import FuzzSample, FuzzSettings, login_rate_limit_handler
from fixtures.sut import LiveTarget
from harness.api_client import APP_USER_AGENT, curl_line, login_person, login_staff
from harness.identities import Person, StaffMember
from harness.masking import mask

# Operations that end the caller's session or data: each such case gets a session of its own, so the cases after
# it still run with a live token.
FRESH_SESSION_OPERATIONS = {"logout", "requestErasure"}


class FuzzAuth:
    """Bearer tokens for generated cases: one session for most, a fresh one for session-ending operations."""

    def __init__(self, login: Callable[[], str]) -> None:
        self._login = login
        self._token: str | None = None

    def headers_for(self, case: Any) -> dict[str, str]:
        if case.operation.definition.raw.get("operationId") in FRESH_SESSION_OPERATIONS:
            token = self._login()
        else:
            if self._token is None:
                self._token = self._login()
            token = self._token
        return {"Authorization": f"Bearer {token}", "User-Agent": APP_USER_AGENT}


def _auth(live: LiveTarget, who: Person | StaffMember) -> Iterator[FuzzAuth]:
    client = httpx.Client(timeout=15, headers={"User-Agent": APP_USER_AGENT})
    handler = login_rate_limit_handler(live)

    def login() -> str:
        if isinstance(who, StaffMember):
            return login_staff(client, live.urls["idp"], who.hsa_id, on_rate_limited=handler).access_token
        return login_person(client, live.urls["idp"], who.personnummer, on_rate_limited=handler).access_token

    yield FuzzAuth(login)
    client.close()


@pytest.fixture
def mobile_auth(target_up: LiveTarget, new_person) -> Iterator[FuzzAuth]:
    """A guardian: every mobile operation applies to them, acting for a child included."""
    yield from _auth(target_up, new_person("guardian"))


@pytest.fixture
def staff_auth(target_up: LiveTarget, new_staff) -> Iterator[FuzzAuth]:
    yield from _auth(target_up, new_staff())


def _reproduce(case: Any, headers: dict[str, str]) -> str:
    """A runnable cURL line for the case: the bearer token becomes ${TOKEN}, other secrets are masked."""
    kwargs = case.as_transport_kwargs(headers=headers)
    request = httpx.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                            headers=kwargs.get("headers"), json=kwargs.get("json"),
                            content=kwargs.get("data") if isinstance(kwargs.get("data"), (bytes, str)) else None)
    return curl_line(request)


def _test_personnummer(seed: str) -> str:
    """A valid synthetic personnummer (birth number 980-999, Skatteverket's test range) derived from ``seed``."""
    n = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    stem = f"19{n % 80 + 20:02d}{n // 80 % 12 + 1:02d}{n // 960 % 28 + 1:02d}{980 + n // 26880 % 20:03d}"
    digits = stem[2:]
    total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d for i, d in enumerate(map(int, digits)))
    return stem + str((10 - total % 10) % 10)


def _realistic(case: Any) -> None:
    """Positive cases get a real (synthetic) personnummer: a pattern cannot express date and check digit, so a
    schema-valid '0000000000' is rightly refused with the documented 422 (BR-ID-1)."""
    body = getattr(case, "body", None)
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    if isinstance(body, dict) and isinstance(body.get("personnummer"), str) and mode == GenerationMode.POSITIVE:
        body["personnummer"] = _test_personnummer(body["personnummer"])


def _call_and_validate(case: Any, auth: FuzzAuth, sample: FuzzSample) -> None:
    _realistic(case)
    headers = auth.headers_for(case)
    try:
        response = case.call_and_validate(headers=headers)
        sample.add(case.operation.label, response.status_code, response.content, lambda: _reproduce(case, headers))
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        allure.attach(mask(f"# {case.operation.label}\n# export TOKEN=<a fresh access token>\n"
                           f"{_reproduce(case, headers)}\n"),
                      name=f"reproduce {case.operation.label}.curl.sh", attachment_type=allure.attachment_type.TEXT)
        raise


def _stateless(schema: Any, auth: FuzzAuth, fuzz: FuzzSettings, sample: FuzzSample) -> None:
    """Every operation, positive then negative data, ``fuzz.budget`` examples each; all failures at the end."""
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an invalid operation definition raises here, naming it
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=fuzz.budget, derandomize=True, database=None, deadline=None,
                                 suppress_health_check=list(hypothesis.HealthCheck),
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                _call_and_validate(case, auth, sample)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # no negative data exists for an operation without inputs
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{operation.label} ({mode.value} data): {exc}")
    assert operations, "the OpenAPI document lists no operation"
    assert not failures, f"{len(failures)} of {operations * 2} operation runs failed:\n\n" + "\n\n".join(failures)


@pytest.mark.req("BR-SEC-1")
@pytest.mark.destructive
@pytest.mark.smoke
def test_mobile_api_stateless(mobile_schema: Any, mobile_auth: FuzzAuth, fuzz_settings: FuzzSettings,
                              fuzz_sample: FuzzSample) -> None:
    """Appens API svarar enligt sitt OpenAPI-dokument på giltiga och ogiltiga anrop, aldrig med 500."""
    _stateless(mobile_schema, mobile_auth, fuzz_settings, fuzz_sample)


@pytest.mark.req("BR-SEC-1")
@pytest.mark.destructive
def test_staff_api_stateless(staff_schema: Any, staff_auth: FuzzAuth, fuzz_settings: FuzzSettings,
                             fuzz_sample: FuzzSample) -> None:
    """Personalens API svarar enligt sitt OpenAPI-dokument på giltiga och ogiltiga anrop, aldrig med 500."""
    _stateless(staff_schema, staff_auth, fuzz_settings, fuzz_sample)


def _stateful(schema: Any, auth: FuzzAuth, fuzz: FuzzSettings, sample: FuzzSample) -> None:
    base = schema.as_state_machine()

    class Authenticated(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            _realistic(case)
            return {"headers": auth.headers_for(case)}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, additional_checks=additional_checks, **kwargs)
            except BaseException:
                allure.attach(mask(f"# {case.operation.label}\n{_reproduce(case, kwargs.get('headers', {}))}\n"),
                              name=f"reproduce {case.operation.label}.curl.sh",
                              attachment_type=allure.attachment_type.TEXT)
                raise
            sample.add(case.operation.label, response.status_code, response.content,
                       lambda: _reproduce(case, kwargs.get("headers", {})))

    Authenticated.run(settings=hypothesis.settings(
        max_examples=fuzz.budget, stateful_step_count=6, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck), phases=[hypothesis.Phase.generate]))


@pytest.mark.req("BR-SEC-1")
@pytest.mark.destructive
def test_mobile_api_stateful(mobile_schema: Any, mobile_auth: FuzzAuth, fuzz_settings: FuzzSettings,
                             fuzz_sample: FuzzSample) -> None:
    """Kedjor av anrop i appens API, längs OpenAPI-dokumentets länkar, får svar enligt dokumentet."""
    _stateful(mobile_schema, mobile_auth, fuzz_settings, fuzz_sample)


@pytest.mark.req("BR-SEC-1")
@pytest.mark.destructive
def test_staff_api_stateful(staff_schema: Any, staff_auth: FuzzAuth, fuzz_settings: FuzzSettings,
                            fuzz_sample: FuzzSample) -> None:
    """Kedjor av anrop i personalens API, längs OpenAPI-dokumentets länkar, får svar enligt dokumentet."""
    _stateful(staff_schema, staff_auth, fuzz_settings, fuzz_sample)
