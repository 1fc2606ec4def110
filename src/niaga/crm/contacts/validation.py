"""Checking and normalising what a person typed about a contact or a company, before anything is written.

Every input path (the API, the pages, the CSV importer) goes through these functions, so a value that is
accepted in one place is accepted everywhere, and normalised the same way: emails lower-cased, phones in
E.164 (`+62…`), tags folded, NPWP reduced to its digits. Messages never repeat the value that was refused
(it may be personal, and messages can reach logs).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError as NumberInvalid
from stdnum.id import npwp as npwp_number

from niaga.crm.models import ADDRESS_KINDS, GENDERS, SOURCES
from niaga.db.base import utcnow
from niaga.kit.messages import Msg
from niaga.kit.phone import normalize_phone

MAX_NAME = 120
MAX_POSITION = 120
MAX_NOTES = 5000
MAX_EMAILS = 5
MAX_PHONES = 5
MAX_TAGS = 20
MAX_TAG = 30
MAX_LOYALTY = 40
MAX_ADDRESS_PART = 200
ADDRESS_PARTS = ("street", "city", "province", "postal_code")
_TAG_SPACES = re.compile(r"\s+")
_TAG_OK = re.compile(r"^[\w-]+$", re.UNICODE)
_LOYALTY_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_POSTAL_CODE = re.compile(r"^\d{5}$")
_SPLIT_MANY = re.compile(r"[\n;,]+")
_PHONE_CHARS = re.compile(r"^[\d\s()+.\-]+$")


def one_line(value: Any) -> str:
    """A string with runs of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(value or "").split())


def split_many(value: Any) -> list[str]:
    """A list from a list, or from text with one value per line (or separated by ';' or ',')."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value if v is not None]
    else:
        items = _SPLIT_MANY.split(str(value))
    return [item.strip() for item in items if item and item.strip()]


def clean_email(raw: str) -> str | None:
    """The normalised, lower-cased address, or None when it is not a valid email."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def clean_tags(value: Any, errors: dict[str, str], key: str = "tags") -> list[str]:
    """Tags folded to lower case with spaces as hyphens, without duplicates, in the order given."""
    tags: list[str] = []
    for raw in split_many(value):
        tag = _TAG_SPACES.sub("-", unicodedata.normalize("NFKC", raw).casefold().strip())
        if not tag:
            continue
        if len(tag) > MAX_TAG or not _TAG_OK.match(tag):
            errors[key] = Msg("A tag is one word of at most {n} letters, digits or hyphens.", n=MAX_TAG)
            return []
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        errors[key] = Msg("Use at most {n} tags.", n=MAX_TAGS)
        return []
    return tags


def parse_birth_date(value: Any, errors: dict[str, str], key: str = "birth_date",
                     day_first: bool = False) -> date | None:
    """A past date from YYYY-MM-DD (and DD/MM/YYYY or DD-MM-YYYY when `day_first`, as Indonesian files use)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        born = value
    else:
        text = str(value).strip()
        born = None
        try:
            born = date.fromisoformat(text)
        except ValueError:
            match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text) if day_first else None
            if match:
                try:
                    born = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
                except ValueError:
                    born = None
        if born is None:
            errors[key] = Msg("Enter the date of birth as YYYY-MM-DD.")
            return None
    if born > utcnow().date() or born.year < 1900:
        errors[key] = Msg("Enter a real date of birth.")
        return None
    return born


def parse_uuid(value: Any) -> uuid.UUID | None:
    """A UUID from a UUID or its text; None for empty or malformed input."""
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


def clean_address(value: Any, errors: dict[str, str], key: str) -> dict[str, str] | None:
    """An address as {street, city, province, postal_code}; None when every part is empty."""
    if value is None:
        return None
    if not isinstance(value, dict):
        errors[key] = Msg("An address has a street, a city, a province and a postal code.")
        return None
    unknown = set(value) - set(ADDRESS_PARTS)
    if unknown:
        errors[key] = Msg("An address has a street, a city, a province and a postal code.")
        return None
    parts = {part: one_line(value.get(part))[:MAX_ADDRESS_PART + 1] for part in ADDRESS_PARTS}
    if not any(parts.values()):
        return None
    if any(len(text) > MAX_ADDRESS_PART for text in parts.values()):
        errors[key] = Msg("Each part of an address has at most {n} characters.", n=MAX_ADDRESS_PART)
        return None
    if parts["postal_code"] and not _POSTAL_CODE.match(parts["postal_code"]):
        errors[key] = Msg("An Indonesian postal code has 5 digits.")
        return None
    if not parts["street"] and not parts["city"]:
        errors[key] = Msg("Give at least the street or the city of the address.")
        return None
    return parts


def clean_npwp(value: Any, errors: dict[str, str], key: str = "npwp") -> str | None:
    """The NPWP's digits (15, or 16 since 2024) after its check; None when empty."""
    text = one_line(value)
    if not text:
        return None
    try:
        return npwp_number.validate(text)
    except NumberInvalid:
        errors[key] = Msg("This is not a valid NPWP. Check the digits (15 or 16), for example 01.312.166.0-091.000.")
        return None


def format_npwp(digits: Any) -> Any:
    """Show an NPWP the way it is printed: 01.312.166.0-091.000 for the 15-digit form, 16 digits as they are."""
    if isinstance(digits, str) and len(digits) == 15 and digits.isdigit():
        return npwp_number.format(digits)
    return digits


@dataclass
class ContactFields:
    """A contact's values after checking; only the keys in `given` were part of the input."""

    given: set[str] = field(default_factory=set)
    full_name: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    birth_date: date | None = None
    gender: str | None = None
    company_id: uuid.UUID | None = None
    position: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    source: str = "manual"
    loyalty_card_number: str | None = None


CONTACT_KEYS = ("full_name", "emails", "phones", "addresses", "birth_date", "gender", "company_id", "position",
                "notes", "tags", "owner_id", "team_id", "source", "loyalty_card_number")


def check_contact(data: dict[str, Any], *, partial: bool = False, day_first_dates: bool = False
                  ) -> tuple[ContactFields, dict[str, str]]:
    """Check a contact's input (all fields, or only those present when `partial`); returns values and errors.

    References (company, owner, team) are only parsed here; the service checks that they exist in the
    tenant and that the person may use them.
    """
    errors: dict[str, str] = {}
    out = ContactFields(given={k for k in CONTACT_KEYS if k in data} if partial else set(CONTACT_KEYS))
    if "full_name" in out.given:
        out.full_name = one_line(data.get("full_name"))
        if not out.full_name:
            errors["full_name"] = Msg("Enter the contact's name.")
        elif len(out.full_name) > MAX_NAME:
            errors["full_name"] = Msg("Use at most {n} characters.", n=MAX_NAME)
    if "emails" in out.given:
        for raw in split_many(data.get("emails")):
            email = clean_email(raw) if len(raw) <= 254 else None
            if email is None:
                errors["emails"] = Msg("Enter valid email addresses, one per line.")
                break
            if email not in out.emails:
                out.emails.append(email)
        if len(out.emails) > MAX_EMAILS:
            errors["emails"] = Msg("A contact has at most {n} email addresses.", n=MAX_EMAILS)
    if "phones" in out.given:
        for raw in split_many(data.get("phones")):
            # Letters are refused although the parser reads them as keypad digits: here they are typos.
            phone = normalize_phone(raw) if len(raw) <= 40 and _PHONE_CHARS.match(raw) else None
            if phone is None:
                errors["phones"] = Msg("Enter valid phone numbers, one per line, for example 0812-3456-7890.")
                break
            if phone not in out.phones:
                out.phones.append(phone)
        if len(out.phones) > MAX_PHONES:
            errors["phones"] = Msg("A contact has at most {n} phone numbers.", n=MAX_PHONES)
    if "addresses" in out.given:
        addresses = data.get("addresses") or {}
        if not isinstance(addresses, dict) or set(addresses) - set(ADDRESS_KINDS):
            errors["addresses"] = Msg("Addresses are office, billing or shipping addresses.")
        else:
            for kind in ADDRESS_KINDS:
                cleaned = clean_address(addresses.get(kind), errors, f"address_{kind}")
                if cleaned:
                    out.addresses[kind] = cleaned
    if "birth_date" in out.given:
        out.birth_date = parse_birth_date(data.get("birth_date"), errors, day_first=day_first_dates)
    if "gender" in out.given:
        gender = one_line(data.get("gender")).lower()
        if gender and gender not in GENDERS:
            errors["gender"] = Msg("Choose a gender from the list.")
        out.gender = gender or None
    for key in ("company_id", "owner_id", "team_id"):
        if key in out.given:
            raw = data.get(key)
            parsed = parse_uuid(raw)
            if raw not in (None, "") and parsed is None:
                errors[key] = {"company_id": Msg("Choose a company from the list."),
                               "owner_id": Msg("Choose an owner from your staff."),
                               "team_id": Msg("Choose a team from the list.")}[key]
            setattr(out, key, parsed)
    if "position" in out.given:
        out.position = one_line(data.get("position")) or None
        if out.position and len(out.position) > MAX_POSITION:
            errors["position"] = Msg("Use at most {n} characters.", n=MAX_POSITION)
    if "notes" in out.given:
        notes = str(data.get("notes") or "").replace("\r\n", "\n").strip()
        out.notes = notes or None
        if len(notes) > MAX_NOTES:
            errors["notes"] = Msg("Notes have at most {n} characters.", n=MAX_NOTES)
    if "tags" in out.given:
        out.tags = clean_tags(data.get("tags"), errors)
    if "source" in out.given:
        source = one_line(data.get("source")).lower() or "manual"
        if source not in SOURCES:
            errors["source"] = Msg("Choose a source from the list.")
        out.source = source
    if "loyalty_card_number" in out.given:
        card = one_line(data.get("loyalty_card_number")).upper()
        if card and (len(card) > MAX_LOYALTY or not _LOYALTY_OK.match(card)):
            errors["loyalty_card_number"] = Msg("A loyalty card number has letters, digits and hyphens only.")
        out.loyalty_card_number = card or None
    return out, errors


@dataclass
class CompanyFields:
    """A company's values after checking; only the keys in `given` were part of the input."""

    given: set[str] = field(default_factory=set)
    name: str = ""
    industry: str = ""
    website: str = ""
    npwp: str | None = None
    address: dict[str, str] | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


COMPANY_KEYS = ("name", "industry", "website", "npwp", "address", "owner_id", "team_id")
MAX_COMPANY_NAME = 160
MAX_INDUSTRY = 40
MAX_WEBSITE = 200


def check_company(data: dict[str, Any], *, partial: bool = False) -> tuple[CompanyFields, dict[str, str]]:
    """Check a company's input (all fields, or only those present when `partial`)."""
    errors: dict[str, str] = {}
    out = CompanyFields(given={k for k in COMPANY_KEYS if k in data} if partial else set(COMPANY_KEYS))
    if "name" in out.given:
        out.name = one_line(data.get("name"))
        if not out.name:
            errors["name"] = Msg("Enter the company's name.")
        elif len(out.name) > MAX_COMPANY_NAME:
            errors["name"] = Msg("Use at most {n} characters.", n=MAX_COMPANY_NAME)
    if "industry" in out.given:
        out.industry = one_line(data.get("industry"))
        if len(out.industry) > MAX_INDUSTRY:
            errors["industry"] = Msg("Use at most {n} characters.", n=MAX_INDUSTRY)
    if "website" in out.given:
        out.website = one_line(data.get("website"))
        if out.website and (len(out.website) > MAX_WEBSITE or " " in out.website or "." not in out.website
                            or out.website.lower().startswith(("javascript:", "data:"))):
            errors["website"] = Msg("Enter a web address such as tokomaju.co.id.")
    if "npwp" in out.given:
        out.npwp = clean_npwp(data.get("npwp"), errors)
    if "address" in out.given:
        out.address = clean_address(data.get("address"), errors, "address")
    for key in ("owner_id", "team_id"):
        if key in out.given:
            raw = data.get(key)
            parsed = parse_uuid(raw)
            if raw not in (None, "") and parsed is None:
                errors[key] = Msg("Choose an owner from your staff.") if key == "owner_id" else Msg(
                    "Choose a team from the list.")
            setattr(out, key, parsed)
    return out, errors
