"""API shapes for contacts and companies.

Inputs take plain strings and leave the checking to `validation.py`, so the API, the pages and the importer
refuse the same values with the same messages. Outputs show an erased person's values as "[erased]".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from niaga.crm.contacts.validation import format_npwp
from niaga.crm.models import Company, Contact
from niaga.identity.schemas import PersonalDate, PersonalStr
from niaga.privacy.fields import Unreadable

Short = Field(None, max_length=200)
AddressKind = Literal["office", "billing", "shipping"]


class AddressIn(BaseModel):
    """A postal address."""

    model_config = ConfigDict(extra="forbid")

    street: str = Field("", max_length=400)
    city: str = Field("", max_length=400)
    province: str = Field("", max_length=400)
    postal_code: str = Field("", max_length=20)


class ContactCreate(BaseModel):
    """A new contact. Emails and phones are lists; phones in any Indonesian format (0812…, +62…, 62…)."""

    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(max_length=500)
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20)
    addresses: dict[AddressKind, AddressIn] = Field(default_factory=dict)
    birth_date: str | None = Field(None, max_length=40, description="YYYY-MM-DD")
    gender: Literal["female", "male", "other", "unspecified", ""] | None = None
    company_id: str | None = Field(None, max_length=64)
    position: str | None = Short
    notes: str | None = Field(None, max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    owner_id: str | None = Field(None, max_length=64)
    team_id: str | None = Field(None, max_length=64)
    source: str | None = Field(None, max_length=20)
    loyalty_card_number: str | None = Field(None, max_length=80)

    def values(self) -> dict[str, Any]:
        """The input as the service takes it."""
        data = self.model_dump(exclude_unset=False)
        data["addresses"] = {kind: address.model_dump() for kind, address in self.addresses.items()}
        return data


class ContactUpdate(BaseModel):
    """Changes to a contact: only the fields sent change (null clears an optional field)."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(None, max_length=500)
    emails: list[str] | None = Field(None, max_length=20)
    phones: list[str] | None = Field(None, max_length=20)
    addresses: dict[AddressKind, AddressIn] | None = None
    birth_date: str | None = Field(None, max_length=40)
    gender: Literal["female", "male", "other", "unspecified", ""] | None = None
    company_id: str | None = Field(None, max_length=64)
    position: str | None = Short
    notes: str | None = Field(None, max_length=10_000)
    tags: list[str] | None = Field(None, max_length=50)
    owner_id: str | None = Field(None, max_length=64)
    team_id: str | None = Field(None, max_length=64)
    loyalty_card_number: str | None = Field(None, max_length=80)

    def values(self) -> dict[str, Any]:
        """Only the fields that were sent."""
        data = self.model_dump(exclude_unset=True)
        if "addresses" in data:
            data["addresses"] = {k: v.model_dump() for k, v in (self.addresses or {}).items()}
        return data


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


class ContactRead(BaseModel):
    """A contact as the API shows it."""

    id: uuid.UUID
    full_name: PersonalStr
    emails: list[str]
    phones: list[str]
    addresses: dict[str, Any]
    birth_date: PersonalDate
    gender: PersonalStr
    position: PersonalStr
    notes: PersonalStr
    loyalty_card_number: PersonalStr
    company_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    source: str
    tags: list[str]
    status: str
    merged_into_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> "ContactRead":
        """Build from a loaded contact."""
        return cls(
            id=contact.id, full_name=contact.full_name, emails=[_personal(r.email) for r in contact.emails],
            phones=[_personal(r.phone) for r in contact.phones],
            addresses={r.kind: _personal(r.address) for r in contact.addresses}, birth_date=contact.birth_date,
            gender=contact.gender, position=contact.position, notes=contact.notes,
            loyalty_card_number=contact.loyalty_card_number, company_id=contact.company_id,
            owner_id=contact.owner_id, team_id=contact.team_id, source=contact.source, tags=list(contact.tags or []),
            status=contact.status, merged_into_id=contact.merged_into_id, created_at=contact.created_at,
            updated_at=contact.updated_at,
        )


class ContactListItem(BaseModel):
    """One row of a contact list."""

    id: uuid.UUID
    full_name: PersonalStr
    email: PersonalStr
    phone: PersonalStr
    company_id: uuid.UUID | None
    company_name: str | None
    owner_id: uuid.UUID | None
    tags: list[str]
    created_at: datetime


class ContactPageRead(BaseModel):
    """A page of contacts; pass `next_cursor` as `after` for the next page."""

    items: list[ContactListItem]
    next_cursor: uuid.UUID | None = None


class ContactSearch(BaseModel):
    """A search sent in the body, so emails and phone numbers never appear in a URL."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field("", max_length=200, description="An email, a phone number (any format), a card number or name words")
    tag: str = Field("", max_length=40)
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    after: uuid.UUID | None = None
    limit: int = Field(50, ge=1, le=200)


class MergeRequest(BaseModel):
    """Merge the duplicate into the contact named in the path."""

    model_config = ConfigDict(extra="forbid")

    duplicate_id: uuid.UUID


class CompanyCreate(BaseModel):
    """A new company."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    industry: str | None = Field(None, max_length=200)
    website: str | None = Field(None, max_length=400)
    npwp: str | None = Field(None, max_length=40, description="15 or 16 digits, dots and dashes allowed")
    address: AddressIn | None = None
    owner_id: str | None = Field(None, max_length=64)
    team_id: str | None = Field(None, max_length=64)

    def values(self) -> dict[str, Any]:
        """The input as the service takes it."""
        data = self.model_dump()
        data["address"] = self.address.model_dump() if self.address else None
        return data


class CompanyUpdate(BaseModel):
    """Changes to a company: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=500)
    industry: str | None = Field(None, max_length=200)
    website: str | None = Field(None, max_length=400)
    npwp: str | None = Field(None, max_length=40)
    address: AddressIn | None = None
    owner_id: str | None = Field(None, max_length=64)
    team_id: str | None = Field(None, max_length=64)

    def values(self) -> dict[str, Any]:
        """Only the fields that were sent."""
        data = self.model_dump(exclude_unset=True)
        if "address" in data:
            data["address"] = self.address.model_dump() if self.address else None
        return data


class CompanyRead(BaseModel):
    """A company as the API shows it (the NPWP formatted as printed)."""

    id: uuid.UUID
    name: str
    industry: str
    website: str
    npwp: PersonalStr
    address: Any
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, company: Company) -> "CompanyRead":
        """Build from a loaded company."""
        return cls(id=company.id, name=company.name, industry=company.industry, website=company.website,
                   npwp=format_npwp(company.npwp), address=_personal(company.address), owner_id=company.owner_id,
                   team_id=company.team_id, created_at=company.created_at)


class CompanyPageRead(BaseModel):
    """A page of companies."""

    items: list[CompanyRead]
    next_cursor: uuid.UUID | None = None


class RowProblem(BaseModel):
    """Why one row of an import was not taken (never the row's values)."""

    row: int
    field: str
    message: str


class ImportRead(BaseModel):
    """What an import did."""

    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    encoding: str
    columns: dict[str, str]
    ignored_columns: list[str]
    problems: list[RowProblem]


__all__ = ["AddressIn", "ContactCreate", "ContactUpdate", "ContactRead", "ContactListItem", "ContactPageRead",
           "ContactSearch", "MergeRequest", "CompanyCreate", "CompanyUpdate", "CompanyRead", "CompanyPageRead",
           "ImportRead", "RowProblem"]
