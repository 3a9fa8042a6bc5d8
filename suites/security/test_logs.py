"""The system's own log, as the run kept it before the harness masked its copy, holds no personnummer and no token
after the layer's logins, refreshes and sends (BR-SEC-1, OSL-25-1)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness import security
from harness.api_client import ApiClient
from harness.identities import Person, StaffMember
from harness.login import refresh


@pytest.mark.req("BR-SEC-1", "OSL-25-1")
def test_the_systems_log_holds_no_personnummer_or_token(target_up: LiveTarget, new_person: Callable[..., Person],
                                                        new_staff: Callable[..., StaffMember],
                                                        new_api_client: Callable[..., ApiClient],
                                                        target_urls: dict[str, str],
                                                        security_policy: security.Policy) -> None:
    """Systemets egen logg innehåller inga personnummer och inga token efter inloggning, förnyelse och utskick."""
    if target_up.shared is None:
        pytest.skip(f"target {target_up.target.name!r}: its logs are not reachable from the harness")
    person = new_person("adult")
    app = new_api_client(person)
    with httpx.Client(timeout=15) as idp:
        renewed = refresh(idp, target_urls["idp"], app.tokens.refresh_token)
        assert renewed.status_code == 200, renewed.text
    staff = new_api_client(new_staff(for_patient=person))
    sent = staff.post("/messages", json={"patient_id": person.id, "subject": "Provsvar", "body": "Se 1177."})
    assert sent.status_code == 201, sent.text
    assert app.get("/lookup-that-does-not-exist").status_code == 404
    log = target_up.shared.raw_log.read_text(encoding="utf-8", errors="replace")
    known = (person.personnummer, app.tokens.access_token, app.tokens.refresh_token,
             renewed.json()["refresh_token"], renewed.json()["access_token"])
    found = []
    for number, line in enumerate(log.splitlines(), start=1):
        leaks = security.secrets_in(line, known=known, keys=security_policy.secret_query_keys)
        found += [f"line {number}: {leak}" for leak in leaks]
    assert log.strip(), "the system's log is empty: nothing was judged"
    assert not found, f"the system's log ({len(log.splitlines())} lines) holds secrets:\n" + "\n".join(found[:20])
