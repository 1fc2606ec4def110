"""Indonesian phone numbers: parse with region ID, store E.164, show 0812-…."""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str, region: str = "ID") -> str | None:
    """E.164 ('+6281234567890') for a valid number, else None."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """National display form: '0812-3456-7890' for Indonesian numbers, international otherwise."""
    try:
        parsed = phonenumbers.parse(e164, "ID")
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code == 62:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "-")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
