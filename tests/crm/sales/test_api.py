"""The deals API: problem+json refusals for bad input, other businesses, roles and visibility; nothing written."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from niaga.crm.sales import service
from niaga.crm.sales.models import Deal
from niaga.privacy.audit import AuditEvent
from tests.conftest import api_token, bearer
from tests.crm.sales.conftest import make_contact, new_deal

PROBLEM = "application/problem+json"


def _deals(session, tenant_id) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(Deal).where(Deal.tenant_id == tenant_id))


def test_create_read_move_and_close_a_deal(client, session, world):
    headers = bearer(api_token(session, world.agent))
    created = client.post("/api/v1/deals", headers=headers, json={
        "title": "Katering 200 porsi", "contact_id": str(world.contact.id), "expected_close_date": "2026-11-30",
        "lines": [{"product_name": "Nasi kotak", "quantity": 200, "unit_price": 35_000}]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["value"] == 7_000_000 and body["lines"][0]["total"] == 7_000_000 and body["status"] == "open"
    deal_id = body["id"]
    pipeline = client.get(f"/api/v1/pipelines/{body['pipeline_id']}", headers=headers).json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    assert body["stage_id"] == stages["Prospek"]
    moved = client.post(f"/api/v1/deals/{deal_id}/move", headers=headers, json={"stage_id": stages["Negosiasi"]})
    assert moved.status_code == 200 and moved.json()["stage_id"] == stages["Negosiasi"]
    no_reason = client.post(f"/api/v1/deals/{deal_id}/lose", headers=headers, json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.headers["content-type"].startswith(PROBLEM)
    assert no_reason.json()["errors"]["lost_reason"] == "Sebutkan alasan deal gagal."
    lost = client.post(f"/api/v1/deals/{deal_id}/lose", headers=headers, json={"reason": "Acara dibatalkan"})
    assert lost.json()["status"] == "lost" and lost.json()["lost_reason"] == "Acara dibatalkan"
    assert client.post(f"/api/v1/deals/{deal_id}/reopen", headers=headers, json={}).json()["status"] == "open"
    won = client.post(f"/api/v1/deals/{deal_id}/win", headers=headers)
    assert won.json()["status"] == "won" and won.json()["closed_at"] and won.json()["stage_id"] == stages["Menang"]
    line_id = won.json()["lines"][0]["id"]
    changed = client.patch(f"/api/v1/deals/{deal_id}/lines/{line_id}", headers=headers, json={"quantity": 250})
    assert changed.json()["total"] == 8_750_000
    assert client.get(f"/api/v1/deals/{deal_id}", headers=headers).json()["value"] == 8_750_000
    listed = client.get(f"/api/v1/deals?status=won&contact_id={world.contact.id}", headers=headers).json()
    assert [d["id"] for d in listed["items"]] == [deal_id] and listed["next_cursor"] is None
    forecast = client.get(f"/api/v1/pipelines/{body['pipeline_id']}/forecast", headers=headers).json()
    assert forecast["count"] == 0 and forecast["weighted"] == 0  # won deals are not forecast
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == world.a.id)).all()
    for action in ("crm.deal_created", "crm.deal_moved", "crm.deal_lost", "crm.deal_reopened", "crm.deal_won"):
        assert action in actions
    assert client.delete(f"/api/v1/deals/{deal_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/deals/{deal_id}", headers=headers).status_code == 404


def test_bad_values_are_refused_before_anything_is_written(client, session, world):
    headers = bearer(api_token(session, world.agent))
    base = {"title": "Kanopi", "contact_id": str(world.contact.id)}
    for extra in ({"value": 1.5}, {"value": "150000"}, {"value": -1}, {"value": 10**16}, {"value": True},
                  {"lines": [{"product_name": "Besi", "quantity": 0, "unit_price": 1}]},
                  {"lines": [{"product_name": "Besi", "quantity": 1.0, "unit_price": 1}]},
                  {"expected_close_date": "31-12-2026"}, {"contact_id": "bukan-uuid"}, {"stranger": 1},
                  {"title": "x" * 300}, {"title": "x" * 5000}, {"contact_id": None}):
        resp = client.post("/api/v1/deals", headers=headers, json={**base, **extra})
        assert resp.status_code == 422, (extra, resp.text)
        assert resp.headers["content-type"].startswith(PROBLEM)
    resp = client.post("/api/v1/deals", headers=headers, content=b"{not json", )
    assert resp.status_code == 422
    assert _deals(session, world.a.id) == 0


def test_a_stage_of_another_pipeline_gets_a_clear_message(client, session, world):
    deal = new_deal(session, world)
    project = service.create_pipeline(session, world.p(world.manager), "Proyek")
    session.commit()
    headers = bearer(api_token(session, world.agent))
    for resp in (
        client.post(f"/api/v1/deals/{deal.id}/move", headers=headers, json={"stage_id": str(project.stages[0].id)}),
        client.patch(f"/api/v1/deals/{deal.id}", headers=headers, json={"stage_id": str(project.stages[0].id)}),
        client.post("/api/v1/deals", headers=headers, json={"title": "X", "contact_id": str(world.contact.id),
                                                            "pipeline_id": str(deal.pipeline_id),
                                                            "stage_id": str(project.stages[0].id)}),
    ):
        assert resp.status_code == 422 and resp.json()["errors"]["stage_id"] == "Tahap ini milik pipeline lain."
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).stage_id == deal.stage_id and _deals(session, world.a.id) == 1


def test_roles_visibility_and_other_businesses(client, session, world, tenant_b):
    deal = new_deal(session, world)
    outsider = bearer(api_token(session, tenant_b.owner))
    loner = bearer(api_token(session, world.loner))
    auditor = bearer(api_token(session, world.auditor))
    teammate = bearer(api_token(session, world.teammate))
    stage = str(deal.stage_id)
    for headers in (outsider, loner, teammate):  # Sari is in Budi's team, but this deal has no team
        assert client.get(f"/api/v1/deals/{deal.id}", headers=headers).status_code == 404
        assert client.patch(f"/api/v1/deals/{deal.id}", headers=headers, json={"title": "Diambil"}).status_code == 404
        assert client.post(f"/api/v1/deals/{deal.id}/move", headers=headers,
                           json={"stage_id": stage}).status_code == 404
        assert deal.id.hex not in str([d["id"] for d in client.get("/api/v1/deals", headers=headers).json()["items"]])
    assert client.get(f"/api/v1/deals/{deal.id}", headers=auditor).json()["title"] == "Renovasi dapur"
    assert client.patch(f"/api/v1/deals/{deal.id}", headers=auditor, json={"title": "Audit"}).status_code == 403
    assert client.post("/api/v1/deals", headers=auditor, json={"title": "A", "contact_id": str(world.contact.id)}
                       ).status_code == 403
    # Shared with the team, Sari sees and may work on it.
    service.update_deal(session, world.p(world.agent), deal, {"team_id": world.team.id})
    session.commit()
    assert client.get(f"/api/v1/deals/{deal.id}", headers=teammate).status_code == 200
    # Another business's records cannot be attached.
    their_contact = make_contact(session, tenant_b.id, "Pelanggan Tini")
    session.commit()
    resp = client.patch(f"/api/v1/deals/{deal.id}", headers=teammate, json={"contact_id": str(their_contact.id)})
    assert resp.status_code == 422 and resp.json()["errors"]["contact_id"] == "Kontak tidak ditemukan."
    resp = client.patch(f"/api/v1/deals/{deal.id}", headers=teammate, json={"owner_id": str(tenant_b.owner.id)})
    assert resp.status_code == 422
    session.expire_all()
    stored = session.get(Deal, (world.a.id, deal.id))
    assert stored.title == "Renovasi dapur" and stored.contact_id == world.contact.id


def test_list_paging_and_filters(client, session, world):
    for i in range(3):
        new_deal(session, world, title=f"Deal {i}")
    headers = bearer(api_token(session, world.manager))
    first = client.get("/api/v1/deals?limit=2", headers=headers).json()
    assert [d["title"] for d in first["items"]] == ["Deal 2", "Deal 1"] and first["next_cursor"]
    rest = client.get(f"/api/v1/deals?limit=2&cursor={first['next_cursor']}", headers=headers).json()
    assert [d["title"] for d in rest["items"]] == ["Deal 0"] and rest["next_cursor"] is None
    assert client.get("/api/v1/deals?cursor=bukan", headers=headers).status_code == 422
    assert client.get("/api/v1/deals?status=maybe", headers=headers).status_code == 422
    assert client.get("/api/v1/deals?limit=1000", headers=headers).status_code == 422
    assert client.get(f"/api/v1/deals?owner_id={uuid.uuid4()}", headers=headers).json()["items"] == []
