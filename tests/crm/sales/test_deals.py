"""Deals through the service: sealed under the customer's key, stages of their own pipeline only, win and lose,
product lines, who sees what."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from niaga.crm.sales import service
from niaga.crm.sales.models import Deal, DealLine
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.privacy.audit import Actor, AuditEvent
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import ERASED
from tests.crm.sales.conftest import make_company, make_contact, new_deal


def _deals(session, tenant_id) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(Deal).where(Deal.tenant_id == tenant_id))


def _events(session, tenant_id, action: str) -> list[AuditEvent]:  # noqa: ANN001
    return list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                         AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_a_deal_starts_in_the_first_stage_sealed_under_the_contacts_key(session, world):
    deal = new_deal(session, world, expected_close_date=date(2026, 12, 15))
    stored = session.get(Deal, (world.a.id, deal.id))
    assert stored.title == "Renovasi dapur" and stored.value == 15_000_000 and stored.status == "open"
    assert stored.subject_id == world.contact.subject_id and stored.owner_id == world.agent.id
    stage = service.get_pipeline(session, world.p(world.agent), deal.pipeline_id).stages[0]
    assert stored.stage_id == stage.id and stage.name == "Prospek"
    raw = session.execute(text("SELECT title FROM deals WHERE id = :id"), {"id": deal.id.hex if
                          session.bind.dialect.name == "sqlite" else deal.id}).scalar()
    assert raw is not None and b"Renovasi" not in bytes(raw)
    created = _events(session, world.a.id, "crm.deal_created")[-1]
    assert created.target_id == deal.id.hex and created.subject_id == world.contact.subject_id
    assert "Renovasi" not in str(created.details) and created.details["value"] == 15_000_000


def test_a_company_deal_is_sealed_under_the_companys_key(session, world):
    deal = new_deal(session, world, user=world.manager, company_id=world.company.id, title="Seragam kantor")
    assert deal.subject_id == world.company.subject_id and deal.contact_id is None
    with pytest.raises(ValidationFailed) as exc:
        service.create_deal(session, world.p(world.manager), title="Tanpa pelanggan")
    assert "contact or a company" in exc.value.errors["contact_id"]


def test_erasing_the_contact_shreds_the_deal_but_keeps_its_figures(session, world):
    deal = new_deal(session, world)
    service.lose_deal(session, world.p(world.agent), deal, "Harga terlalu tinggi")
    session.commit()
    erase_subject(session, world.a.id, world.contact.subject_id, Actor.system(), "subject-request")
    session.commit()
    session.expire_all()
    again = session.get(Deal, (world.a.id, deal.id))
    assert again.title == ERASED and again.lost_reason == ERASED
    assert again.value == 15_000_000 and again.status == "lost"
    # The erased customer cannot get new deals.
    with pytest.raises(ValidationFailed) as exc:
        service.create_deal(session, world.p(world.agent), title="Lagi", contact_id=world.contact.id)
    assert "erased" in exc.value.errors["contact_id"]


def test_changing_the_customer_moves_the_deal_to_the_new_customers_key(session, world):
    deal = new_deal(session, world, user=world.manager)
    newcomer = make_contact(session, world.a.id, "Dewi Kartika")
    service.update_deal(session, world.p(world.manager), deal, {"contact_id": newcomer.id})
    session.commit()
    erase_subject(session, world.a.id, world.contact.subject_id, Actor.system(), "subject-request")
    session.commit()
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).title == "Renovasi dapur"
    erase_subject(session, world.a.id, newcomer.subject_id, Actor.system(), "subject-request")
    session.commit()
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).title == ERASED


def test_a_stage_of_another_pipeline_is_refused_by_the_service(session, world):
    p = world.p(world.manager)
    default = service.list_pipelines(session, p)[0]
    project = service.create_pipeline(session, p, "Proyek")
    foreign_stage = project.stages[1]
    with pytest.raises(ValidationFailed) as exc:
        service.create_deal(session, p, title="Salah tahap", contact_id=world.contact.id, pipeline_id=default.id,
                            stage_id=foreign_stage.id)
    assert exc.value.errors == {"stage_id": "This stage belongs to another pipeline."}
    deal = new_deal(session, world, user=world.manager)
    with pytest.raises(ValidationFailed) as exc:
        service.move_deal(session, p, deal, foreign_stage.id)
    assert "another pipeline" in exc.value.errors["stage_id"]
    with pytest.raises(ValidationFailed):
        service.update_deal(session, p, deal, {"stage_id": foreign_stage.id})
    assert _deals(session, world.a.id) == 1
    # Changing the pipeline and the stage together is a move to the other pipeline.
    service.update_deal(session, p, deal, {"pipeline_id": project.id, "stage_id": foreign_stage.id})
    assert (deal.pipeline_id, deal.stage_id) == (project.id, foreign_stage.id)
    service.update_deal(session, p, deal, {"pipeline_id": default.id})  # no stage: the first open one
    assert deal.stage_id == default.stages[0].id


def test_a_stage_of_another_pipeline_is_impossible_in_the_database(session, world):
    deal = new_deal(session, world, user=world.manager)
    project = service.create_pipeline(session, world.p(world.manager), "Proyek")
    session.commit()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(
                Deal.__table__.update().where(Deal.__table__.c.tenant_id == world.a.id,
                                              Deal.__table__.c.id == deal.id)
                .values(stage_id=project.stages[0].id))
    session.rollback()
    assert session.get(Deal, (world.a.id, deal.id)).pipeline_id != project.id


@pytest.mark.parametrize("fields, field, words", [
    ({"value": -1}, "value", "cannot be negative"),
    ({"value": 1.5}, "value", "whole number of rupiah"),
    ({"value": "100000"}, "value", "whole number of rupiah"),
    ({"value": True}, "value", "whole number of rupiah"),
    ({"value": 10**16}, "value", "too large"),
    ({"title": "   "}, "title", "Give the deal a title"),
    ({"title": "x" * 201}, "title", "at most 200"),
    ({"expected_close_date": date(1999, 12, 31)}, "expected_close_date", "between 2000 and 2100"),
    ({"expected_close_date": "besok"}, "expected_close_date", "like 2026-12-31"),
    ({"contact_id": uuid.uuid4()}, "contact_id", "No such contact"),
    ({"company_id": uuid.uuid4(), "contact_id": None}, "company_id", "No such company"),
    ({"owner_id": uuid.uuid4()}, "owner_id", "No such staff member"),
    ({"team_id": uuid.uuid4()}, "team_id", "No such team"),
    ({"pipeline_id": uuid.uuid4()}, "pipeline_id", "No such pipeline"),
    ({"stage_id": uuid.uuid4()}, "stage_id", "No such stage"),
    ({"lines": [{"product_name": "Kopi", "quantity": 0, "unit_price": 1000}]}, "lines.0.quantity", "from 1 to"),
    ({"lines": [{"product_name": "Kopi", "quantity": 2.5, "unit_price": 1000}]}, "lines.0.quantity", "from 1 to"),
    ({"lines": [{"product_name": "Kopi", "quantity": 1, "unit_price": -5}]}, "lines.0.unit_price", "negative"),
    ({"lines": [{"product_name": "", "quantity": 1, "unit_price": 5}]}, "lines.0.product_name", "Name the product"),
    ({"lines": [{"product_name": "Emas", "quantity": 1_000_000, "unit_price": 10**13}]}, "value", "too large"),
])
def test_bad_deal_input_is_refused_and_nothing_is_written(session, world, fields, field, words):
    data = {"title": "Renovasi dapur", "contact_id": world.contact.id, **fields}
    with pytest.raises(ValidationFailed) as exc:
        service.create_deal(session, world.p(world.manager), **data)
    assert words in exc.value.errors[field], exc.value.errors
    assert _deals(session, world.a.id) == 0
    assert session.scalar(select(func.count()).select_from(DealLine)) == 0


def test_records_of_another_business_cannot_be_attached(session, world, tenant_b):
    b = tenant_b.principal()
    their_contact = make_contact(session, tenant_b.id, "Pelanggan Tini")
    their_company = make_company(session, tenant_b.id, "UD Tini")
    their_pipeline = service.list_pipelines(session, b)[0]
    p = world.p(world.manager)
    cases = [
        ({"contact_id": their_contact.id}, "contact_id"),
        ({"company_id": their_company.id, "contact_id": None}, "company_id"),
        ({"owner_id": tenant_b.owner.id}, "owner_id"),
        ({"pipeline_id": their_pipeline.id}, "pipeline_id"),
        ({"stage_id": their_pipeline.stages[0].id}, "stage_id"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationFailed) as exc:
            service.create_deal(session, p, **{"title": "Curang", "contact_id": world.contact.id, **fields})
        assert field in exc.value.errors
    deal = new_deal(session, world, user=world.manager)
    with pytest.raises(NotFound):
        service.get_deal(session, b, deal.id)
    for fields in ({"contact_id": their_contact.id}, {"owner_id": tenant_b.owner.id},
                   {"stage_id": their_pipeline.stages[1].id}):
        with pytest.raises(ValidationFailed):
            service.update_deal(session, p, deal, fields)
    session.rollback()
    again = session.get(Deal, (world.a.id, deal.id))
    assert again.contact_id == world.contact.id and again.owner_id == world.manager.id


def test_moving_is_audited_and_won_or_lost_stages_close_the_deal(session, world):
    deal = new_deal(session, world)
    p = world.p(world.agent)
    pipeline = service.get_pipeline(session, p, deal.pipeline_id)
    proposal, won, lost = pipeline.stages[2], service.first_stage(pipeline, "won"), service.first_stage(pipeline, "lost")
    service.move_deal(session, p, deal, proposal.id)
    moved = _events(session, world.a.id, "crm.deal_moved")[-1]
    assert moved.details["from_stage_id"] == pipeline.stages[0].id.hex
    assert moved.details["to_stage_id"] == proposal.id.hex and moved.actor_id == world.agent.id
    with pytest.raises(ValidationFailed) as exc:
        service.move_deal(session, p, deal, lost.id)
    assert "Say why the deal was lost" in exc.value.errors["lost_reason"] and deal.stage_id == proposal.id
    service.move_deal(session, p, deal, won.id)
    assert deal.status == "won" and deal.closed_at is not None
    with pytest.raises(Conflict):
        service.win_deal(session, p, deal)
    service.reopen_deal(session, p, deal)
    assert deal.status == "open" and deal.closed_at is None and deal.stage_id == pipeline.stages[0].id


def test_win_lose_and_reopen(session, world):
    deal = new_deal(session, world)
    p = world.p(world.agent)
    with pytest.raises(ValidationFailed) as exc:
        service.lose_deal(session, p, deal, "   ")
    assert "Say why the deal was lost" in exc.value.errors["lost_reason"] and deal.status == "open"
    with pytest.raises(ValidationFailed):
        service.lose_deal(session, p, deal, "x" * 501)
    service.lose_deal(session, p, deal, "Pilih pesaing yang lebih murah")
    session.commit()
    assert (deal.status, deal.lost_reason) == ("lost", "Pilih pesaing yang lebih murah")
    assert service.get_pipeline(session, p, deal.pipeline_id).stages[-1].id == deal.stage_id
    lost_event = _events(session, world.a.id, "crm.deal_lost")[-1]
    assert "pesaing" not in str(lost_event.details)
    with pytest.raises(ValidationFailed):  # reopening needs an open stage
        service.reopen_deal(session, p, deal, service.first_stage(
            service.get_pipeline(session, p, deal.pipeline_id), "won").id)
    service.reopen_deal(session, p, deal)
    assert deal.status == "open" and deal.lost_reason is None
    service.win_deal(session, p, deal)
    assert deal.status == "won" and _events(session, world.a.id, "crm.deal_won")


def test_lines_set_the_value(session, world):
    deal = new_deal(session, world, lines=[{"product_name": "Kopi Gayo 1 kg", "quantity": 3, "unit_price": 185_000}])
    p = world.p(world.agent)
    assert deal.value == 555_000 and deal.lines[0].total == 555_000
    line = service.add_line(session, p, deal, "Gula Aren 500 g", 4, 32_500)
    assert deal.value == 685_000
    with pytest.raises(ValidationFailed) as exc:
        service.update_deal(session, p, deal, {"value": 1})
    assert "comes from its product lines" in exc.value.errors["value"]
    with pytest.raises(ValidationFailed) as exc:
        service.add_line(session, p, deal, "Kopi", 0, 1000)
    assert "from 1 to" in exc.value.errors["quantity"] and len(deal.lines) == 2
    with pytest.raises(ValidationFailed):
        service.update_line(session, p, deal, line, {"unit_price": -1})
    service.update_line(session, p, deal, line, {"quantity": 2})
    assert deal.value == 620_000
    service.delete_line(session, p, deal, line)
    assert deal.value == 555_000
    service.delete_line(session, p, deal, deal.lines[0])
    assert deal.value == 0 and deal.lines == []
    service.update_deal(session, p, deal, {"value": 2_000_000})  # without lines the value is typed in
    assert deal.value == 2_000_000


def test_agents_see_their_own_and_their_teams_deals_only(session, world):
    own = new_deal(session, world, title="Milik Budi")
    shared = new_deal(session, world, title="Tim Jogja", team_id=world.team.id)
    joko = new_deal(session, world, user=world.loner, title="Milik Joko", contact_id=world.other_contact.id)
    seen = {
        name: {d.id for d in service.list_deals(session, world.p(user))[0]}
        for name, user in (("budi", world.agent), ("sari", world.teammate), ("joko", world.loner),
                           ("manager", world.manager), ("auditor", world.auditor), ("owner", world.owner))
    }
    assert seen["budi"] == {own.id, shared.id}
    assert seen["sari"] == {shared.id}
    assert seen["joko"] == {joko.id}
    assert seen["manager"] == seen["auditor"] == seen["owner"] == {own.id, shared.id, joko.id}
    with pytest.raises(NotFound):
        service.get_deal(session, world.p(world.loner), own.id)
    # Joko cannot attach Budi's contact (he cannot see it) to his deal either.
    with pytest.raises(ValidationFailed) as exc:
        service.create_deal(session, world.p(world.loner), title="Rebut", contact_id=world.contact.id)
    assert "No such contact" in exc.value.errors["contact_id"]


def test_lists_filter_and_page(session, world):
    p = world.p(world.manager)
    first = new_deal(session, world, title="Satu")
    second = new_deal(session, world, title="Dua", user=world.teammate)
    third = new_deal(session, world, title="Tiga", company_id=world.company.id, user=world.manager)
    service.lose_deal(session, p, second, "Tidak jadi")
    page, cursor = service.list_deals(session, p, limit=2)
    assert [d.id for d in page] == [third.id, second.id] and cursor == second.id
    rest, cursor = service.list_deals(session, p, limit=2, after=cursor)
    assert [d.id for d in rest] == [first.id] and cursor is None
    assert [d.id for d in service.list_deals(session, p, status="lost")[0]] == [second.id]
    assert [d.id for d in service.list_deals(session, p, owner_id=world.teammate.id)[0]] == [second.id]
    assert [d.id for d in service.list_deals(session, p, company_id=world.company.id)[0]] == [third.id]
    assert {d.id for d in service.list_deals(session, p, contact_id=world.contact.id)[0]} == {first.id, second.id}
    assert [d.id for d in service.list_deals(session, p, stage_id=first.stage_id)[0]] == [third.id, first.id]
    with pytest.raises(ValidationFailed):
        service.list_deals(session, p, status="maybe")


def test_deleting_a_deal_removes_its_lines_and_is_audited(session, world):
    deal = new_deal(session, world, lines=[{"product_name": "Semen", "quantity": 10, "unit_price": 65_000}])
    service.delete_deal(session, world.p(world.agent), deal)
    session.commit()
    assert _deals(session, world.a.id) == 0 and session.scalar(select(func.count()).select_from(DealLine)) == 0
    assert _events(session, world.a.id, "crm.deal_deleted")[-1].target_id == deal.id.hex


def test_an_erased_customers_deal_keeps_working_without_its_sealed_fields(session, world):
    deal = new_deal(session, world)
    erase_subject(session, world.a.id, world.contact.subject_id, Actor.system(), "subject-request")
    session.commit()
    session.expire_all()
    deal = session.get(Deal, (world.a.id, deal.id))
    p = world.p(world.manager)
    with pytest.raises(Conflict) as exc:
        service.update_deal(session, p, deal, {"title": "Judul baru"})
    assert "erased" in exc.value.message
    with pytest.raises(Conflict):
        service.lose_deal(session, p, deal, "Alasan")
    service.update_deal(session, p, deal, {"value": 9_000_000, "expected_close_date": date(2027, 1, 10)})
    service.win_deal(session, p, deal)
    assert (deal.value, deal.status, deal.title) == (9_000_000, "won", ERASED)
