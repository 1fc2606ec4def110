"""Demo service desk for the demo business: SLA targets and hours, holidays, tickets in every state, tasks.

Runs after the contacts seeder and uses its contacts; with no contacts it only sets up the SLA.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.models import Contact
from niaga.crm.service_desk import activities, service, sla_settings
from niaga.crm.visibility import visible
from niaga.db.base import utcnow
from niaga.identity.models import User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal

TARGETS = {"urgent": ("30", "240"), "high": ("120", "960"), "normal": ("240", "1440"), "low": ("480", "2880")}
FIXED_HOLIDAYS = [((1, 1), "Tahun Baru Masehi"), ((8, 17), "Hari Kemerdekaan RI"), ((12, 25), "Hari Raya Natal")]
# (subject, description, priority, channel, hours ago, for the agent?, what happened: replies and status)
TICKETS = [
    ("Pesanan belum sampai", "Pesanan #INV-2291 sudah 6 hari belum diterima.", "urgent", "whatsapp", 96, True, []),
    ("Tanya stok sepatu ukuran 42", "Apakah model Kanvas Putih masih ada ukuran 42?", "normal", "instagram", 1,
     False, []),
    ("Retur barang cacat", "Jahitan tas lepas di bagian tali.", "high", "email", 26, True,
     [("reply", "Mohon maaf, Kak. Boleh kirim foto bagian yang rusak?"), ("status", "pending")]),
    ("Minta faktur pajak", "Untuk pembelian bulan lalu atas nama perusahaan.", "normal", "manual", 50, False,
     [("reply", "Faktur sudah kami kirim ke email Bapak."), ("status", "resolved")]),
    ("Ganti alamat pengiriman", "Kirim ke kantor, bukan ke rumah.", "low", "phone", 80, True,
     [("reply", "Alamat sudah kami ubah."), ("status", "resolved"), ("status", "closed")]),
]


def _principal(user: User) -> Principal:
    role = Role(user.role)
    return Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role,
                     permissions=ROLE_PERMISSIONS[role], via="session")


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add SLA settings, a handful of tickets in different states and a few tasks to the demo business."""
    sla_settings.save_week(session, owner, {d: (sla_settings.format_clock(o), sla_settings.format_clock(c))
                                            for d, (o, c) in sla_settings.DEFAULT_WEEK.items()})
    sla_settings.save_default_policies(session, owner, TARGETS)
    today = date.today()
    for year in (today.year, today.year + 1):
        for (month, day), name in FIXED_HOLIDAYS:
            sla_settings.add_holiday(session, owner, date(year, month, day), name)
    contacts = list(session.scalars(select(Contact).where(visible(owner, Contact), Contact.status == "active")
                                    .order_by(Contact.created_at).limit(len(TICKETS))))
    if not contacts:
        return
    agent = session.scalar(select(User).where(User.tenant_id == owner.tenant_id, User.role == Role.AGENT.value,
                                              User.status == "active").order_by(User.created_at))
    now = utcnow()
    for i, (title, description, priority, channel, hours_ago, for_agent, story) in enumerate(TICKETS):
        contact = contacts[i % len(contacts)]
        handler = _principal(agent) if for_agent and agent is not None else owner
        opened = now - timedelta(hours=hours_ago)
        ticket = service.create_ticket(session, owner, {
            "contact_id": contact.id, "title": title, "description": description, "priority": priority,
            "channel": channel, "assignee_id": handler.user_id}, contact=contact, now=opened)
        for step, (kind, value) in enumerate(story, start=1):
            at = opened + timedelta(minutes=45 * step)
            if kind == "reply":
                service.add_comment(session, owner, ticket, {"body": value}, now=at)
            else:
                service.update_ticket(session, owner, ticket, {"status": value}, now=at)
    _seed_tasks(session, owner, agent, contacts, now)


def _seed_tasks(session: Session, owner: Principal, agent: User | None, contacts: list[Contact], now) -> None:  # noqa: ANN001
    """A few tasks (one overdue), a logged call and a meeting."""
    doer = agent.id if agent is not None else owner.user_id
    first = contacts[0]
    plans = [
        ("task", "Telepon balik soal paket yang belum sampai", now - timedelta(days=1), doer, first),
        ("task", "Kirim katalog koleksi baru", now + timedelta(days=1), doer, contacts[-1]),
        ("task", "Cek ulang stok sepatu ukuran 42", now + timedelta(days=2), owner.user_id, first),
        ("call", "Pelanggan menanyakan jadwal pengiriman; dijanjikan besok pagi.", None, doer, first),
        ("meeting", "Presentasi paket seragam kantor", now + timedelta(days=3), owner.user_id, contacts[-1]),
    ]
    for kind, body, due, owner_id, contact in plans:
        activities.create_activity(session, owner, {"contact_id": contact.id, "kind": kind, "body": body,
                                                    "due_at": due, "owner_id": owner_id,
                                                    "duration_minutes": 10 if kind == "call" else None},
                                   contact=contact)
