"""Contract checks of the business rules the mobile API carries (BR-REG-1, BR-REG-3, BR-ID-1, BR-SEC-1)."""

from __future__ import annotations

import httpx
import pytest

from harness.api_client import LoginError, login_person

PROBLEM_JSON = "application/problem+json"
pytestmark = pytest.mark.smoke  # cheap and central: all of it is in the fast cross-section


def assert_problem(response: httpx.Response, status: int, type_: str | None = None) -> dict:
    """RFC 9457: the status, the media type, and the members type, title, status and detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body = response.json()
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"problem+json without {member!r}: {body}"
    assert body["status"] == status
    assert "traceback" not in body and "Traceback" not in response.text  # BR-SEC-1: no stack traces
    if type_ is not None:
        assert body["type"] == type_, body
    return body


@pytest.mark.req("BR-REG-1")
def test_region_not_joined_is_sent_to_1177_se(new_person, new_api_client) -> None:
    """En användare i en region som inte anslutit skickas till 1177.se i webbläsaren och får inga tjänster."""
    client = new_api_client(new_person("adult-not-joined"))
    response = client.get("/services")
    assert response.status_code == 200, response.text
    catalogue = response.json()
    assert catalogue["region_joined"] is False
    assert catalogue["redirect"] == {"url": "https://www.1177.se/", "target": "external-browser"}
    assert catalogue["services"] == []


@pytest.mark.req("BR-REG-1")
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/inbox/messages"), ("GET", "/bookings"), ("GET", "/journal"), ("GET", "/notification-settings"),
])
def test_region_not_joined_gets_no_e_service(new_person, new_api_client, method: str, path: str) -> None:
    """En användare i en region som inte anslutit får ingen e-tjänst i appen (403)."""
    client = new_api_client(new_person("adult-not-joined"))
    assert_problem(client.request(method, path), 403, "urn:1177:problem:region-not-joined")


@pytest.mark.req("BR-REG-2")
def test_joined_region_gets_its_catalogue(new_person, new_api_client) -> None:
    """En ansluten region ger användaren sin tjänstekatalog."""
    catalogue = new_api_client(new_person("adult")).get("/services").json()
    assert catalogue["region_joined"] is True
    assert catalogue["services"], "a joined region offers services"


@pytest.mark.req("BR-REG-3")
@pytest.mark.parametrize("user_agent", ["1177-appen/2.9.9 (ios)", "1177-appen/2.0 (android)"])
def test_app_below_minimum_version_gets_426(new_person, new_api_client, user_agent: str) -> None:
    """En app äldre än lägsta version får 426 och ombeds uppdatera."""
    client = new_api_client(new_person("adult"), user_agent=user_agent)
    body = assert_problem(client.get("/me"), 426, "urn:1177:problem:app-update-required")
    assert body["minimum_version"]


@pytest.mark.req("BR-REG-3")
def test_supported_app_version_is_served(new_person, new_api_client) -> None:
    """En app med version som stöds får svar."""
    client = new_api_client(new_person("adult"), user_agent="1177-appen/3.0.0 (android)")
    assert client.get("/me").status_code == 200


@pytest.mark.req("BR-ID-1")
def test_samordningsnummer_is_refused(new_person, target_urls) -> None:
    """Inloggning med samordningsnummer nekas."""
    person = new_person("samordningsnummer")
    with httpx.Client(timeout=15) as client:
        response = client.post(f"{target_urls['idp']}/api/login",
                               json={"personnummer": person.personnummer, "method": "bankid"})
    assert_problem(response, 403, "urn:1177:problem:login-refused")  # the same answer as for anyone refused


@pytest.mark.req("BR-ID-1")
def test_deceased_person_cannot_log_in(new_person, target_urls) -> None:
    """En avliden person kan inte logga in."""
    person = new_person("deceased")
    with httpx.Client(timeout=15) as client, pytest.raises(LoginError):
        login_person(client, target_urls["idp"], person.personnummer)


@pytest.mark.req("BR-ID-1", "OSL-21-3")
def test_protected_identity_address_never_leaves_the_backend(new_person, new_api_client) -> None:
    """Adressen till en person med skyddad identitet lämnar aldrig backend, varken i profilen eller i exporten."""
    client = new_api_client(new_person("protected-identity"))
    profile = client.get("/me").json()
    assert profile["protected_identity"] is True
    assert profile["address"] is None
    export = client.get("/export").json()
    assert export["person"]["address"] is None


@pytest.mark.req("GDPR-5-1-c")
def test_profile_carries_no_personnummer(new_person, new_api_client) -> None:
    """Profilen innehåller inte personnumret."""
    person = new_person("adult")
    response = new_api_client(person).get("/me")
    assert response.status_code == 200
    assert person.personnummer not in response.text
    assert person.personnummer[2:] not in response.text


@pytest.mark.req("BR-SEC-1")
@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/inbox/messages/not-a-uuid", {}, 422),
    ("PUT", "/notification-settings", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("PUT", "/notification-settings", {"json": {"push": "maybe"}}, 422),
    ("POST", "/consents", {"json": {"purpose": "push", "text_version": "1", "extra": 1}}, 422),
    ("GET", "/no-such-endpoint", {}, 404),
    ("PATCH", "/me", {}, 405),
])
def test_errors_are_problem_json_without_stack_traces(new_person, new_api_client, method: str, path: str,
                                                       kwargs: dict, status: int) -> None:
    """Felaktiga anrop får problem+json utan stackspår."""
    client = new_api_client(new_person("adult"))
    assert_problem(client.request(method, path, **kwargs), status)


@pytest.mark.req("BR-SEC-1", "BR-ID-1")
def test_missing_token_is_401_problem_json(new_api_client) -> None:
    """Ett anrop utan token får 401 som problem+json med Bearer-utmaning."""
    response = new_api_client(None).get("/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.req("BR-ID-2")
def test_logout_revokes_the_session(new_person, new_api_client) -> None:
    """Utloggning återkallar sessionen: samma token nekas efteråt."""
    client = new_api_client(new_person("adult"))
    assert client.post("/session/logout").status_code == 204
    assert_problem(client.get("/me"), 401)


@pytest.mark.req("BR-SEC-1")
def test_oversized_body_is_413_not_500(new_person, new_api_client) -> None:
    """En för stor begäran får 413, inte 500."""
    client = new_api_client(new_person("adult"))
    response = client.post("/consents", content=b"{" + b" " * (70 * 1024) + b"}",
                           headers={"Content-Type": "application/json"})
    assert_problem(response, 413)
