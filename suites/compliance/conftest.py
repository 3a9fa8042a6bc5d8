"""The compliance layer's glue: the OpenAPI documents read from the target, the stored audit log, the fake push
gateways and the push fan-out's control API of the embedded target, and the patient-data map beside this file.

The layer tests legal duties end to end: the audit trail of every read of patient data, access only with a care
relation or as a permitted ombud, export and erasure, consent records, push payloads free of personal data, the
retention of delivery records and privacy by default. Each test names only the requirements it checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness import compliance

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def patient_data_map() -> compliance.PatientDataMap:
    return compliance.load_patient_data_map(HERE / "patient_data.yaml")


@pytest.fixture(scope="session")
def documents(live_target: LiveTarget) -> dict[str, dict[str, Any]]:
    """The mobile and staff OpenAPI documents, read from the target."""
    with httpx.Client(timeout=30) as client:
        return {api: client.get(live_target.urls[f"{api}_openapi"]).raise_for_status().json()
                for api in ("mobile", "staff")}


@pytest.fixture
def audit_log(target_up: LiveTarget) -> Iterator[compliance.AuditLog]:
    """The audit log as the system stores it (the embedded target's control API): what a read must have written."""
    if not target_up.has_control:
        pytest.skip(f"target {target_up.target.name!r}: its stored audit log is not reachable from the harness")
    with compliance.AuditLog(target_up.urls["control"]) as log:
        yield log


@pytest.fixture
def push_control(target_up: LiveTarget) -> Iterator[Any]:
    """The push fan-out's test-mode control API (/_sut/push): devices, settings, delivery rows, retention."""
    if not target_up.has_control:
        pytest.skip(f"target {target_up.target.name!r} has no control API for the push fan-out")
    from sut.push.inspector import PushControl  # the embedded system's own client of its fan-out

    with httpx.Client(base_url=target_up.urls["base"], timeout=30) as client:
        yield PushControl(client)
