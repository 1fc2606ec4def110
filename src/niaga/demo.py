"""Demo data for `make run`: a small shop with staff in each role. Other domains register seeders here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.demo import SEEDERS as CRM_SEEDERS
from niaga.inbox.demo import SEEDERS as INBOX_SEEDERS
from niaga.identity import staff
from niaga.identity.accounts import SignUpForm, sign_up
from niaga.identity.models import Tenant
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.privacy.audit import Actor
from niaga.privacy.requests.demo import seed as seed_privacy_requests

DEMO_OWNER = "pemilik@tokomaju.example"
DEMO_STAFF = [
    ("Siti Rahmawati", "admin@tokomaju.example", "081311112222", "1990-04-12", Role.ADMIN),
    ("Budi Santoso", "agen@tokomaju.example", "081322223333", "1995-08-17", Role.AGENT),
    ("Dewi Lestari", "kasir@tokomaju.example", "081333334444", "1998-01-30", Role.CASHIER),
    ("Agus Wijaya", "auditor@tokomaju.example", "081344445555", "1985-11-02", Role.AUDITOR),
]


@dataclass
class DemoResult:
    """What was seeded, for the CLI to print."""

    tenant_name: str
    logins: list[tuple[str, str]] = field(default_factory=list)


# Functions (session, settings, owner principal) that add each domain's demo records, in order.
SEEDERS: list[Callable[[Session, Settings, Principal], None]] = [*CRM_SEEDERS]
SEEDERS += INBOX_SEEDERS  # the inbox's channel and conversations use the CRM's agents
SEEDERS.append(seed_privacy_requests)  # requests of demo customers with an email


def seed_demo(session: Session, settings: Settings, force: bool = False) -> DemoResult | None:
    """Seed 'Toko Maju Jaya' with one staff member per role; None when tenants already exist."""
    if not force and session.scalar(select(Tenant.id).limit(1)) is not None:
        return None
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    owner = sign_up(
        session,
        SignUpForm(full_name="Rina Kusuma", company_name="Toko Maju Jaya", position="Pemilik", email=DEMO_OWNER,
                   phone="081298765432", birth_date="1988-06-15", password=settings.demo_password, accept_terms=True),
        settings, passwords, Actor.system(),
    )
    tenant = session.get(Tenant, owner.tenant_id)
    tenant.address = "Jl. Malioboro No. 10, Yogyakarta"
    tenant.privacy_contact_email = "privasi@tokomaju.example"
    # Published contact points (policy D4) are a role and a role mailbox, not a person's own details.
    tenant.dpo_name = "Petugas Pelindungan Data"
    principal = Principal(tenant_id=owner.tenant_id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                          permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
    result = DemoResult(tenant_name=tenant.name, logins=[(DEMO_OWNER, Role.OWNER.value)])
    for name, email, phone, born, role in DEMO_STAFF:
        token, _ = staff.invite(session, principal, email, role.value, settings)
        staff.accept_invitation(
            session, token,
            staff.AcceptForm(full_name=name, position="", phone=phone, birth_date=born,
                             password=settings.demo_password, accept_terms=True),
            settings, passwords, None,
        )
        result.logins.append((email, role.value))
    for seeder in SEEDERS:
        seeder(session, settings, principal)
    return result
