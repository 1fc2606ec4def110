"""A customer with records in every CRM domain, for the data-subject rights tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.crm.sales import deals as sales
from niaga.crm.sales.models import Deal
from niaga.crm.service_desk import activities
from niaga.crm.service_desk import service as desk
from niaga.crm.service_desk.models import Activity, Ticket
from niaga.privacy import files
from niaga.privacy.audit import Actor
from niaga.privacy.consent import ConsentMethod, ConsentPurpose, record_consent
from tests.conftest import TenantWorld

NAME = "Siti Nurhaliza"
EMAIL = "siti.nurhaliza@contoh.example"
PHONE = "0812-3456-7890"
PHONE_E164 = "+6281234567890"
STREET = "Jl. Melati No. 12 RT 03/RW 05"
DEAL_TITLE = "Kopi Gayo 20 kg untuk Warung Siti"
TICKET_TITLE = "Pesanan Siti belum sampai ke Menteng"
NOTE = "Siti minta dikirim lewat JNE ke Menteng"
FILE_BYTES = b"Surat kuasa Siti Nurhaliza, NIK 3171011708450001"
FILE_NAME = "Surat kuasa Siti.txt"


@dataclass
class Customer:
    """A customer with a won deal, an open deal, a ticket, a call note, a consent and a file."""

    world: TenantWorld
    contact: Contact
    won_deal: Deal
    open_deal: Deal
    ticket: Ticket
    activity: Activity
    store: files.FileStore

    @property
    def subject_id(self):
        return self.contact.subject_id


def make_customer(session: Session, world: TenantWorld, store: files.FileStore, *, name: str = NAME,
                  email: str = EMAIL, phone: str = PHONE, birth_date: str = "1990-04-12") -> Customer:
    """Create the customer through the services the pages use (committed, so the app sees it); texts name
    the customer's first name, so two customers' records never share a value."""
    p = world.principal()
    first = name.split()[0]

    def own(text: str) -> str:
        return text.replace("Siti Nurhaliza", name).replace("Siti", first)

    contact = contacts.create_contact(session, p, {
        "full_name": name, "emails": [email], "phones": [phone], "birth_date": birth_date,
        "addresses": {"shipping": {"street": STREET if name == NAME else "Jl. Kenanga No. 7",
                                   "city": "Jakarta Pusat", "province": "DKI Jakarta", "postal_code": "10310"}},
    })
    won = sales.create_deal(session, p, title=own(DEAL_TITLE), contact_id=contact.id, value=2_500_000)
    sales.win_deal(session, p, won)
    open_deal = sales.create_deal(session, p, title="Langganan bulanan " + name, contact_id=contact.id, value=300_000)
    ticket = desk.create_ticket(session, p, {"title": own(TICKET_TITLE), "description": "Alamat pengiriman"},
                                contact=contact)
    activity = activities.create_activity(session, p, {"kind": "call", "body": own(NOTE)}, contact=contact)
    record_consent(session, contact.subject, ConsentPurpose.MARKETING_WHATSAPP, True, method=ConsentMethod.FORM,
                   actor=Actor.system(), channel="web")
    record_consent(session, contact.subject, ConsentPurpose.MARKETING_EMAIL, True, method=ConsentMethod.CHECKBOX,
                   actor=Actor.system(), channel="web")
    files.store_file(session, p, contact.subject_id, own(FILE_BYTES.decode()).encode(), own(FILE_NAME), store=store)
    session.commit()
    return Customer(world, contact, won, open_deal, ticket, activity, store)


@pytest.fixture
def store(settings) -> files.FileStore:
    return files.FileStore.from_settings(settings)


@pytest.fixture
def customer(session, tenant_a, store) -> Customer:
    return make_customer(session, tenant_a, store)
