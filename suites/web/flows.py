"""Flows that cross pages and systems: a push's deep link into the web, the app's SSO hand-over into its WebView."""

from __future__ import annotations

import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.api_client import ApiClient
from sut.push.inspector import GatewayInspector

WEB_AUDIENCE = "1177-eservices"  # the audience of SSO tickets for the web e-services (BR-ID-3)
# The app's routes (se.1177.appen://<route>) and the web page each one opens when the app shows the e-services in
# its WebView (BR-INBOX-2); a route not listed here is a link the web cannot open.
DEEP_LINK_ROUTES = {
    re.compile(r"^inbox/messages/(?P<id>[0-9a-f-]{36})$"): "/inbox/{id}",
}
APP_SCHEME = "se.1177.appen"


def web_path_for(deep_link: str) -> tuple[str, str | None]:
    """The web path a deep link opens, and whom it concerns (``acting_for``: a child the user is ombud for)."""
    parts = urlsplit(deep_link)
    if parts.scheme != APP_SCHEME:
        raise ValueError(f"not an app link: {deep_link!r}")
    route = f"{parts.netloc}{parts.path}"
    for pattern, path in DEEP_LINK_ROUTES.items():
        match = pattern.match(route)
        if match:
            child = parse_qs(parts.query).get("acting_for", [None])[0]
            return path.format(**match.groupdict()), child
    raise ValueError(f"no web page for the app route {route!r}")


def register_push_device(app: ApiClient) -> str:
    """What the app does at first start: a device token, the push consent, push turned on; returns the token."""
    token = secrets.token_hex(32)
    device = app.put(f"/devices/inst-{secrets.token_hex(6)}",
                     json={"platform": "ios", "token": token, "app_version": "3.4.0"})
    assert device.status_code in (200, 201), device.text
    consent = app.post("/consents", json={"purpose": "push", "text_version": "1.0"})
    assert consent.status_code == 201, consent.text
    settings = app.put("/notification-settings", json={"push": True, "sms": False, "email": False})
    assert settings.status_code == 200, settings.text
    return token


def staff_send(staff: ApiClient, patient_id: str, subject: str) -> str:
    """A care unit's message to the patient through the staff API; returns the message id."""
    sent = staff.post("/messages", json={"patient_id": patient_id, "subject": subject,
                                         "body": "Hej! Ditt provsvar är klart. Läs mer i 1177."})
    assert sent.status_code == 201, sent.text
    return sent.json()["id"]


def delivered_deep_link(gateways: GatewayInspector, token: str) -> str:
    """The deep link in the push the fake APNs received for the device ``token``."""
    deliveries = gateways.wait_device("apns", token)["deliveries"]
    assert [d["outcome"] for d in deliveries] == ["delivered"], deliveries
    return deliveries[0]["payload"]["link"]


def sso_ticket(app: ApiClient) -> str:
    """The app asks its backend for a one-time ticket for the web e-services."""
    response = app.post("/sso/tickets", json={"audience": WEB_AUDIENCE})
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


def open_webview_with_ticket(page: Any, web: str, ticket: str, next_path: str) -> Any:
    """What the app does to open an e-service in its WebView: it loads /sso with the ticket as a form post (never
    in the URL), from no web origin; returns the response to that post."""
    form = (f'<form method="post" action="{html.escape(web)}/sso">'
            f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_path)}"></form>')
    page.set_content(form)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sso")) as answer:
        page.locator("form").evaluate("form => form.submit()")
    page.wait_for_url(lambda url: url.startswith(web))  # the answer's page (or its redirect's) has loaded
    return answer.value
