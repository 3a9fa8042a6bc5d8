"""The security layer's glue: its policy, where its evidence goes, and a browserless web user of the target.

The checks are an attacker's: static analysis and the supply chain of the code that ships, then HTTP against the
target (headers, cookies, CORS, what URLs carry, redirects, CSRF, error answers, tokens, rate limits, logs). The
figures they judge by are data in ``policy.toml`` beside this file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.sut import LiveTarget
from harness import security
from harness.identities import Person
from harness.web_client import BROWSER_UA, SESSION_COOKIE, WebFlowError, WebUser, login_via_idp, set_cookies


@pytest.fixture(scope="session")
def security_policy() -> security.Policy:
    return security.load_policy()


@pytest.fixture
def evidence(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """``<run-dir>/security/`` (the run's evidence), else a temporary folder."""
    from fixtures.report import run_dir

    folder = run_dir(request.config)
    out = folder / "security" if folder is not None else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def web_user(target_up: LiveTarget, target_urls: dict[str, str]) -> Iterator[Callable[..., WebUser]]:
    """``web_user(person)``: the person logged in to the web e-services through the IdP's pages, over HTTP; the
    login's every answer is in ``user.trace``."""
    clients: list[httpx.Client] = []
    from fixtures.api import login_rate_limit_handler

    rate_limited = login_rate_limit_handler(target_up)

    def login(person: Person, *, next_path: str = "/") -> WebUser:
        client = httpx.Client(base_url=target_urls["web"].rstrip("/"), timeout=15, follow_redirects=False)
        clients.append(client)
        for attempt in (1, 2):
            try:
                callback, trace = login_via_idp(client, person.personnummer, next_path=next_path)
                break
            except WebFlowError as exc:  # the IdP's login limit stops the run's own logins (BR-SEC-1)
                if "HTTP 429" not in str(exc) or attempt == 2:
                    raise
                rate_limited(1.0)
        cookie = set_cookies(callback).get(SESSION_COOKIE)
        if callback.status_code != 303 or cookie is None:
            pytest.fail(f"the web login did not start a session: HTTP {callback.status_code}", pytrace=False)
        return WebUser(client=client, person={"id": person.id}, cookie=cookie.value, user_agent=BROWSER_UA,
                       trace=trace)

    yield login
    for client in clients:
        client.close()
