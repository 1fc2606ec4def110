"""Pipelines and stages: the default pipeline, managers' changes, and the rules that keep pipelines usable."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from niaga.crm.sales import service
from niaga.crm.sales.models import Pipeline, Stage
from niaga.kit.errors import Conflict, ValidationFailed
from niaga.privacy.audit import AuditEvent
from tests.conftest import api_token, bearer
from tests.crm.sales.conftest import new_deal


def _shape(pipeline: Pipeline) -> list[tuple[str, int, str]]:
    return [(s.name, s.probability, s.kind) for s in pipeline.stages]


def test_a_new_business_gets_the_standard_pipeline_once(session, tenant_a, tenant_b):
    first = service.list_pipelines(session, tenant_a.principal())
    again = service.list_pipelines(session, tenant_a.principal())
    assert [p.name for p in first] == ["Penjualan"] and [p.id for p in again] == [first[0].id]
    assert first[0].is_default
    assert _shape(first[0]) == [("Prospek", 10, "open"), ("Kualifikasi", 25, "open"), ("Proposal", 50, "open"),
                                ("Negosiasi", 75, "open"), ("Menang", 100, "won"), ("Kalah", 0, "lost")]
    other = service.list_pipelines(session, tenant_b.principal())
    assert other[0].id != first[0].id and other[0].tenant_id == tenant_b.id


def test_the_database_allows_one_default_pipeline_per_business(session, tenant_a):
    service.ensure_default_pipeline(session, tenant_a.id)
    session.commit()
    with pytest.raises(Exception):  # noqa: B017,PT011 - the engine's own integrity error
        with session.begin_nested():
            session.add(Pipeline(tenant_id=tenant_a.id, name="Kedua", is_default=True))
            session.flush()


def test_manager_creates_renames_and_defaults_a_pipeline(session, world):
    p = world.p(world.manager)
    proyek = service.create_pipeline(session, p, "  Proyek   Besar ", [
        {"name": "Survei", "probability": 20, "kind": "open"},
        {"name": "Penawaran", "probability": 60, "kind": "open"},
        {"name": "Deal", "probability": 100, "kind": "won"},
        {"name": "Batal", "probability": 0, "kind": "lost"},
    ])
    assert proyek.name == "Proyek Besar" and [s.position for s in proyek.stages] == [0, 1, 2, 3]
    service.update_pipeline(session, p, proyek, name="Proyek", is_default=True)
    pipelines = service.list_pipelines(session, p)
    assert [pl.is_default for pl in pipelines] == [False, True]
    with pytest.raises(ValidationFailed) as exc:
        service.update_pipeline(session, p, proyek, is_default=False)
    assert "another pipeline the default" in exc.value.errors["is_default"]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == world.a.id)).all()
    assert "crm.pipeline_created" in actions and "crm.pipeline_updated" in actions


@pytest.mark.parametrize("stages, field, words", [
    ([{"name": "A", "probability": 100, "kind": "won"}], "stages", "at least one open stage"),
    ([{"name": "A", "probability": 10}, {"name": "a", "probability": 20}, {"name": "W", "probability": 100,
      "kind": "won"}, {"name": "L", "probability": 0, "kind": "lost"}], "stages", "same name"),
    ([{"name": "A", "probability": 101}], "stages.0.probability", "from 0 to 100"),
    ([{"name": "A", "probability": -1}], "stages.0.probability", "from 0 to 100"),
    ([{"name": "A", "probability": 50.5}], "stages.0.probability", "whole number"),
    ([{"name": "W", "probability": 90, "kind": "won"}], "stages.0.probability", "probability of 100"),
    ([{"name": "", "probability": 10}], "stages.0.name", "Give a name"),
    ([{"name": "x" * 81, "probability": 10}], "stages.0.name", "at most 80"),
    ([{"name": "A", "probability": 10, "kind": "maybe"}], "stages.0.kind", "open, won or lost"),
])
def test_bad_stage_sets_are_refused_and_nothing_is_written(session, world, stages, field, words):
    p = world.p(world.manager)
    service.list_pipelines(session, p)
    session.commit()
    with pytest.raises(ValidationFailed) as exc:
        service.create_pipeline(session, p, "Salah", stages)
    assert words in exc.value.errors[field]
    assert session.scalar(select(func.count()).select_from(Pipeline).where(Pipeline.tenant_id == world.a.id)) == 1


def test_pipeline_names_are_unique_per_business(session, world, tenant_b):
    p = world.p(world.manager)
    service.create_pipeline(session, p, "Grosir")
    with pytest.raises(ValidationFailed) as exc:
        service.create_pipeline(session, p, "GROSIR")
    assert "already exists" in exc.value.errors["name"]
    service.create_pipeline(session, tenant_b.principal(), "Grosir")  # another business may use the name


def test_stages_are_added_ordered_renamed_and_removed(session, world):
    p = world.p(world.manager)
    pipeline = service.list_pipelines(session, p)[0]
    survey = service.add_stage(session, p, pipeline, "Survei Lokasi", 40)
    assert [s.name for s in pipeline.stages][3:6] == ["Negosiasi", "Survei Lokasi", "Menang"]
    order = [s.id for s in pipeline.stages]
    order.insert(0, order.pop(order.index(survey.id)))
    service.reorder_stages(session, p, pipeline, order)
    assert pipeline.stages[0].name == "Survei Lokasi" and [s.position for s in pipeline.stages] == list(range(7))
    service.update_stage(session, p, pipeline, survey, name="Survei", probability=5)
    service.move_stage(session, p, pipeline, survey, +1)
    assert [s.name for s in pipeline.stages][:2] == ["Prospek", "Survei"]
    service.delete_stage(session, p, pipeline, survey)
    assert "Survei" not in [s.name for s in pipeline.stages] and [s.position for s in pipeline.stages] == list(range(6))


def test_stage_rules_keep_the_pipeline_usable(session, world):
    p = world.p(world.manager)
    pipeline = service.list_pipelines(session, p)[0]
    won = service.first_stage(pipeline, "won")
    with pytest.raises(ValidationFailed) as exc:
        service.add_stage(session, p, pipeline, "Menang Lagi", 100, "won")
    assert "exactly one won stage" in exc.value.errors["kind"]
    with pytest.raises(Conflict):
        service.delete_stage(session, p, pipeline, won)
    with pytest.raises(ValidationFailed) as exc:
        service.update_stage(session, p, pipeline, won, probability=80)
    assert "probability of 100" in exc.value.errors["probability"]
    with pytest.raises(ValidationFailed) as exc:
        service.update_stage(session, p, pipeline, pipeline.stages[0], name="Proposal")
    assert "same name" in exc.value.errors["name"]
    with pytest.raises(ValidationFailed):
        service.reorder_stages(session, p, pipeline, [s.id for s in pipeline.stages][:-1])
    with pytest.raises(ValidationFailed):
        service.reorder_stages(session, p, pipeline, [s.id for s in pipeline.stages][:-1] + [uuid.uuid4()])
    # Removing open stages stops at the last one.
    for stage in [s for s in pipeline.stages if s.kind == "open"][:-1]:
        service.delete_stage(session, p, pipeline, stage)
    with pytest.raises(Conflict) as exc:
        service.delete_stage(session, p, pipeline, service.first_stage(pipeline))
    assert "at least one open stage" in exc.value.message


def test_stages_and_pipelines_with_deals_stay(session, world):
    deal = new_deal(session, world)
    p = world.p(world.manager)
    pipeline = service.get_pipeline(session, p, deal.pipeline_id)
    with pytest.raises(Conflict) as exc:
        service.delete_stage(session, p, pipeline, session.get(Stage, (world.a.id, deal.stage_id)))
    assert "still has deals" in exc.value.message
    with pytest.raises(Conflict) as exc:
        service.delete_pipeline(session, p, pipeline)
    assert "default pipeline cannot be deleted" in exc.value.message
    other = service.create_pipeline(session, p, "Proyek", is_default=True)
    with pytest.raises(Conflict) as exc:
        service.delete_pipeline(session, p, pipeline)
    assert "still has deals" in exc.value.message
    empty = service.create_pipeline(session, p, "Kosong")
    service.delete_pipeline(session, p, empty)
    assert {pl.id for pl in service.list_pipelines(session, p)} == {pipeline.id, other.id}


# -- API --------------------------------------------------------------------------------------------
def test_pipeline_api_for_a_manager(client, session, world):
    headers = bearer(api_token(session, world.manager))
    listed = client.get("/api/v1/pipelines", headers=headers)
    assert listed.status_code == 200 and listed.json()[0]["name"] == "Penjualan"
    created = client.post("/api/v1/pipelines", headers=headers, json={"name": "Grosir"})
    assert created.status_code == 201
    body = created.json()
    assert [s["name"] for s in body["stages"]][0] == "Prospek" and body["is_default"] is False
    pid = body["id"]
    stage = client.post(f"/api/v1/pipelines/{pid}/stages", headers=headers,
                        json={"name": "Sampel Dikirim", "probability": 35})
    assert stage.status_code == 201 and stage.json()["position"] == 4
    order = [s["id"] for s in client.get(f"/api/v1/pipelines/{pid}", headers=headers).json()["stages"]][::-1]
    reordered = client.put(f"/api/v1/pipelines/{pid}/stages/order", headers=headers, json={"stage_ids": order})
    assert reordered.status_code == 200 and [s["id"] for s in reordered.json()["stages"]] == order
    renamed = client.patch(f"/api/v1/pipelines/{pid}/stages/{stage.json()['id']}", headers=headers,
                           json={"name": "Sampel", "probability": 40})
    assert renamed.json()["name"] == "Sampel" and renamed.json()["probability"] == 40
    assert client.delete(f"/api/v1/pipelines/{pid}/stages/{stage.json()['id']}", headers=headers).status_code == 204
    assert client.patch(f"/api/v1/pipelines/{pid}", headers=headers, json={"is_default": True}).json()["is_default"]
    default = client.get("/api/v1/pipelines", headers=headers).json()
    assert [p["is_default"] for p in default] == [False, True]


def test_pipeline_api_refusals(client, session, world, tenant_b):
    manager = bearer(api_token(session, world.manager))
    agent = bearer(api_token(session, world.agent))
    auditor = bearer(api_token(session, world.auditor))
    assert client.get("/api/v1/pipelines", headers=agent).status_code == 200  # agents read pipelines
    assert client.post("/api/v1/pipelines", headers=agent, json={"name": "Punya Agen"}).status_code == 403
    assert client.post("/api/v1/pipelines", headers=auditor, json={"name": "Punya Auditor"}).status_code == 403
    pid = client.get("/api/v1/pipelines", headers=manager).json()[0]["id"]
    resp = client.post(f"/api/v1/pipelines/{pid}/stages", headers=manager, json={"name": "X", "probability": "50"})
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    resp = client.post(f"/api/v1/pipelines/{pid}/stages", headers=manager, json={"name": "X", "probability": 1.5})
    assert resp.status_code == 422
    resp = client.post("/api/v1/pipelines", headers=manager, json={"name": "Y" * 5000})
    assert resp.status_code == 422
    resp = client.post("/api/v1/pipelines", headers=manager, json={"name": "Y" * 100})
    assert resp.status_code == 422 and resp.json()["errors"]["name"] == "Gunakan paling banyak 80 karakter."
    outsider = bearer(api_token(session, tenant_b.owner))
    assert client.get(f"/api/v1/pipelines/{pid}", headers=outsider).status_code == 404
    assert client.patch(f"/api/v1/pipelines/{pid}", headers=outsider, json={"name": "Diambil"}).status_code == 404
    assert client.get(f"/api/v1/pipelines/{pid}", headers=manager).json()["name"] == "Penjualan"
    resp = client.delete(f"/api/v1/pipelines/{pid}", headers=manager)
    assert resp.status_code == 409 and resp.json()["detail"].startswith("Pipeline utama")
