"""The demo business's queue shows an open and an overdue request, with notices kept in the local outbox."""

from __future__ import annotations

from niaga.db.base import utcnow
from niaga.privacy.requests import demo, staff
from tests.privacy.requests.conftest import add_contact


def test_the_seeder_logs_an_open_and_an_overdue_request(session, tenant_a, settings, smtp_server):
    add_contact(session, tenant_a, "Andi Wijaya", email="andi@contoh.example", phone="081311122233")
    add_contact(session, tenant_a, "Sri Lestari", email="sri@contoh.example", phone="081311122244")
    demo.seed(session, settings, tenant_a.principal())
    rows = staff.list_requests(session, tenant_a.principal())
    now = utcnow()
    assert sorted(staff.clock(r, now).overdue for r in rows) == [False, True]
    assert smtp_server.messages == []  # demo notices never leave the machine
    assert len(list((settings.data_dir / "outbox").glob("*.eml"))) == 2


def test_the_seeder_skips_a_business_without_customers(session, tenant_a, settings):
    demo.seed(session, settings, tenant_a.principal())
    assert staff.list_requests(session, tenant_a.principal(), "all") == []
