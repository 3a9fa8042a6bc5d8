"""Test personnummer in Skatteverket's format, made and checked with the personnummer library.

Only synthetic numbers are made: the birth number (the three digits after the date) is taken from 980-999,
the range of Skatteverket's published test numbers, so no generated number belongs to a real person.
"""

from __future__ import annotations

import random
from datetime import date

from personnummer import personnummer

TEST_SERIALS = range(980, 1000)


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


def normalise(value: str) -> str:
    """'19900101-9803', '199001019803' or '900101-9803' to 12 digits; raises InvalidPersonnummer."""
    try:
        parsed = personnummer.parse(value.strip())
    except (personnummer.PersonnummerException, ValueError, TypeError) as exc:
        raise InvalidPersonnummer("not a valid personnummer") from exc
    return parsed.format(long_format=True)


def is_coordination_number(value: str) -> bool:
    return personnummer.parse(value).is_coordination_number()


def mask(value: str) -> str:
    """'199001019803' -> '19900101-****': what logs and pages may show of a number."""
    return f"{value[:8]}-****"
