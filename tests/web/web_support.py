"""Test-side helpers of the browserless web user; the user itself is harness.web_client's."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from harness.web_client import (  # noqa: F401 - re-exported for the tests of the web e-services
    BROWSER_UA,
    SESSION_COOKIE,
    STATE_COOKIE,
    Page,
    WebUser,
    login_via_idp,
    set_cookies,
)

APP_UA = "1177-appen/3.2.0 (ios)"


def pnr_forms(personnummer: str) -> list[str]:
    """The ways a personnummer can be written: 12 digits, 10 digits, with and without the dash."""
    long, short = personnummer, personnummer[2:]
    return [long, short, f"{long[:8]}-{long[8:]}", f"{short[:6]}-{short[6:]}"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def contains_pnr(text: str, personnummer: str) -> bool:
    return any(re.search(rf"(?<!\d){re.escape(form)}(?!\d)", text) for form in pnr_forms(personnummer))
