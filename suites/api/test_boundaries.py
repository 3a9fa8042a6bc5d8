"""Every age and time rule at its boundary, care relations unit by unit, lists at full length, and a session
judged again after its person changed.

Age rules need no clock move: a child is seeded with a birth date counted from the system's own date. Session,
token and ticket expiry move the clock, so they run on the API layer's private system, with its clock stopped so
each boundary is hit to the second however slowly the machine answers; nothing else runs there. No result depends
on the calendar or the random seed. Logins whose checks are under test take the app's path: the login page with
PKCE S256 (harness/login.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness.api_client import ApiClient, Tokens
from harness.control import ControlApi, born_turning
from harness.identities import Person
from harness.login import claims, refresh

OMBUD_AGE = 13  # BR-PROXY-1: a guardian acts for own children under 13
IDLE_LIMIT = 30 * 60  # BR-ID-2: a session idle longer than 30 minutes has ended
SSO_TICKET_LIFETIME = 60  # BR-ID-3: an SSO ticket is valid about 60 s
KEEP_ALIVE = 25 * 60  # refresh this often to keep a session inside the idle limit
WEB_AUDIENCE = "1177-eservices"
NOT_OMBUD = "urn:1177:problem:not-ombud"
T = TypeVar("T")

pytestmark = pytest.mark.destructive  # every test seeds persons or records


def on_one_day(control_api: ControlApi, check: Callable[[date], T]) -> T:
    """Run ``check`` with the system's date, again if midnight passed meanwhile (then the first answer may belong
    to either day): an age boundary is judged within one day of the system's clock."""
    for _ in range(2):
        today = control_api.clock().today
        result = check(today)
        if control_api.clock().today == today:
            return result
    raise AssertionError("the system's date changed twice during one test")


# --- age: a child's 13th birthday (BR-PROXY-1), by birth date, no clock move ------------------------------------

@pytest.mark.req("BR-PROXY-1", "OSL-12-3")
@pytest.mark.parametrize("turns_13", ["tomorrow", "today"])
def test_ombud_ends_on_the_thirteenth_birthday(turns_13: str, control_api: ControlApi,
                                               new_person: Callable[..., Person],
                                               new_api_client: Callable[..., ApiClient]) -> None:
    """Vårdnadshavaren är ombud dagen före barnets 13-årsdag men inte på själva dagen."""
    def check(today: date) -> None:
        born = born_turning(OMBUD_AGE, today) + (timedelta(days=1) if turns_13 == "tomorrow" else timedelta(0))
        guardian = new_person("guardian", children=[born])
        (child,) = guardian.children
        client = new_api_client(guardian)
        listed = {p["id"] for p in client.get("/acting-for").json()["persons"]}
        inbox = client.get("/inbox/messages", headers={"X-Acting-For": str(child.id)})
        if turns_13 == "tomorrow":  # 12 until midnight: still the guardian's to act for
            assert child.id in listed, "a child who turns 13 tomorrow is missing from the guardian's acting-for list"
            assert inbox.status_code == 200, f"ombud for a child of 12 refused: HTTP {inbox.status_code}"
            assert {m["id"] for m in inbox.json()["messages"]} == child.record_ids("messages")
        else:  # the birthday itself: 13, no longer
            assert child.id not in listed, "a child on the 13th birthday is still on the acting-for list"
            assert inbox.status_code == 403, f"ombud on the 13th birthday answered HTTP {inbox.status_code}"
            assert inbox.json().get("type") == NOT_OMBUD
            assert not any(mid in inbox.text for mid in child.record_ids("messages")), "the child's data leaked"

    on_one_day(control_api, check)


# --- time: session, tokens and tickets on a private system with its clock stopped (BR-ID-2, BR-ID-3) -------------

def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@pytest.mark.req("BR-ID-2")
@pytest.mark.parametrize("idle", [IDLE_LIMIT, IDLE_LIMIT + 1], ids=["at-30-min", "30-min-and-1-s"])
def test_a_session_ends_one_second_past_the_idle_limit(idle: int, stopped_clock: ControlApi,
                                                       private_login: Callable[[Person], Tokens],
                                                       private_client: ApiClient) -> None:
    """En session håller till gränsen för inaktivitet och upphör en sekund efter den."""
    tokens = private_login(stopped_clock.seed_person("adult"))
    stopped_clock.advance(idle)
    renewed = refresh(private_client, "/idp", tokens.refresh_token)
    if idle <= IDLE_LIMIT:
        assert renewed.status_code == 200, f"a session idle exactly 30 minutes has ended: HTTP {renewed.status_code}"
    else:
        assert renewed.status_code == 400, f"a session idle 30 minutes and 1 s was renewed: HTTP {renewed.status_code}"
        assert renewed.json().get("error") == "invalid_grant"


@pytest.mark.req("BR-ID-2")
def test_an_access_token_works_until_its_expiry(stopped_clock: ControlApi, private_login: Callable[[Person], Tokens],
                                                private_client: ApiClient) -> None:
    """En åtkomsttoken fungerar fram till sin utgångstid och nekas därefter."""
    tokens = private_login(stopped_clock.seed_person("adult"))
    expiry = claims(tokens.access_token)["exp"]
    private_client.use_token(tokens.access_token)
    stopped_clock.advance_to(at(expiry - 1))
    before = private_client.get("/api/v1/me")
    assert before.status_code == 200, f"an access token a second before its expiry: HTTP {before.status_code}"
    stopped_clock.advance(1)
    after = private_client.get("/api/v1/me")
    assert after.status_code == 401, f"an access token at its expiry (exp) was accepted: HTTP {after.status_code}"


@pytest.mark.req("BR-ID-2")
def test_a_refresh_token_works_until_the_login_ends(stopped_clock: ControlApi,
                                                    private_login: Callable[[Person], Tokens],
                                                    private_client: ApiClient) -> None:
    """En förnyelsetoken fungerar så länge inloggningen varar och förlänger den aldrig."""
    tokens = private_login(stopped_clock.seed_person("adult"))
    first = refresh(private_client, "/idp", tokens.refresh_token)
    assert first.status_code == 200
    end = stopped_clock.clock().now + timedelta(seconds=first.json()["refresh_expires_in"])
    current = first.json()["refresh_token"]
    # Kept active inside the idle limit, rotated each time: rotation must not move the end of the login.
    while stopped_clock.clock().now + timedelta(seconds=KEEP_ALIVE) < end - timedelta(seconds=1):
        stopped_clock.advance(KEEP_ALIVE)
        renewed = refresh(private_client, "/idp", current)
        assert renewed.status_code == 200, f"an active session could not refresh: HTTP {renewed.status_code}"
        current = renewed.json()["refresh_token"]
    stopped_clock.advance_to(end - timedelta(seconds=1))
    last = refresh(private_client, "/idp", current)
    assert last.status_code == 200, f"a refresh token a second before its expiry: HTTP {last.status_code}"
    assert last.json()["refresh_expires_in"] == 1, "rotation moved the end of the login"
    stopped_clock.advance(1)
    expired = refresh(private_client, "/idp", last.json()["refresh_token"])
    assert expired.status_code == 400, f"a refresh token at its expiry was accepted: HTTP {expired.status_code}"


@pytest.mark.req("BR-ID-3")
@pytest.mark.parametrize("age", [SSO_TICKET_LIFETIME - 0.001, SSO_TICKET_LIFETIME], ids=["just-before-60-s", "at-60-s"])
def test_an_sso_ticket_is_valid_for_60_seconds(age: float, stopped_clock: ControlApi,
                                               private_login: Callable[[Person], Tokens],
                                               private_client: ApiClient) -> None:
    """En SSO-biljett gäller i 60 sekunder och nekas därefter."""
    tokens = private_login(stopped_clock.seed_person("adult"))
    issued = private_client.post("/api/v1/sso/tickets", json={"audience": WEB_AUDIENCE},
                                 headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert issued.status_code == 201, issued.text
    stopped_clock.advance(age)
    redeemed = private_client.post("/sso", data={"ticket": issued.json()["ticket"], "next": "/"})
    if age < SSO_TICKET_LIFETIME:
        assert redeemed.status_code == 303, f"an SSO ticket {age} s old was refused: HTTP {redeemed.status_code}"
    else:
        assert redeemed.status_code == 401, f"an SSO ticket 60 s old was accepted: HTTP {redeemed.status_code}"


# --- a session judged again on every use of its refresh token (BR-ID-1, BR-ID-2, BR-REG-1) ------------------------

CHANGES: dict[str, tuple[dict[str, Any], bool, tuple[str, ...]]] = {
    # change -> (what the register tells, whether the refresh still works, requirements)
    "died": ({"change": "deceased"}, False, ("BR-ID-1", "BR-ID-2")),
    "got-samordningsnummer": ({"change": "samordningsnummer"}, False, ("BR-ID-1", "BR-ID-2")),
    "got-protected-identity": ({"change": "protected-identity"}, False, ("BR-ID-1", "BR-ID-2", "OSL-21-3")),
    "moved-to-region-not-joined": ({"change": "moved", "joined": False}, False, ("BR-ID-2", "BR-REG-1")),
    "moved-to-joined-region": ({"change": "moved", "joined": True}, True, ("BR-ID-2",)),
}


@pytest.mark.parametrize("change", [pytest.param(name, marks=pytest.mark.req(*reqs))
                                    for name, (_, _, reqs) in CHANGES.items()])
def test_a_refresh_checks_the_person_again(change: str, new_person: Callable[..., Person], control_api: ControlApi,
                                           new_login: Callable[..., Tokens], target_up: LiveTarget) -> None:
    """Vid förnyelse kontrolleras personen igen (avliden, samordningsnummer, skyddad, ej ansluten region)."""
    told, still_works, _ = CHANGES[change]
    person = new_person("adult")
    tokens = new_login(person, flow="authorize")
    control_api.change(person, **told)
    with httpx.Client(timeout=15) as client:
        renewed = refresh(client, target_up.urls["idp"], tokens.refresh_token)
    if still_works:
        assert renewed.status_code == 200, f"{change}: the refresh was refused: HTTP {renewed.status_code}"
    else:
        assert renewed.status_code == 400, f"{change}: the session was renewed: HTTP {renewed.status_code}"
        assert renewed.json().get("error") == "invalid_grant"


@pytest.mark.req("BR-ID-2")
def test_a_refresh_after_logout_is_refused(new_person: Callable[..., Person], new_login: Callable[..., Tokens],
                                           new_api_client: Callable[..., ApiClient], target_up: LiveTarget) -> None:
    """Efter utloggning nekas förnyelsetoken."""
    tokens = new_login(new_person("adult"), flow="authorize")
    client = new_api_client()
    client.use_token(tokens.access_token)
    assert client.post("/session/logout").status_code == 204
    renewed = refresh(client, target_up.urls["idp"], tokens.refresh_token)
    assert renewed.status_code == 400, f"a refresh after logout answered HTTP {renewed.status_code}"


# --- care relations, unit by unit (BR-STAFF-1, PDL 4 kap. 1 §) ----------------------------------------------------

@pytest.mark.req("BR-STAFF-1", "PDL-4-1")
@pytest.mark.parametrize(("relation", "reaches"), [("own-unit", True), ("same-region-other-unit", False),
                                                   ("other-region-unit", False), ("related-other-region", True)])
def test_staff_reach_a_patient_only_through_their_own_units_relation(
        relation: str, reaches: bool, new_person: Callable[..., Person], new_care_relation: Callable[..., Any],
        new_staff: Callable[..., Any], new_api_client: Callable[..., ApiClient]) -> None:
    """Vårdpersonal når en patient bara genom den egna vårdenhetens vårdrelation, även över regiongräns."""
    patient = new_person("adult")
    elsewhere = "03" if patient.region == "01" else "01"
    new_care_relation(patient, region=elsewhere)  # a patient of one region is a patient in another too
    staff = new_api_client(new_staff(for_patient=patient, relation=relation))
    lookup = staff.post("/patients/lookup", json={"personnummer": patient.personnummer})
    sent = staff.post("/messages", json={"patient_id": patient.id, "subject": "Påminnelse", "body": "Hej!"})
    if reaches:
        assert lookup.status_code == 200 and lookup.json()["patient_id"] == patient.id, \
            f"{relation}: staff of a unit with a care relation could not find the patient: HTTP {lookup.status_code}"
        assert sent.status_code == 201, f"{relation}: a message to the unit's own patient: HTTP {sent.status_code}"
    else:
        assert lookup.status_code == 404, f"{relation}: staff without a care relation found the patient"
        assert sent.status_code == 403, f"{relation}: staff without a care relation sent a message"


# --- lists at full length: every record of several pages, and none of anyone else's ------------------------------

MANY = 60  # more than two pages of the log extract's 25 (the APIs' lists do not page: all must come back)
LISTS = {
    # list -> (record kind seeded, path, key of the list, key of an item's id, requirements)
    "inbox": ("messages", "/inbox/messages", "messages", "id", ("BR-INBOX-1", "PDL-5-5")),
    "bookings": ("bookings", "/bookings", "bookings", "id", ("PDL-5-5",)),
    "journal": ("journal_entries", "/journal", "entries", "id", ("PDL-5-5",)),
    "devices": ("devices", "/devices", "devices", "installation_id", ("BR-NOTIF-1",)),
    "consents": ("consents", "/consents", "consents", "id", ("BR-GDPR-1",)),
    "audit-extract": ("audit_lines", "/audit-extract", "entries", "resource_id", ("BR-AUDIT-1", "PDL-8-5")),
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.req(*spec[4])) for name, spec in LISTS.items()])
def test_a_list_holds_every_record_of_several_pages(name: str, new_person: Callable[..., Person],
                                                    new_api_client: Callable[..., ApiClient]) -> None:
    """En lista över flera sidor innehåller varje post som ägaren har, och bara dem."""
    kind, path, key, id_key, _ = LISTS[name]
    counts = {kind: MANY, **({"messages": 3} if kind == "audit_lines" else {})}
    person = new_person("adult", **counts)
    other = new_person("adult", **counts)
    response = new_api_client(person).get(path)
    assert response.status_code == 200, response.text
    listed = [item[id_key] for item in response.json()[key]]
    id_of = "installation_id" if kind == "devices" else "resource_id" if kind == "audit_lines" else "id"
    mine = [row[id_of] for row in person.records[kind]]
    theirs = {row[id_of] for row in other.records[kind]}
    if kind == "audit_lines":  # the extract shows each seeded read, besides the reads this test made
        staff_reads = [i for i, item in zip(listed, response.json()[key], strict=True) if item["role"] == "staff"]
        assert sorted(staff_reads) == sorted(mine), f"{name}: the log extract lacks seeded reads"
    else:
        assert sorted(listed) == sorted(mine), f"{name}: {len(listed)} listed of {len(mine)} seeded"
    assert not theirs & set(listed), f"{name}: another person's records are listed"
