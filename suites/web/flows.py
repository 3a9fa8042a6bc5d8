"""Flows that cross pages and systems: a push's deep link into the web, the app's SSO hand-over into its WebView."""

from __future__ import annotations

import html
from typing import Any

from harness.appflows import (  # noqa: F401 - the web layer's tests import them from here
    APP_SCHEME,
    DEEP_LINK_ROUTES,
    WEB_AUDIENCE,
    delivered_deep_link,
    register_push_device,
    sso_ticket,
    staff_send,
    web_path_for,
)


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
