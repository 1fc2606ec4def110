"""Contacts (data subjects) with their emails, phones and addresses, and companies.

Every contact is a data subject with its own key: its personal fields, and every record other domains
hold about it (deals, tickets, activities, messages, sales), are sealed under that key, so erasing the
contact is one key deletion.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from niaga.db.base import Base, TenantOwned, Timestamped
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk
from niaga.web.i18n import N_

U1, U2, U4, U5, U6 = Purpose.U1, Purpose.U2, Purpose.U4, Purpose.U5, Purpose.U6
REL = Retention.RELATIONSHIP
GENDERS = ("female", "male", "other", "unspecified")
SOURCES = ("manual", "import", "whatsapp", "instagram", "telegram", "line", "email", "webchat", "pos")
ADDRESS_KINDS = ("office", "billing", "shipping")


def _owner_fks(table: str) -> list[ForeignKeyConstraint]:
    return [
        ForeignKeyConstraint(["tenant_id", "owner_id"], ["users.tenant_id", "users.id"],
                             name=f"fk_{table}_owner_users"),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"],
                             name=f"fk_{table}_team_teams"),
    ]


class Company(TenantOwned, SubjectOwned, Timestamped, Base):
    """A customer's company. It has a key of its own: a sole proprietor's NPWP is their NIK."""

    __tablename__ = "companies"

    # Decision: a company's trade name is what the business itself publishes (signboard, invoices), so it
    # stays searchable in clear; what identifies a sole proprietor as a person (NPWP = NIK, address) is sealed.
    name: Mapped[str] = mapped_column(String(160), info={"not_personal": N_(
        "A business's trade name, published by the business itself; the owner's NPWP and address are encrypted")})
    industry: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    npwp = personal(Category.IDENTIFICATION, [U1, U4], retention=Retention.TAX_10Y, index="digits", unique=True,
                    description="Company tax number (NPWP); for sole proprietors the owner's NIK")
    address = personal(Category.LOCATION, [U1, U4], retention=REL, python_type=dict,
                       description="Company address (street, city, province, postal code)")
    owner_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]

    __table_args__ = (subject_fk(), *_owner_fks("companies"), Index("ix_companies_name", "tenant_id", "name"))


class Contact(TenantOwned, SubjectOwned, Timestamped, Base):
    """A customer or lead: a data subject."""

    __tablename__ = "contacts"

    full_name = personal(Category.IDENTITY, [U1, U2, U5], retention=REL, index="words", description="Customer name")
    birth_date = personal(Category.IDENTITY, [U1, U6], retention=REL, python_type=date,
                          description="Date of birth (age checks: under 18 is a child's data, H3)")
    gender = personal(Category.IDENTITY, [U1], retention=REL, description="Gender")
    position = personal(Category.IDENTITY, [U1], retention=REL, description="Job title at the company")
    notes = personal(Category.COMMUNICATION, [U1, U2], retention=REL, description="Staff notes about the customer")
    loyalty_card_number = personal(Category.IDENTIFICATION, [U1, U4], retention=REL, index="exact", unique=True,
                                   description="Loyalty card number")
    company_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(20), default="manual")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | merged
    merged_into_id: Mapped[uuid.UUID | None]

    emails: Mapped[list["ContactEmail"]] = relationship(
        primaryjoin="and_(Contact.tenant_id == ContactEmail.tenant_id, Contact.id == foreign(ContactEmail.contact_id))",
        order_by="ContactEmail.position", cascade="all, delete-orphan", lazy="select",
    )
    phones: Mapped[list["ContactPhone"]] = relationship(
        primaryjoin="and_(Contact.tenant_id == ContactPhone.tenant_id, Contact.id == foreign(ContactPhone.contact_id))",
        order_by="ContactPhone.position", cascade="all, delete-orphan", lazy="select",
    )
    addresses: Mapped[list["ContactAddress"]] = relationship(
        primaryjoin="and_(Contact.tenant_id == ContactAddress.tenant_id, "
                    "Contact.id == foreign(ContactAddress.contact_id))",
        cascade="all, delete-orphan", lazy="select",
    )

    __table_args__ = (
        subject_fk(),
        *_owner_fks("contacts"),
        ForeignKeyConstraint(["tenant_id", "company_id"], ["companies.tenant_id", "companies.id"],
                             name="fk_contacts_company_companies"),
        Index("ix_contacts_owner", "tenant_id", "owner_id"),
        Index("ix_contacts_created", "tenant_id", "created_at"),
    )


class ContactEmail(TenantOwned, SubjectOwned, Base):
    """One email address of a contact; unique within the tenant (dedupe offers the existing contact)."""

    __tablename__ = "contact_emails"

    contact_id: Mapped[uuid.UUID]
    email = personal(Category.CONTACT, [U1, U5, U6], retention=REL, index="email", unique=True,
                     description="Customer email")
    label: Mapped[str] = mapped_column(String(20), default="", info={"not_personal": N_(
        "A label staff pick from a short list (work, home), not a value about the person")})
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"),
        Index("ix_contact_emails_contact", "tenant_id", "contact_id"),
    )


class ContactPhone(TenantOwned, SubjectOwned, Base):
    """One phone number of a contact (E.164); unique within the tenant."""

    __tablename__ = "contact_phones"

    contact_id: Mapped[uuid.UUID]
    phone = personal(Category.CONTACT, [U1, U5, U6], retention=REL, index="phone", unique=True,
                     description="Customer phone (E.164), also their WhatsApp number")
    label: Mapped[str] = mapped_column(String(20), default="", info={"not_personal": N_(
        "A label staff pick from a short list (work, home), not a value about the person")})
    whatsapp: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"),
        Index("ix_contact_phones_contact", "tenant_id", "contact_id"),
    )


class ContactAddress(TenantOwned, SubjectOwned, Base):
    """An office, billing or shipping address of a contact."""

    __tablename__ = "contact_addresses"

    contact_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10))
    address = personal(Category.LOCATION, [U1, U4], retention=REL, python_type=dict,
                       description="Address (street, city, province, postal code)")

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"),
        Index("ix_contact_addresses_contact", "tenant_id", "contact_id"),
    )
