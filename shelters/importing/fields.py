"""Cell parsers for the interchange formats. Unknown is an empty cell, never 0.

Each parser takes the stripped cell text and returns a Python value, or raises
``CellError`` with a message meant for the person who made the file.
"""

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import TextChoices

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "8000", "-5", or thousands grouped with commas as in "8,000".
_INTEGER = re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+)$")


class CellError(ValueError):
    pass


Parser = Callable[[str], Any]


def text(cell: str) -> str:
    return cell


def optional_date(cell: str) -> date | None:
    if not cell:
        return None
    if not _ISO_DATE.match(cell):
        raise CellError(f"'{cell}' is not a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(cell)
    except ValueError:
        raise CellError(f"'{cell}' is not a valid calendar date") from None


def optional_integer(cell: str) -> int | None:
    if not cell:
        return None
    if not _INTEGER.match(cell):
        raise CellError(f"'{cell}' is not a whole number")
    return int(cell.replace(",", ""))


def optional_decimal(cell: str) -> Decimal | None:
    if not cell:
        return None
    try:
        value = Decimal(cell)
    except InvalidOperation:
        raise CellError(f"'{cell}' is not a number") from None
    if not value.is_finite():
        raise CellError(f"'{cell}' is not a finite number")
    return value


def choice(choices: type[TextChoices], *, default: str = "") -> Parser:
    """A parser accepting one of ``choices``' values, case-insensitively; empty gives ``default``."""
    allowed = {value.lower(): value for value in choices.values}

    def parse(cell: str) -> str:
        if not cell:
            return default
        try:
            return allowed[cell.lower()]
        except KeyError:
            raise CellError(f"'{cell}' is not one of: {', '.join(choices.values)}") from None

    return parse
