"""What the app does against its backend, shared by the web and mobile layers: register for push, read the deep
link a push carried from the fake gateway's record, ask for an SSO ticket; and a care unit's message to send.

Free of pytest; suites/web/flows.py and suites/mobile/journeys.py build on it.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .api_client import ApiClient
from .masking import register_secret

if TYPE_CHECKING:
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


class FlowError(AssertionError):
    """A step of an app flow did not get the answer the app needs (a test failure, also under python -O)."""


def _expect(ok: bool, what: object) -> None:
    if not ok:
        raise FlowError(str(what))


def register_device(app: ApiClient, platform: str = "ios") -> str:
    """What the app does once the user allows notifications: a device token and the push consent; returns the
    token."""
    token = secrets.token_hex(32)
    device = app.put(f"/devices/inst-{secrets.token_hex(6)}",
                     json={"platform": platform, "token": token, "app_version": "3.4.0"})
    _expect(device.status_code in (200, 201), device.text)
    consent = app.post("/consents", json={"purpose": "push", "text_version": "1.0"})
    _expect(consent.status_code == 201, consent.text)
    return token


def register_push_device(app: ApiClient) -> str:
    """What the app does at first start: a device token, the push consent, push turned on; returns the token."""
    token = register_device(app)
    settings = app.put("/notification-settings", json={"push": True, "sms": False, "email": False})
    _expect(settings.status_code == 200, settings.text)
    return token


def staff_send(staff: ApiClient, patient_id: str, subject: str) -> str:
    """A care unit's message to the patient through the staff API; returns the message id."""
    sent = staff.post("/messages", json={"patient_id": patient_id, "subject": subject,
                                         "body": "Hej! Ditt provsvar är klart. Läs mer i 1177."})
    _expect(sent.status_code == 201, sent.text)
    return sent.json()["id"]


def delivered_deep_link(gateways: GatewayInspector, token: str) -> str:
    """The deep link in the push the fake APNs received for the device ``token``."""
    deliveries = gateways.wait_device("apns", token)["deliveries"]
    _expect([d["outcome"] for d in deliveries] == ["delivered"], deliveries)
    return deliveries[0]["payload"]["link"]


def sso_ticket(app: ApiClient) -> str:
    """The app asks its backend for a one-time ticket for the web e-services."""
    response = app.post("/sso/tickets", json={"audience": WEB_AUDIENCE})
    _expect(response.status_code == 201, response.text)
    ticket = response.json()["ticket"]
    register_secret(ticket)  # it passes through the browser and the Appium log: no report may show it
    return ticket
