"""Test personnummer in Skatteverket's format, made and checked with the personnummer library.

Only synthetic numbers are made: the birth number (the three digits after the date) is taken from 980-999,
the range of Skatteverket's published test numbers, so no generated number belongs to a real person.
"""

from __future__ import annotations

import random
import re
from datetime import date

from personnummer import personnummer

from . import faults

TEST_SERIALS = range(980, 1000)
# ASCII digits only: the library, like Python's \d, takes Arabic-Indic and full-width digits for digits too.
PATTERN = r"^(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}$"
_SYNTAX = re.compile(PATTERN.strip("^$"))
_LEGACY_SYNTAX = re.compile(r"(\d{2})?\d{6}[-+]?\d{4}")  # the defect text-unfiltered brings back


class InvalidPersonnummer(ValueError):
    """Not a personnummer with a valid date and check digit."""


def _with_check_digit(stem: str) -> str:
    """Append the one check digit that makes ``stem`` (YYYYMMDDNNN) valid, as the library judges it."""
    for digit in "0123456789":
        if personnummer.valid(stem + digit):
            return stem + digit
    raise InvalidPersonnummer(f"no check digit makes {stem[:8]}-{stem[8:]}? valid")


def make(birth: date, rng: random.Random, *, coordination: bool = False) -> str:
    """A 12-digit test number for someone born on ``birth``; a samordningsnummer adds 60 to the day."""
    return with_serial(birth, rng.choice(TEST_SERIALS), coordination=coordination)


def with_serial(birth: date, serial: int, *, coordination: bool = False) -> str:
    """The 12-digit number of ``birth`` with the birth number ``serial`` and its check digit."""
    day = birth.day + (60 if coordination else 0)
    return _with_check_digit(f"{birth.year:04d}{birth.month:02d}{day:02d}{serial:03d}")


def has_syntax(value: str) -> bool:
    """10 or 12 ASCII digits, with or without a separator; the date and check digit are not judged here."""
    syntax = _LEGACY_SYNTAX if faults.active("text-unfiltered") else _SYNTAX
    return syntax.fullmatch(value) is not None


def normalise(value: str) -> str:
    """'19900101-9803', '199001019803' or '900101-9803' to 12 digits; raises InvalidPersonnummer."""
    value = value.strip()  # the login page's field: a space typed around the number is no error
    if not has_syntax(value):
        raise InvalidPersonnummer("not a personnummer in ASCII digits")
    try:
        parsed = personnummer.parse(value)
    except (personnummer.PersonnummerException, ValueError, TypeError) as exc:
        raise InvalidPersonnummer("not a valid personnummer") from exc
    return parsed.format(long_format=True)


def is_coordination_number(value: str) -> bool:
    return personnummer.parse(value).is_coordination_number()


def mask(value: str) -> str:
    """'199001019803' -> '19900101-****': what logs and pages may show of a number."""
    return f"{value[:8]}-****"
