"""The app's own URL scheme: deep links in pushes, login callbacks, SSO hand-overs and the CSP name it.

RFC 3986 section 3.1: a scheme begins with a letter and goes on with letters, digits, "+", "-" and ".". A scheme
that begins with a digit (such as "1177-appen") is invalid, and browsers drop a CSP source that names it.
"""

from __future__ import annotations

import re

APP_SCHEME = "se.1177.appen"
SCHEME_SYNTAX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
if not SCHEME_SYNTAX.match(APP_SCHEME):
    raise ValueError(f"{APP_SCHEME!r} is not a URL scheme (RFC 3986 3.1)")


def app_link(path: str) -> str:
    """An app URL such as se.1177.appen://inbox/messages/<id> (path without a leading slash)."""
    return f"{APP_SCHEME}://{path}"
