"""One masking function for everything the harness writes: attachments, logs, reports (BR-SEC-1, OSL-25-1).

It hides personnummer and samordningsnummer (10 or 12 digits, with or without separator), JWTs and bearer
tokens, refresh tokens, authorization codes, SSO tickets, cookies and authorization headers. It is idempotent:
masked text passes through unchanged, so a file may be masked twice. Shell placeholders such as ``${TOKEN}`` are
left alone, so a masked cURL line still runs once a fresh token is exported.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PNR_MASK = "[personnummer]"
SECRET_MASK = "[masked]"  # noqa: S105 - the replacement text, not a secret # nosec B105 # the mask text, not a secret
JWT_MASK = "[jwt]"

# Keys whose values are secrets wherever they appear: JSON, Python reprs, forms, query strings.
SECRET_KEYS = (
    "access_token", "refresh_token", "id_token", "token", "code", "code_verifier", "ticket", "sso_ticket",
    "password", "secret", "client_secret", "session", "session_id", "cookie", "set-cookie", "authorization",
    "x-sso-ticket",
)
_KEYS = "|".join(re.escape(k) for k in sorted(SECRET_KEYS, key=len, reverse=True))

# A value already masked or a shell placeholder: never touched again.
_KEEP = r"(?:\[[a-z]+\]|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)"

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(rf"(?i)(\bbearer\s+)(?!{_KEEP})(?![A-Za-z_]+=)[A-Za-z0-9._~+/=-]+")
# "key": "value" and 'key': 'value' (JSON, Python reprs), with escaped quotes inside the value.
_QUOTED = re.compile(
    rf"""(?ix)(?P<q1>["'])(?P<key>{_KEYS})(?P=q1)(?P<sep>\s*[:=]\s*)(?P<q2>["'])(?!{_KEEP}(?P=q2))"""
    rf"""(?P<value>(?:\\.|(?!(?P=q2)).)+)(?P=q2)""")
# key=value in forms, query strings and cURL data, up to the next separator.
_FORM = re.compile(rf"""(?ix)(?<![A-Za-z0-9_-])(?P<key>{_KEYS})=(?!{_KEEP}(?:[&\s"'<>;]|$))[^&\s"'<>;]+""")
# Header lines (also inside cURL '-H' arguments): everything after the colon up to the line or quote end.
_HEADER = re.compile(
    rf"""(?im)(?P<key>\b(?:authorization|cookie|set-cookie|x-sso-ticket|proxy-authorization))(?P<sep>\s*+:\s*+)"""
    rf"""(?!{_KEEP}['"]?\s*$)(?!bearer\s+{_KEEP})(?P<value>(?:(?!\\[nr])[^\r\n'"])+)""")

# Personnummer: YYMMDD or YYYYMMDD, optional - or +, four digits; never part of a longer digit run or of a
# UUID's last group. Candidates are confirmed by date and check digit, so timestamps and ids stay readable.
_PNR = re.compile(r"(?<![0-9])(?<![0-9A-Fa-f]{4}-)(?P<century>(?:18|19|20))?(?P<date>\d{6})(?P<sep>[-+]?)"
                  r"(?P<tail>\d{4})(?![0-9])")


# Opaque secrets (refresh tokens, codes) have no shape to recognise, so the harness registers every secret it
# receives and the mask hides those exact values wherever they turn up. Only SHA-256 digests are kept, so the
# registry itself may be written to disk and shared between processes of a run.
_OPAQUE = re.compile(r"[A-Za-z0-9_~+/=.-]{20,}")
_known: set[str] = set()
_known_lock = threading.Lock()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def register_secret(value: str | None) -> None:
    """Mask this exact value from now on (a token, code or ticket the harness received)."""
    if value and len(value) >= 20:
        with _known_lock:
            _known.add(_digest(value))


def secret_digests() -> set[str]:
    with _known_lock:
        return set(_known)


def add_secret_digests(digests: Iterable[str]) -> None:
    with _known_lock:
        _known.update(d for d in digests if re.fullmatch(r"[0-9a-f]{64}", d))


def _known_sub(match: re.Match[str]) -> str:
    return SECRET_MASK if _digest(match.group(0)) in _known else match.group(0)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def looks_like_personnummer(date: str, tail: str) -> bool:
    """YYMMDD + NNNC with a real month, a day (or samordningsnummer day + 60) and a valid check digit."""
    month, day = int(date[2:4]), int(date[4:6])
    if not 1 <= month <= 12:
        return False
    if not (1 <= day <= 31 or 61 <= day <= 91):
        return False
    return _luhn_ok(date + tail)


# Hex digests and UUIDs (Allure's history and test ids, attachment names) hold digit runs that pass the date and
# check-digit test by chance: about one 32-digit digest in 4,000 does. A candidate inside one is not a personnummer.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_HEX = frozenset("0123456789abcdefABCDEF")


def _inside_hex_id(text: str, start: int, end: int) -> bool:
    window = max(0, start - 36)
    if any(m.start() <= start and m.end() >= end for m in _UUID.finditer(text, window, end + 36)):
        return True
    left, right = start, end
    while left > 0 and text[left - 1] in _HEX:
        left -= 1
    while right < len(text) and text[right] in _HEX:
        right += 1
    word = re.compile(r"\w")
    if (left > 0 and word.match(text[left - 1])) or (right < len(text) and word.match(text[right])):
        return False  # a hex run inside a longer word is no identifier of its own
    return right - left >= 16 and any(ch.isalpha() for ch in text[left:right])


def is_personnummer(match: re.Match[str]) -> bool:
    """A ``_PNR`` match that is a personnummer: a real date and check digit, and not a piece of a hex id."""
    return looks_like_personnummer(match["date"], match["tail"]) and \
        not _inside_hex_id(match.string, match.start(), match.end())


def _pnr_sub(match: re.Match[str]) -> str:
    return PNR_MASK if is_personnummer(match) else match.group(0)


def _header_sub(match: re.Match[str]) -> str:
    value = match["value"]
    if re.match(r"(?i)bearer\s+", value):  # keep the scheme so a reader sees what kind of header it was
        return f"{match['key']}{match['sep']}{_BEARER.sub(lambda m: m.group(1) + SECRET_MASK, value)}"
    if re.fullmatch(rf"\s*{_KEEP}\s*", value):
        return match.group(0)
    return f"{match['key']}{match['sep']}{SECRET_MASK}"


def mask(text: str) -> str:
    """Mask every personnummer, token, code, ticket, cookie and authorization value in ``text``."""
    if not text:
        return text
    text = _JWT.sub(JWT_MASK, text)
    text = _HEADER.sub(_header_sub, text)
    text = _BEARER.sub(lambda m: m.group(1) + SECRET_MASK, text)
    text = _QUOTED.sub(lambda m: f"{m['q1']}{m['key']}{m['q1']}{m['sep']}{m['q2']}{SECRET_MASK}{m['q2']}", text)
    text = _FORM.sub(lambda m: f"{m['key']}={SECRET_MASK}", text)
    if _known:
        text = _OPAQUE.sub(_known_sub, text)
    return _PNR.sub(_pnr_sub, text)


def mask_bytes(data: bytes) -> bytes:
    """Mask text content; binary content (not UTF-8) is returned as it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return mask(text).encode("utf-8")


def mask_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header pairs with secret values masked (by name, then by content)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    masked = []
    for name, value in items:
        if name.lower() in SECRET_KEYS or name.lower() == "proxy-authorization":
            if name.lower() == "authorization" and value.lower().startswith("bearer "):
                value = "Bearer " + SECRET_MASK
            else:
                value = SECRET_MASK
        masked.append((name, mask(value)))
    return masked


def mask_data(value: Any) -> Any:
    """Mask a JSON-like structure: secret keys by name, every string by content."""
    if isinstance(value, Mapping):
        return {k: (SECRET_MASK if str(k).lower() in SECRET_KEYS and isinstance(v, str) else mask_data(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v) for v in value]
    if isinstance(value, str):
        return mask(value)
    return value


BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".zip", ".gz", ".webm", ".mp4", ".pdf", ".sqlite3"}
MAX_MASKED_BYTES = 64 * 1024 * 1024


def mask_file(path: Path) -> bool:
    """Mask a text file in place; returns True when something changed."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    masked = mask_bytes(data)
    if masked != data:
        path.write_bytes(masked)
        return True
    return False


def mask_tree(root: Path) -> int:
    """Mask every text file under ``root`` in place (any name: Allure writes '.attach' files); binary files and
    files that are not UTF-8 are left as they are. Returns how many files changed."""
    changed = 0
    if not root.exists():
        return 0
    for path in sorted(root.rglob("*")):
        if (path.is_file() and not path.is_symlink() and path.suffix.lower() not in BINARY_SUFFIXES
                and path.stat().st_size <= MAX_MASKED_BYTES):
            changed += mask_file(path)
    return changed


def find_unmasked(root: Path, needles: Iterable[str]) -> list[tuple[Path, str]]:
    """Every file under ``root`` (any kind) that still contains one of ``needles`` verbatim."""
    wanted = [n for n in needles if n]
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        for needle in wanted:
            if needle.encode() in data:
                hits.append((path, needle))
    return hits


def personnummer_forms(number: str) -> list[str]:
    """The ways a 12-digit number may be written: 12 and 10 digits, with and without separator."""
    digits = re.sub(r"\D", "", number)
    if len(digits) != 12:
        return [number]
    short = digits[2:]
    return [digits, f"{digits[:8]}-{digits[8:]}", short, f"{short[:6]}-{short[6:]}"]
