"""HTTP as an attacker meets it: the headers of every answer, the cookies, CORS, what URLs and redirects carry,
where a 'next' address may lead, CSRF on every form, and what an error shows (BR-SEC-1, CSL-2-3, OSL-25-1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from judge import FOREIGN_NEXT, FOREIGN_ORIGIN, attach_json, problems_text

from fixtures.sut import LiveTarget
from harness import security
from harness.api_client import ApiClient
from harness.identities import Person
from harness.web_client import Page, WebUser

SKIP = re.compile(r"/(logout|download|erase|delete|withdraw|cancel)(/|$|\?)|\.(json|pdf|svg|png|css|js|ico)$")
CRAWL_LIMIT = 40


def crawl(user: WebUser, start: str = "/") -> dict[str, httpx.Response]:
    """Every page of the web e-services a logged-in user reaches by links, one answer per path."""
    queue, seen = [start], {}
    while queue and len(seen) < CRAWL_LIMIT:
        path = queue.pop(0)
        if path in seen:
            continue
        answer = user.get(path)
        seen[path] = answer
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        for node in Page(answer).css("a[href]"):
            target = urlsplit(urljoin(f"http://x{path}", node.attributes.get("href") or ""))
            if target.netloc == "x" and not SKIP.search(target.path):
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return seen


def api_gets(document: dict[str, Any]) -> list[str]:
    """The API's GET operations that need no path parameter."""
    return sorted(path for path, item in document.get("paths", {}).items() if "get" in item and "{" not in path)


@pytest.fixture
def logged_in(new_person: Callable[..., Person], web_user: Callable[..., WebUser]) -> WebUser:
    return web_user(new_person("adult"))


@pytest.mark.req("BR-SEC-1", "CSL-2-3")
def test_every_page_and_api_answer_carries_the_security_headers(logged_in: WebUser, new_person: Callable[..., Person],
                                                                new_api_client: Callable[..., ApiClient],
                                                                target_urls: dict[str, str],
                                                                security_policy: security.Policy) -> None:
    """Varje sida och varje API-svar har säkerhetshuvudena: CSP, HSTS, nosniff, ingen referent, ingen cache."""
    problems: dict[str, list[str]] = {}
    for path, answer in crawl(logged_in).items():
        kind = "page" if "text/html" in answer.headers.get("content-type", "") else "other"
        problems[f"GET {path} (HTTP {answer.status_code})"] = security.header_problems(
            answer.headers, kind=kind, policy=security_policy)
    anonymous = httpx.Client(base_url=target_urls["web"].rstrip("/"), timeout=15, follow_redirects=False)
    with anonymous:
        for path in ("/logged-out", "/login", "/finns-inte"):
            answer = anonymous.get(path)
            kind = "page" if "text/html" in answer.headers.get("content-type", "") else "other"
            problems[f"GET {path} logged out (HTTP {answer.status_code})"] = security.header_problems(
                answer.headers, kind=kind, policy=security_policy)
    app = new_api_client(new_person("adult"))
    document = httpx.get(target_urls["mobile_openapi"], timeout=15).json()
    for path in api_gets(document):
        answer = app.get(path)
        problems[f"GET {path} (HTTP {answer.status_code})"] = security.header_problems(
            answer.headers, kind="api", policy=security_policy)
    for what, answer in (("without a token", httpx.get(f"{target_urls['mobile_api']}/me", timeout=15)),
                         ("an unknown path", app.get("/finns-inte"))):
        problems[f"the API, {what} (HTTP {answer.status_code})"] = security.header_problems(
            answer.headers, kind="api", policy=security_policy)
    attach_json("headers judged", {where: found or "ok" for where, found in problems.items()})
    assert not any(problems.values()), problems_text(problems)


@pytest.mark.smoke
@pytest.mark.req("BR-SEC-1", "BR-ID-2")
def test_every_cookie_is_secure_httponly_and_samesite(logged_in: WebUser) -> None:
    """Varje kaka är Secure, HttpOnly och SameSite, från inloggningen till utloggningen."""
    problems = {f"{r.request.method} {r.request.url.path}": security.cookie_problems(r.headers.get_list("set-cookie"))
                for r in logged_in.trace}
    start = Page(logged_in.get("/"))
    action, fields = start.form('[data-testid="logout-form"]')
    out = logged_in.post(action, fields)
    problems["POST /logout"] = security.cookie_problems(out.headers.get_list("set-cookie"))
    assert len(logged_in.trace) >= 4 and any(r.headers.get_list("set-cookie") for r in logged_in.trace)
    assert not any(problems.values()), problems_text(problems)


@pytest.mark.req("BR-SEC-1", "CSL-2-3")
def test_no_foreign_site_may_read_the_answers(new_person: Callable[..., Person],
                                               new_api_client: Callable[..., ApiClient],
                                               target_urls: dict[str, str]) -> None:
    """Ingen annan webbplats får läsa svaren: CORS speglar inget främmande ursprung."""
    app = new_api_client(new_person("adult"))
    origin = {"Origin": FOREIGN_ORIGIN}
    answers = {
        "GET /api/v1/me": app.get("/me", headers=origin),
        "OPTIONS /api/v1/me (preflight)": app.options("/me", headers={
            **origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}),
        "POST /idp/token": httpx.post(f"{target_urls['idp']}/token", data={"grant_type": "refresh_token",
                                                                          "refresh_token": "x"}, headers=origin,
                                     timeout=15),
        "GET / (web)": httpx.get(target_urls["web"], headers=origin, timeout=15),
    }
    problems = {where: security.cors_problems(answer.headers, FOREIGN_ORIGIN) for where, answer in answers.items()}
    assert not any(problems.values()), problems_text(problems)


@pytest.mark.req("BR-SEC-1", "OSL-25-1")
def test_no_secret_travels_in_a_url_or_a_redirect(new_person: Callable[..., Person],
                                                   web_user: Callable[..., WebUser],
                                                   security_policy: security.Policy) -> None:
    """Inget personnummer, ingen token och ingen biljett står i en adress, en omdirigering eller en referent."""
    person = new_person("adult")
    logged_in = web_user(person)
    known = (person.personnummer,)
    problems: dict[str, list[str]] = {}
    for answer in logged_in.trace:
        for where, text in (("URL", str(answer.request.url)), ("Location", answer.headers.get("location", ""))):
            found = security.secrets_in(text, known=known, keys=security_policy.secret_query_keys)
            if found:
                problems[f"{answer.request.method} {answer.request.url.path}: {where}"] = found
    follow = logged_in.trace[-1].headers.get("location", "/")
    while follow.startswith("/"):  # the rest of the way to the first page, as the browser goes
        answer = logged_in.get(follow)
        found = security.secrets_in(str(answer.request.url), known=known, keys=security_policy.secret_query_keys)
        if found:
            problems[f"GET {urlsplit(follow).path}"] = found
        referrer = answer.headers.get("referrer-policy", "")
        if referrer not in ("no-referrer", "same-origin", "strict-origin"):
            problems.setdefault(f"GET {urlsplit(follow).path}: Referrer-Policy", []).append(
                f"{referrer or 'none'}: the address would travel to other sites")
        follow = answer.headers.get("location", "") if answer.status_code in (301, 302, 303, 307, 308) else ""
    assert not problems, problems_text(problems)


def _stays_home(location: str) -> bool:
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith(("//", "/\\"))


@pytest.mark.req("BR-SEC-1", "CSL-2-3")
def test_no_next_address_leads_to_another_site(new_person: Callable[..., Person], web_user: Callable[..., WebUser],
                                                new_api_client: Callable[..., ApiClient],
                                                target_urls: dict[str, str]) -> None:
    """Ingen 'next'-adress leder till en annan webbplats: efter inloggning, SSO och byte av ombud."""
    problems: dict[str, list[str]] = {}
    guardian = new_person("guardian")
    for foreign in FOREIGN_NEXT:
        user = web_user(guardian, next_path=foreign)
        landed = user.trace[-1].headers.get("location", "")
        if not _stays_home(landed):
            problems.setdefault("after login", []).append(f"next={foreign!r} -> {landed!r}")
        switch = Page(user.get("/acting-for"))
        action, fields = switch.form('[data-testid="acting-for-form"]')
        moved = user.post(action, {**fields, "next": foreign})
        if not _stays_home(moved.headers.get("location", "")):
            problems.setdefault("after switching ombud", []).append(
                f"next={foreign!r} -> {moved.headers.get('location')!r}")
        app = new_api_client(guardian)
        ticket = app.post("/sso/tickets", json={"audience": "1177-eservices"}).json()["ticket"]
        sso = httpx.post(f"{target_urls['web'].rstrip('/')}/sso", data={"ticket": ticket, "next": foreign},
                         headers={"User-Agent": app.headers["User-Agent"]}, timeout=15)
        if sso.status_code == 303 and not _stays_home(sso.headers.get("location", "")):
            problems.setdefault("after SSO", []).append(f"next={foreign!r} -> {sso.headers.get('location')!r}")
    assert not problems, problems_text(problems)


@pytest.mark.destructive
@pytest.mark.req("BR-SEC-1", "CSL-2-3")
def test_every_web_form_refuses_a_post_without_its_csrf_token(new_person: Callable[..., Person],
                                                               web_user: Callable[..., WebUser]) -> None:
    """Varje formulär i e-tjänsterna avvisar en post utan sin CSRF-token och med en annans."""
    user = web_user(new_person("guardian"))
    forms: dict[str, dict[str, str]] = {}
    for path, answer in crawl(user).items():
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        page = Page(answer)
        for node in page.css('form[method="post"], form[method="POST"]'):
            forms.setdefault(node.attributes.get("action") or path, page.form_fields(node))
    assert len(forms) >= 5, f"only {len(forms)} forms found: {sorted(forms)}"
    problems: dict[str, list[str]] = {}
    for action, fields in sorted(forms.items()):
        if "csrf_token" not in fields:
            problems[action] = ["the form has no CSRF token"]
            continue
        for what, token in (("without a token", None), ("with another session's token", "x" * 43)):
            sent = {k: v for k, v in fields.items() if k != "csrf_token"} | ({"csrf_token": token} if token else {})
            answer = user.post(action, sent)
            if answer.status_code not in (400, 403):
                problems.setdefault(action, []).append(f"{what}: HTTP {answer.status_code}")
    attach_json("forms tried", sorted(forms))
    assert not problems, problems_text(problems)


@pytest.mark.req("BR-SEC-1", "CSL-2-3")
def test_an_error_shows_no_stack_trace_or_software(target_up: LiveTarget, new_person: Callable[..., Person],
                                                   new_api_client: Callable[..., ApiClient],
                                                   security_policy: security.Policy) -> None:
    """Ett fel visar aldrig en stackspårning, en filsökväg eller programvarans namn och version."""
    app = new_api_client(new_person("adult"))
    answers = {
        "malformed JSON": app.put("/notification-settings", content=b"{", headers={"Content-Type": "application/json"}),
        "unknown path": app.get("/finns-inte"),
        "method not allowed": app.delete("/me"),
        "bad identifier": app.get("/inbox/messages/..%2F..%2Fetc"),
    }
    if target_up.has_control:  # an unexpected defect, asked for through the control API
        from harness.control import ControlApi

        with ControlApi(target_up.urls["control"]) as control:
            control.crash_next(urlsplit(f"{target_up.urls['mobile_api']}/me").path)
        answers["an unexpected error (HTTP 500)"] = app.get("/me")
        assert answers["an unexpected error (HTTP 500)"].status_code == 500, "the asked-for crash did not happen"
    problems: dict[str, list[str]] = {}
    for what, answer in answers.items():
        shown = [s for s in security_policy.forbidden_in_errors if s.lower() in answer.text.lower()]
        shown += security.header_problems(answer.headers, kind="api", policy=security_policy)
        if answer.status_code < 400:
            shown.append(f"HTTP {answer.status_code}: not refused")
        problems[f"{what} (HTTP {answer.status_code})"] = shown
    assert not any(problems.values()), problems_text(problems)
