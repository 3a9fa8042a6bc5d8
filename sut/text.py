"""Rules for the free text and identifiers the APIs accept: defined once, published in the schemas and enforced.

Free text (a subject, a message body) is refused when it holds control characters, bidirectional controls
(U+202E makes "evil" read "live": spoofing in a health message), lone surrogates or noncharacters, or when
nothing visible is left once trimmed (an empty, invisible link in the inbox). Accepted text is trimmed and stored
in Unicode NFC, so one word is stored one way however the sender's keyboard composed it.

Identifiers take ASCII digits only: Python's ``\\d`` and ``str.isdigit()`` also accept Arabic-Indic (٠-٩) and
full-width (０-９) digits, so the patterns say ``[0-9]``.

The published pattern is the one the server checks, so a schema-valid value is never refused and an invalid one
never stored (BR-SEC-1). Patterns are ECMA-262 regular expressions read by code point (the ``u`` flag), as Python's
``re`` and the Rust engines read them; characters beyond U+FFFF stand in them literally, since no escape for them
is common to ECMA-262 and Python. A lone surrogate (a JSON escape such as "\\ud800" without its pair) is refused
although no pattern names it: the Rust engines refuse a pattern that does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, StrictStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from . import faults, pnr

Interval = tuple[int, int]
MAX_CODE_POINT = 0x10FFFF

CONTROL = ((0x00, 0x1F), (0x7F, 0x9F))  # general category Cc
TAB_AND_NEWLINE = ((0x09, 0x0A),)
LINE_SEPARATORS = ((0x2028, 0x2029),)  # Zl, Zp: a line break other than \n
BIDI_CONTROLS = ((0x202A, 0x202E), (0x2066, 0x2069))  # embeddings, overrides, isolates (Cf)
SURROGATES = ((0xD800, 0xDFFF),)
NONCHARACTERS = ((0xFDD0, 0xFDEF), *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)))
# What Python's str.strip() removes, less the control characters refused anyway (tests/test_text_rules.py checks).
WHITESPACE = ((0x09, 0x0A), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x202F, 0x202F),
              (0x205F, 0x205F), (0x3000, 0x3000))
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): rendered as nothing, so text made only of
# them (a zero-width space, say) is as blank as spaces are.
DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                     (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                     (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for low, high in sorted(intervals):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def minus(keep: Iterable[Interval], drop: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    dropped = merged(drop)
    for low, high in merged(keep):
        cursor = low
        for d_low, d_high in dropped:
            if d_high < cursor or d_low > high:
                continue
            if d_low > cursor:
                out.append((cursor, d_low - 1))
            cursor = max(cursor, d_high + 1)
        if cursor <= high:
            out.append((cursor, high))
    return out


def size(intervals: Iterable[Interval]) -> int:
    return sum(high - low + 1 for low, high in intervals)


def char_class(intervals: Iterable[Interval]) -> str:
    """A regex character class; BMP code points as \\uXXXX, the others literally (see the module docstring).

    A class of nearly every code point is written as the complement of the few it lacks ('[^...]'): generators
    such as Hypothesis's from_regex walk a range one code point at a time, and a million of them per draw would
    stall the fuzzing."""

    def one(code: int) -> str:
        return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)

    def listed(ranges: list[Interval]) -> str:
        return "".join(one(low) if low == high else f"{one(low)}-{one(high)}" for low, high in ranges)

    ranges = minus(intervals, SURROGATES)
    # Surrogates are left unnamed: the Rust engines refuse a pattern that names them (no Rust string holds one),
    # so clean_text refuses a lone surrogate itself, and the description says so.
    complement = minus([(0, MAX_CODE_POINT)], [*ranges, *SURROGATES])
    if size(complement) < size(ranges):
        return f"[^{listed(complement)}]"
    return f"[{listed(ranges)}]"


ONE_LINE = minus([(0, MAX_CODE_POINT)], [*CONTROL, *LINE_SEPARATORS, *BIDI_CONTROLS, *SURROGATES, *NONCHARACTERS])
MULTI_LINE = merged([*ONE_LINE, *TAB_AND_NEWLINE])
VISIBLE = minus(ONE_LINE, [*WHITESPACE, *DEFAULT_IGNORABLE])


def _text_regex(allowed: list[Interval]) -> str:
    # Invisible characters first, then one visible, then anything allowed. The first two classes do not overlap,
    # so the regex never backtracks more than one step per character (no ReDoS on a 5,000-character body).
    invisible = minus(allowed, VISIBLE)
    return f"{char_class(invisible)}*{char_class(VISIBLE)}{char_class(allowed)}*"


ONE_LINE_REGEX = _text_regex(ONE_LINE)
MULTI_LINE_REGEX = _text_regex(MULTI_LINE)
_COMPILED = {False: re.compile(ONE_LINE_REGEX), True: re.compile(MULTI_LINE_REGEX)}
_ANY_VISIBLE = re.compile(char_class(VISIBLE))
_SURROGATE = re.compile("[\ud800-\udfff]")

_REFUSED_WORDS = ("control characters (U+0000-U+001F, U+007F-U+009F){except_}, the separators U+2028 and U+2029, "
                  "bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069), "
                  "surrogates and noncharacters (U+FDD0-U+FDEF and U+nFFFE, U+nFFFF of every plane)")


def rule_in_words(*, max_length: int, multiline: bool) -> str:
    """The rule a text field's schema states, in words for a reader of the OpenAPI document."""
    kind = "Text, line breaks as \\n" if multiline else "One line of text"
    refused = _REFUSED_WORDS.format(except_=" other than tab and line feed" if multiline else "")
    return (f"{kind}, 1-{max_length:,} characters (code points). Refused: {refused}, and text with nothing visible "
            f"once trimmed (only white space or zero-width characters). Stored trimmed of leading and trailing "
            f"white space and normalised to Unicode NFC; the length limit holds after normalisation too.")


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("text_invalid", message)


def clean_text(value: str, *, max_length: int, multiline: bool) -> str:
    """The stored form of a free-text value (trimmed, NFC), or a validation error naming the broken rule."""
    if not 1 <= len(value) <= max_length:
        raise _invalid(f"Texten ska ha 1–{max_length} tecken.")
    if faults.active("text-unfiltered"):
        # The defect: only the old rule (no NUL, which one of the databases cannot hold) is checked.
        if "\x00" in value:
            raise _invalid("Texten innehåller otillåtna tecken.")
        return value
    if not _COMPILED[multiline].fullmatch(value) or _SURROGATE.search(value):
        if not _ANY_VISIBLE.search(value):
            raise _invalid("Texten får inte vara tom.")
        raise _invalid("Texten innehåller otillåtna tecken, till exempel styrtecken eller riktningstecken.")
    stored = unicodedata.normalize("NFC", value.strip())
    if len(stored) > max_length:
        raise _invalid(f"Texten ska ha högst {max_length} tecken.")
    return stored


def free_text(*, max_length: int, multiline: bool = False, description: str) -> Any:
    """A free-text field: its schema states the rule (pattern, lengths, words) and the server enforces the same."""

    def check(value: str) -> str:
        return clean_text(value, max_length=max_length, multiline=multiline)

    regex = MULTI_LINE_REGEX if multiline else ONE_LINE_REGEX
    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": f"^{regex}$",
              "description": f"{description} {rule_in_words(max_length=max_length, multiline=multiline)}"}
    return Annotated[StrictStr, AfterValidator(check), WithJsonSchema(schema)]


def personnummer(*, description: str) -> Any:
    """A personnummer field: ASCII digits only, 10 or 12 of them, with or without separator (BR-ID-1).

    The pattern cannot say more (a real date, the check digit): such a number is refused with the documented 422.
    """

    def check(value: str) -> str:
        if not pnr.has_syntax(value):
            raise PydanticCustomError("personnummer_invalid", "Ange ett personnummer med siffrorna 0–9.")
        return value

    schema = {"type": "string", "minLength": 10, "maxLength": 13, "pattern": pnr.PATTERN,
              "description": f"{description} 10 or 12 ASCII digits (0-9), with or without '-' or '+' before the "
                             "last four; other digits (such as Arabic-Indic or full-width) are refused."}
    return Annotated[StrictStr, AfterValidator(check), WithJsonSchema(schema)]
