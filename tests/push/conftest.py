"""Fixtures of the push fan-out tests: the gateways' inspection API, push set-up, staff sends."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from support import reset_keeping_faults, staff_token

from harness.sut_process import SutProcess
from sut.push.inspector import PushControl

STAFF = "/staff/v1"


@pytest.fixture(scope="module", autouse=True)
def _fresh_limits(sut: SutProcess) -> None:
    """A fresh login and send allowance per module: these tests log in patients and staff from one address."""
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        reset_keeping_faults(client)


@pytest.fixture(scope="module")
def _staff_tokens() -> dict[str, str]:
    return {}


@pytest.fixture
def send(http: httpx.Client, push: PushControl, _staff_tokens: dict[str, str]) -> Callable[..., str]:
    """Send a staff message to a patient (from a unit with a care relation); returns the message id."""

    def _send(patient_id: str, subject: str = "Påminnelse", *, fresh_login: bool = False) -> str:
        hsa_id = push.care_staff(patient_id)[0]["hsa_id"]
        if hsa_id not in _staff_tokens or fresh_login:
            _staff_tokens[hsa_id] = staff_token(http, hsa_id)
        response = http.post(f"{STAFF}/messages", headers={"Authorization": f"Bearer {_staff_tokens[hsa_id]}"},
                             json={"patient_id": patient_id, "subject": subject, "body": "Hej!"})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return _send
