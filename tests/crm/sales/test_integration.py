"""Sales where it meets the rest of the CRM: the contact's timeline, contact merges, the demo business."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from niaga.crm.sales import demo, service
from niaga.crm.sales.models import Deal
from niaga.crm.timeline import timeline
from niaga.kit.messages import Msg
from niaga.privacy.audit import Actor
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import ERASED
from niaga.web.i18n import gettext_for
from tests.crm.sales.conftest import make_contact, new_deal


def test_a_contacts_deals_are_on_their_timeline_for_those_who_may_see_them(session, world):
    deal = new_deal(session, world, value=15_000_000)
    service.win_deal(session, world.p(world.agent), deal)
    new_deal(session, world, title="Kitchen set", value=2_500_000)
    items = [i for i in timeline(session, world.p(world.agent), world.contact) if i.kind == "deal"]
    assert [i.detail for i in items] == ["Kitchen set", "Renovasi dapur"]
    assert items[1].link == f"/deals/{deal.id}" and items[1].source == "deals"
    assert isinstance(items[1].title, Msg) and items[1].title == "Deal won: Rp 15.000.000"
    assert items[0].title.translate(gettext_for("id")) == "Deal di tahap Prospek: Rp 2.500.000"
    # Joko sees neither deal; the auditor sees both.
    assert not [i for i in timeline(session, world.p(world.loner), world.contact) if i.kind == "deal"]
    assert len([i for i in timeline(session, world.p(world.auditor), world.contact) if i.kind == "deal"]) == 2
    erase_subject(session, world.a.id, world.contact.subject_id, Actor.system(), "subject-request")
    session.expire_all()
    erased = [i for i in timeline(session, world.p(world.manager), world.contact) if i.kind == "deal"]
    assert [i.detail for i in erased] == [ERASED, ERASED]


def test_merging_contacts_moves_their_deals_to_the_kept_contacts_key(session, world):
    merge = pytest.importorskip("niaga.crm.contacts.merge")
    duplicate = make_contact(session, world.a.id, "Ratna S.", owner=world.agent)
    deal = new_deal(session, world, contact_id=duplicate.id, title="Atap galvalum")
    merge.merge_contacts(session, world.p(world.manager), world.contact.id, duplicate.id)
    session.commit()
    session.expire_all()
    moved = session.get(Deal, (world.a.id, deal.id))
    assert moved.contact_id == world.contact.id and moved.subject_id == world.contact.subject_id
    assert moved.title == "Atap galvalum"
    erase_subject(session, world.a.id, world.contact.subject_id, Actor.system(), "subject-request")
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).title == ERASED


def test_demo_deals_spread_over_the_stages(session, world, settings):
    for name in ("Andi Wijaya", "Sri Mulyani", "Rudi Hartono"):
        make_contact(session, world.a.id, name)
    demo.seed(session, settings, world.p(world.owner))
    session.commit()
    deals = list(session.scalars(select(Deal).where(Deal.tenant_id == world.a.id)))
    assert len(deals) == len(demo.DEMO_DEALS)
    assert {d.status for d in deals} == {"open", "won", "lost"}
    pipeline = service.list_pipelines(session, world.p(world.owner))[0]
    stage_names = {s.id: s.name for s in pipeline.stages}
    assert {stage_names[d.stage_id] for d in deals} == {"Prospek", "Kualifikasi", "Proposal", "Negosiasi", "Menang",
                                                          "Kalah"}
    catering = next(d for d in deals if d.title == "Katering pernikahan 300 porsi")
    assert catering.value == 13_500_000 and catering.owner_id is not None
    agents_deals = service.list_deals(session, world.p(world.agent))[0]
    assert agents_deals and all(d.owner_id == world.agent.id for d in agents_deals)
    assert service.forecast(session, world.p(world.owner), pipeline).weighted > 0


def test_demo_without_contacts_adds_nothing(session, tenant_b, settings):
    demo.seed(session, settings, tenant_b.principal())
    assert session.scalars(select(Deal).where(Deal.tenant_id == tenant_b.id)).first() is None
