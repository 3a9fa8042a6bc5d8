"""Tokens, tickets and sessions as an attacker tries them: a changed or re-signed access token, one the key holder
made with wrong claims, a refresh token used twice, an SSO ticket replayed, a web session left idle (BR-ID-2,
BR-ID-3, CSL-2-3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness import security
from harness.api_client import ApiClient
from harness.control import ControlApi
from harness.identities import Person
from harness.login import refresh
from harness.web_client import SESSION_COOKIE, WebUser, login_via_idp, set_cookies

WEB_AUDIENCE = "1177-eservices"
IDLE_LIMIT = 30 * 60  # BR-ID-2
# Claims an attacker would want changed, each made by the system's own key (the control API re-signs them).
RESIGNED = {
    "another-audience": {"set": {"aud": "regional-service"}},
    "another-issuer": {"set": {"iss": "https://idp.angripare.example"}},
    "expired-a-second-ago": {"shift": {"exp": -10_000}},  # exp before now whatever the token's lifetime
    "not-valid-for-an-hour": {"shift": {"nbf": 3600, "iat": 3600}},
    "no-session-id": {"drop": ["sid"]},
}


@pytest.fixture
def app(new_person: Callable[..., Person], new_api_client: Callable[..., ApiClient]) -> ApiClient:
    client = new_api_client(new_person("adult"))
    assert client.get("/me").status_code == 200, "the untouched token must work"
    return client


def _refused(app: ApiClient, token: str) -> int:
    return app.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.smoke
@pytest.mark.req("BR-ID-2", "CSL-2-3")
def test_a_tampered_access_token_is_refused(app: ApiClient, target_urls: dict[str, str]) -> None:
    """En ändrad eller omsignerad åtkomsttoken avvisas: annan person, egen nyckel, HS256, alg none, utan signatur."""
    keys = httpx.get(f"{target_urls['idp']}/jwks.json", timeout=15).json()["keys"]
    variants = security.tampered_tokens(app.tokens.access_token, keys[0])
    accepted = {name: status for name, token in variants.items() if (status := _refused(app, token)) != 401}
    assert not accepted, f"tampered tokens not refused with 401: {accepted}"


@pytest.mark.req("BR-ID-2", "CSL-2-3")
@pytest.mark.parametrize("change", list(RESIGNED))
def test_a_token_signed_by_the_system_but_with_wrong_claims_is_refused(change: str, app: ApiClient,
                                                                       target_up: LiveTarget) -> None:
    """En token med systemets egen signatur men fel mottagare, utfärdare eller tid avvisas."""
    if not target_up.has_control:
        pytest.skip("only the system's own key can sign these: the embedded target's control API re-signs")
    with ControlApi(target_up.urls["control"]) as control:
        token = control.remint(app.tokens.access_token, **RESIGNED[change])
    status = _refused(app, token)
    assert status == 401, f"a token {change.replace('-', ' ')}: HTTP {status}"


@pytest.mark.req("BR-ID-2", "CSL-2-3")
def test_a_reused_refresh_token_ends_the_session(app: ApiClient, target_urls: dict[str, str]) -> None:
    """En förnyelsetoken som används en andra gång avslutar hela sessionen."""
    with httpx.Client(timeout=15) as idp:
        first = refresh(idp, target_urls["idp"], app.tokens.refresh_token)
        assert first.status_code == 200, first.text
        again = refresh(idp, target_urls["idp"], app.tokens.refresh_token)
        assert again.status_code == 400, f"a used refresh token worked again: HTTP {again.status_code}"
        after = refresh(idp, target_urls["idp"], first.json()["refresh_token"])
        assert after.status_code == 400, "the session survived the reuse: its newest refresh token still works"


@pytest.mark.req("BR-ID-3", "CSL-2-3")
def test_an_sso_ticket_works_once(app: ApiClient, target_urls: dict[str, str]) -> None:
    """En SSO-biljett fungerar en gång; en uppspelad biljett avvisas."""
    ticket = app.post("/sso/tickets", json={"audience": WEB_AUDIENCE}).json()["ticket"]
    web = target_urls["web"].rstrip("/")
    headers = {"User-Agent": app.headers["User-Agent"]}
    first = httpx.post(f"{web}/sso", data={"ticket": ticket, "next": "/"}, headers=headers, timeout=15)
    assert first.status_code == 303, f"a fresh ticket was refused: HTTP {first.status_code}"
    replay = httpx.post(f"{web}/sso", data={"ticket": ticket, "next": "/"}, headers=headers, timeout=15)
    assert replay.status_code == 401, f"a replayed ticket: HTTP {replay.status_code}"


@pytest.fixture
def private_web(private_target: LiveTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=private_target.urls["web"].rstrip("/"), timeout=15, follow_redirects=False) as web:
        yield web


@pytest.mark.req("BR-ID-2", "OSL-25-1")
def test_a_web_session_left_idle_is_over(stopped_clock: ControlApi, private_web: httpx.Client) -> None:
    """En webbsession som lämnats orörd i mer än 30 minuter är slut: sidan kräver ny inloggning."""
    person = stopped_clock.seed_person("adult")
    callback, _ = login_via_idp(private_web, person.personnummer)
    user = WebUser(client=private_web, person={"id": person.id}, cookie=set_cookies(callback)[SESSION_COOKIE].value,
                   user_agent="Mozilla/5.0")
    assert user.get("/").status_code == 200, "a fresh web session must open the start page"
    stopped_clock.advance(IDLE_LIMIT + 1)
    idle = user.get("/")
    assert idle.status_code == 303 and "/login" in idle.headers.get("location", ""), \
        f"a web session idle 30 min and 1 s opened the start page: HTTP {idle.status_code}"
