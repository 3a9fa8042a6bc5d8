"""Fixtures for the project's own tests: one reference system per test session, fresh persons per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import FaultSwitch, app_tokens

from harness.sut_process import SutProcess
from sut.push.inspector import GatewayInspector, PushControl


@pytest.fixture(scope="session")
def sut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SutProcess]:
    """The reference system in test mode, started once per session (per xdist worker)."""
    log = tmp_path_factory.mktemp("sut") / "sut.log"
    with SutProcess(log_path=log) as proc:
        yield proc


@pytest.fixture
def base_url(sut: SutProcess) -> str:
    return sut.urls["base"]


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def new_person(http: httpx.Client) -> Callable[[str], dict[str, Any]]:
    """Seed a fresh test person of a role through the control API."""

    def make(role: str = "adult") -> dict[str, Any]:
        response = http.post("/_sut/persons", json={"role": role})
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def new_client(base_url: str, new_person: Callable[[str], dict[str, Any]]) -> Iterator[Callable[..., Any]]:
    """A logged-in app client (bearer token, app user agent) for a fresh person of a role."""
    clients: list[httpx.Client] = []

    def make(role: str = "adult", *, user_agent: str = "1177-appen/3.2.0 (ios)") -> tuple[httpx.Client, dict]:
        person = new_person(role)
        client = httpx.Client(base_url=base_url, timeout=10, headers={"User-Agent": user_agent})
        clients.append(client)
        tokens = app_tokens(client, person["personnummer"])
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        person["tokens"] = tokens
        return client, person

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def faults(http: httpx.Client) -> Iterator[FaultSwitch]:
    """Switch faults on at run time (``faults.on("idor-message")``); restored afterwards."""
    switch = FaultSwitch(http)
    yield switch
    switch.off()


@pytest.fixture
def gateways(sut: SutProcess) -> Iterator[GatewayInspector]:
    """The fake push gateways' inspection API: deliveries per device, token and message, knobs, reset."""
    with GatewayInspector(sut.urls["gateway_inspect"]) as inspector:
        yield inspector


@pytest.fixture
def push(http: httpx.Client) -> PushControl:
    """The test-mode push controls: synthetic devices, care staff of a patient, delivery rows."""
    return PushControl(http)
