"""Demo deals for the demo business: a few deals across the default pipeline's stages, for the demo contacts.

Runs after the contacts seeder and finds its contacts by listing them; with no contacts it adds nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.sales import service
from niaga.identity.models import User
from niaga.identity.principal import Principal

# (title, stage name, days to expected close, product lines, or a value without lines, by the agent?, lost reason)
DEMO_DEALS = [
    ("Katering pernikahan 300 porsi", "Proposal", 30, [("Nasi kotak premium", 300, 45_000)], None, True, None),
    ("Renovasi etalase toko", "Prospek", 60, [], 12_500_000, False, None),
    ("Langganan kopi kantor 12 bulan", "Negosiasi", 14, [("Kopi arabika 1 kg", 24, 185_000),
                                                          ("Sewa mesin kopi per bulan", 12, 350_000)], None, True, None),
    ("Seragam karyawan 50 stel", "Kualifikasi", 45, [("Kemeja seragam", 50, 175_000)], None, False, None),
    ("Parsel Lebaran 120 paket", "Menang", -10, [("Parsel kue kering", 120, 225_000)], None, True, None),
    ("Sewa tata suara acara kantor", "Kalah", -20, [], 6_000_000, False, "Memilih penyedia lain yang lebih murah"),
]


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add demo deals to the demo business."""
    contacts = service.contact_choices(session, owner, limit=len(DEMO_DEALS))
    if not contacts:
        return
    agent = session.scalar(select(User).where(User.tenant_id == owner.tenant_id, User.role == "agent",
                                              User.status == "active").order_by(User.created_at))
    pipeline = service.ensure_default_pipeline(session, owner.tenant_id)
    stages = {stage.name: stage for stage in pipeline.stages}
    today = date.today()
    for i, (title, stage_name, days, lines, value, by_agent, reason) in enumerate(DEMO_DEALS):
        contact = contacts[i % len(contacts)]
        deal_owner = agent if by_agent and agent is not None else None
        deal = service.create_deal(
            session, owner, title=title, contact_id=contact.id, company_id=contact.company_id,
            owner_id=deal_owner.id if deal_owner else None, value=value or 0,
            expected_close_date=today + timedelta(days=days),
            lines=[{"product_name": n, "quantity": q, "unit_price": p} for n, q, p in lines] or None,
        )
        stage = stages.get(stage_name)
        if stage is not None and stage.id != deal.stage_id:
            service.move_deal(session, owner, deal, stage.id, lost_reason=reason)
    session.flush()
