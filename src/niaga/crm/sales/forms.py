"""Reading the sales pages' form fields: rupiah as people type them, whole numbers, dates and ids.

Each reader returns the value or records a message for the field, so a form shows every problem at once.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from niaga.kit.messages import Msg

_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")


def rupiah(raw: str | None, field: str, errors: dict[str, str], blank: int | None = None) -> int | None:
    """'15.000.000', 'Rp 15.000' or '15000' → 15000; decimals and other text are refused; empty is `blank`
    when given (an unknown deal value is 0), else a message."""
    text = (raw or "").strip()
    if text.lower().startswith("rp"):
        text = text[2:].strip()
    text = text.replace(" ", "")
    if not text:
        if blank is not None:
            return blank
        errors[field] = Msg("Give an amount in rupiah.")
        return None
    negative = text.startswith("-")
    digits = text.lstrip("-")
    if _THOUSANDS.match(digits):
        digits = digits.replace(".", "")
    if not digits.isdigit() or len(digits) > 18:
        errors[field] = Msg("Give a whole number of rupiah, without decimals.")
        return None
    value = int(digits)
    return -value if negative else value


def whole(raw: str | None, field: str, errors: dict[str, str], message: Msg) -> int | None:
    """A whole number typed as digits (a leading minus allowed, so the service can say it is negative)."""
    text = (raw or "").strip()
    if not re.fullmatch(r"-?\d{1,9}", text):
        errors[field] = message
        return None
    return int(text)


def day(raw: str | None, field: str, errors: dict[str, str]) -> date | None:
    """An ISO date from a date input; empty is None."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = Msg("Give a date like 2026-12-31.")
        return None


def ident(raw: str | None, field: str, errors: dict[str, str]) -> uuid.UUID | None:
    """An id chosen from a list; empty is None."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        errors[field] = Msg("Choose from the list.")
        return None


def query_id(raw: str | None) -> uuid.UUID | None:
    """An id from a query string; anything else is ignored (a filter, not an input to correct)."""
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def kept(form: dict[str, Any], *names: str) -> dict[str, str]:
    """The typed values to show again when the form comes back with messages."""
    return {name: form.get(name, "") for name in names}
