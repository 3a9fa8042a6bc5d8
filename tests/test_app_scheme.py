"""The app's URL scheme is a valid RFC 3986 scheme, and the CSP, login callback and deep links all use it."""

from __future__ import annotations

import re

import httpx

from sut.idp import REDIRECTS
from sut.links import APP_SCHEME, app_link
from sut.push.gateways.common import link_message_id

# RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
RFC3986_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def test_scheme_is_valid_per_rfc_3986() -> None:
    assert RFC3986_SCHEME.match(APP_SCHEME)
    assert not RFC3986_SCHEME.match("1177-appen")  # the old scheme: a browser drops a CSP source naming it


def test_csp_form_action_names_the_scheme(http: httpx.Client) -> None:
    policy = http.get("/logged-out").headers["content-security-policy"]
    form_action = next(d for d in policy.split(";") if d.strip().startswith("form-action"))
    sources = form_action.split()[1:]
    assert f"{APP_SCHEME}:" in sources
    for source in sources:
        if source.endswith(":"):  # a scheme-source
            assert RFC3986_SCHEME.match(source[:-1]), source


def test_callbacks_and_deep_links_use_the_scheme() -> None:
    assert all(uri.startswith(f"{APP_SCHEME}://") for uri in REDIRECTS["app"])
    message_id = "0b7c1d1e-6d0a-4f4e-9a4b-1c2d3e4f5a6b"
    assert link_message_id(app_link(f"inbox/messages/{message_id}")) == message_id
    assert link_message_id(f"1177-appen://inbox/messages/{message_id}") is None
