"""Many audited reads and staff sends at once on one SQLite file: every request answers, none waits on a lock.

Each journal read touches the caller's session (a write) and appends one audit record per entry (BR-AUDIT-1);
each send writes a message and its outbox event, which the push fan-out then claims from its own connections.
Before the fix, a request that held SQLite's write lock waited for the audit chain's lock while the chain's
holder waited for the write lock: a deadlock that only SQLite's 30 s busy timeout broke, with a 500.

The web pages had one of their own: the page's list of children was a ``functools.cached_property``, whose lock
Python 3.11 shares between every page being drawn. A page that had committed its audit record waited for the write
lock while holding that lock; the page holding the write lock waited for it. An error page drew itself on the event
loop, so the whole server stood still too, and two accessibility checks timed out in a release run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support import app_tokens, staff_token

from harness.sut_process import SutProcess
from harness.web_client import BROWSER_UA, SESSION_COOKIE, login_via_idp, set_cookies

READERS = 8
READS_EACH = 25
VISITORS = 12
PAGES_EACH = 20
# Pages that read the session, audit what they show, and draw the header with the list of children; the error
# pages draw the same layout for a logged-in visitor.
PAGES = {"/": 200, "/inbox": 200, "/audit-extract": 200, "/bookings": 200, "/settings": 200, "/finns-inte": 404,
         "/inbox/00000000-0000-4000-8000-000000000000": 404}
SENDS = 60
# Longer than SQLite's busy timeout (30 s): a request caught in the old deadlock answers 500, it does not time out.
REQUEST_TIMEOUT = 90


@pytest.fixture(scope="module")
def sqlite_sut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SutProcess]:
    """A system of its own, so nothing else shares its database file during the test."""
    folder = tmp_path_factory.mktemp("sqlite-concurrency")
    with SutProcess(log_path=folder / "sut.log", env={"SUT_DATABASE_URL": ""}) as proc:
        yield proc


@pytest.mark.slow
@pytest.mark.req("BR-AUDIT-1")
def test_concurrent_audited_reads_and_sends_never_hit_a_locked_database(sqlite_sut: SutProcess) -> None:
    base = sqlite_sut.urls["base"]
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as control:
        patients = [control.post("/_sut/persons", json={"role": "adult"}).json() for _ in range(READERS)]
        tokens = [app_tokens(control, p["personnummer"])["access_token"] for p in patients]
        staff = control.get(f"/_sut/push/care-staff/{patients[0]['id']}").json()["staff"][0]
        staff_bearer = staff_token(control, staff["hsa_id"])
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(READERS + 1)

    def note(client: httpx.Client, method: str, path: str, **kwargs: object) -> None:
        try:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:  # the server dropped the connection on an unhandled error
            outcome, detail = 0, repr(exc)
        else:
            outcome, detail = response.status_code, response.text[:200]
        with lock:
            statuses[outcome] += 1
            if outcome not in (200, 201):
                failures.append(f"{method} {path}: {outcome} {detail}")

    def read_journal(token: str) -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT, headers={
                "Authorization": f"Bearer {token}", "User-Agent": "1177-appen/3.2.0 (ios)"}) as client:
            start.wait()
            for _ in range(READS_EACH):
                note(client, "GET", "/api/v1/journal")

    def send_messages() -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT,
                          headers={"Authorization": f"Bearer {staff_bearer}"}) as client:
            start.wait()
            for i in range(SENDS):
                note(client, "POST", "/staff/v1/messages", json={
                    "patient_id": patients[0]["id"], "subject": "Påminnelse", "body": f"Meddelande {i}."})

    with ThreadPoolExecutor(READERS + 1) as pool:
        done = [pool.submit(read_journal, token) for token in tokens] + [pool.submit(send_messages)]
        for future in done:
            future.result()
    assert not failures, failures[:5]
    assert statuses == {200: READERS * READS_EACH, 201: SENDS}, statuses
    log = Path(sqlite_sut.log_path or "").read_text(encoding="utf-8")
    assert "database is locked" not in log


@pytest.mark.slow
@pytest.mark.req("BR-AUDIT-1")
def test_concurrent_web_pages_and_error_pages_never_hit_a_locked_database(sqlite_sut: SutProcess) -> None:
    base = sqlite_sut.urls["base"]
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as control:
        # Guardians: their pages offer the switch to a child, so every header asks for the list of children.
        people = [control.post("/_sut/persons", json={"role": "guardian", "records": {"audit_lines": 5}}).json()
                  for _ in range(VISITORS)]
    answered: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(VISITORS)
    paths = list(PAGES)

    def visit(number: int, personnummer: str) -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT, follow_redirects=False) as client:
            callback, _ = login_via_idp(client, personnummer)
            headers = {"User-Agent": BROWSER_UA, "Accept": "text/html",
                       "Cookie": f"{SESSION_COOKIE}={set_cookies(callback)[SESSION_COOKIE].value}"}
            start.wait()
            for i in range(PAGES_EACH):
                path = paths[(number + i) % len(paths)]
                try:
                    status = client.get(path, headers=headers).status_code
                except httpx.TransportError as exc:
                    status = 0
                    failures.append(f"GET {path}: {exc!r}")
                with lock:
                    answered[path, status] += 1
                    if status != PAGES[path]:
                        failures.append(f"GET {path}: {status}, expected {PAGES[path]}")

    with ThreadPoolExecutor(VISITORS) as pool:
        for future in [pool.submit(visit, n, p["personnummer"]) for n, p in enumerate(people)]:
            future.result()
    assert not failures, failures[:5]
    assert sum(answered.values()) == VISITORS * PAGES_EACH, answered
    log = Path(sqlite_sut.log_path or "").read_text(encoding="utf-8")
    assert "database is locked" not in log
