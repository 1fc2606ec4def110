"""The sales pages as a staff member uses them: board, move without JavaScript, list filters, new deal, deal
page with lines, win and lose, forecast, pipeline settings. Forms come back with the message, nothing half-saved."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from niaga.crm.sales import service
from niaga.crm.sales.models import Deal, Pipeline
from niaga.privacy.audit import AuditEvent
from tests.conftest import browser_login
from tests.crm.sales.conftest import new_deal
from tests.identity.helpers import form_token


def _login(client, session, user, settings) -> str:  # noqa: ANN001
    return browser_login(client, session, user, settings)


def _column_of(html: str, deal_id) -> str:  # noqa: ANN001
    """The heading of the kanban column that holds a deal's card."""
    for column in re.findall(r'<section class="kanban-col.*?</section>', html, re.S):
        if f'id="deal-{deal_id}"' in column:
            return re.search(r"<h2[^>]*>(.*?)</h2>", column).group(1)
    raise AssertionError("card not on the board")


def _count(session, model, tenant_id) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id))


def test_board_shows_cards_and_moves_a_deal_without_javascript(client, session, world, settings):
    deal = new_deal(session, world, title="Renovasi dapur", value=15_000_000)
    csrf = _login(client, session, world.agent, settings)
    board = client.get("/deals")
    assert board.status_code == 200
    html = board.text
    assert "Renovasi dapur" in html and "Ibu Ratna Sari" in html and "Rp 15.000.000" in html
    assert "Budi Santoso" in html and _column_of(html, deal.id) == "Prospek"
    assert '<script src="/static/kanban.js" defer></script>' in html
    proposal = service.get_pipeline(session, world.p(world.agent), deal.pipeline_id).stages[2]
    moved = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(proposal.id), "csrf_token": csrf},
                        follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"].startswith(f"/deals?pipeline_id={deal.pipeline_id}")
    after = client.get(moved.headers["location"])
    assert _column_of(after.text, deal.id) == "Proposal" and 'data-testid="moved"' in after.text
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "crm.deal_moved")).first() is not None


def test_board_move_refusals_show_on_the_card_and_change_nothing(client, session, world, settings, tenant_b):
    deal = new_deal(session, world)
    csrf = _login(client, session, world.agent, settings)
    project = service.create_pipeline(session, world.p(world.manager), "Proyek")
    session.commit()
    resp = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(project.stages[1].id), "csrf_token": csrf})
    assert resp.status_code == 422 and "Tahap ini milik pipeline lain." in resp.text
    resp = client.post(f"/deals/{deal.id}/move", data={"stage_id": "bukan-id", "csrf_token": csrf})
    assert resp.status_code == 422 and "Pilih dari daftar." in resp.text
    lost = service.first_stage(service.get_pipeline(session, world.p(world.agent), deal.pipeline_id), "lost")
    resp = client.post(f"/deals/{deal.id}/move", data={"stage_id": str(lost.id), "csrf_token": csrf})
    assert resp.status_code == 422 and "Sebutkan alasan deal gagal." in resp.text
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).stage_id == deal.stage_id
    # Joko (no team) does not see Budi's deal: not found, not forbidden.
    loner = client.__class__(client.app, raise_server_exceptions=False)
    csrf_joko = _login(loner, session, world.loner, settings)
    resp = loner.post(f"/deals/{deal.id}/move", data={"stage_id": str(deal.stage_id), "csrf_token": csrf_joko})
    assert resp.status_code == 404
    assert "Renovasi dapur" not in loner.get("/deals").text
    # The auditor reads the board but has no move forms and cannot post one.
    auditor = client.__class__(client.app, raise_server_exceptions=False)
    csrf_aud = _login(auditor, session, world.auditor, settings)
    page = auditor.get("/deals").text
    assert "Renovasi dapur" in page and 'data-testid="move-form"' not in page
    assert auditor.post(f"/deals/{deal.id}/move", data={"stage_id": str(deal.stage_id),
                                                         "csrf_token": csrf_aud}).status_code == 403


def test_new_deal_form_creates_and_reshows_mistakes(client, session, world, settings):
    _login(client, session, world.agent, settings)
    page = client.get(f"/deals/new?contact_id={world.contact.id}")
    assert page.status_code == 200 and "Ibu Ratna Sari" in page.text
    token = form_token(page.text)
    bad = client.post("/deals/new", data={"csrf_token": token, "title": "Pasang kanopi", "value": "2,5",
                                          "contact_id": str(world.contact.id), "owner_id": str(world.agent.id)})
    assert bad.status_code == 422 and "Pasang kanopi" in bad.text
    assert "Isi jumlah rupiah berupa bilangan bulat, tanpa desimal." in bad.text
    assert _count(session, Deal, world.a.id) == 0
    good = client.post("/deals/new", data={"csrf_token": token, "title": "Pasang kanopi", "value": "Rp 7.500.000",
                                           "contact_id": str(world.contact.id), "owner_id": str(world.agent.id),
                                           "expected_close_date": "2026-12-20", "team_id": str(world.team.id)},
                       follow_redirects=False)
    assert good.status_code == 303
    deal = session.scalars(select(Deal).where(Deal.tenant_id == world.a.id)).one()
    assert good.headers["location"] == f"/deals/{deal.id}?saved=1"
    assert deal.value == 7_500_000 and deal.team_id == world.team.id and str(deal.expected_close_date) == "2026-12-20"
    shown = client.get(f"/deals/{deal.id}").text
    assert "Pasang kanopi" in shown and "Rp 7.500.000" in shown and "20 Des 2026" in shown


def test_new_deal_finds_the_contact_by_phone_or_email_without_putting_it_in_the_url(client, session, world,
                                                                                        settings):
    from niaga.crm.models import ContactEmail, ContactPhone

    session.add(ContactPhone(tenant_id=world.a.id, subject_id=world.contact.subject_id, contact_id=world.contact.id,
                             phone="+6281299990001"))
    session.add(ContactEmail(tenant_id=world.a.id, subject_id=world.contact.subject_id,
                             contact_id=world.contact.id, email="ratna@contoh.example"))
    session.commit()
    token = _login(client, session, world.agent, settings)
    resp = client.post("/deals/new", data={"csrf_token": token, "title": "Lewat telepon", "value": "0",
                                           "contact_lookup": "0812-9999-0001", "owner_id": str(world.agent.id)},
                       follow_redirects=False)
    assert resp.status_code == 303 and "0812" not in resp.headers["location"]
    resp = client.post("/deals/new", data={"csrf_token": token, "title": "Lewat email", "value": "0",
                                           "contact_lookup": "RATNA@contoh.example", "owner_id": str(world.agent.id)},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert {d.contact_id for d in session.scalars(select(Deal))} == {world.contact.id}
    resp = client.post("/deals/new", data={"csrf_token": token, "title": "Tidak ada", "value": "0",
                                           "contact_lookup": "orang@lain.example", "owner_id": str(world.agent.id)})
    assert resp.status_code == 422 and "Tidak ada kontak" in resp.text


def test_deal_page_lines_win_lose_and_reopen(client, session, world, settings):
    deal = new_deal(session, world, value=1_000_000)
    token = _login(client, session, world.agent, settings)
    resp = client.post(f"/deals/{deal.id}/lines", data={"csrf_token": token, "product_name": "Keramik 60x60",
                                                        "quantity": "0", "unit_price": "95.000"})
    assert resp.status_code == 422 and "Keramik 60x60" in resp.text
    resp = client.post(f"/deals/{deal.id}/lines", data={"csrf_token": token, "product_name": "Keramik 60x60",
                                                        "quantity": "1,5", "unit_price": "95.000"})
    assert resp.status_code == 422
    resp = client.post(f"/deals/{deal.id}/lines", data={"csrf_token": token, "product_name": "Keramik 60x60",
                                                        "quantity": "40", "unit_price": "95.000"},
                       follow_redirects=False)
    assert resp.status_code == 303
    page = client.get(f"/deals/{deal.id}").text
    assert "Rp 3.800.000" in page and 'id="f-value" type="text" value="Rp 3.800.000" disabled' in page
    resp = client.post(f"/deals/{deal.id}/lose", data={"csrf_token": token, "reason": "  "})
    assert resp.status_code == 422 and "Sebutkan alasan deal gagal." in resp.text
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).status == "open"
    client.post(f"/deals/{deal.id}/lose", data={"csrf_token": token, "reason": "Memilih toko lain"})
    page = client.get(f"/deals/{deal.id}").text
    assert "Memilih toko lain" in page and 'data-testid="deal-status">Gagal' in page
    client.post(f"/deals/{deal.id}/reopen", data={"csrf_token": token})
    client.post(f"/deals/{deal.id}/win", data={"csrf_token": token})
    session.expire_all()
    stored = session.get(Deal, (world.a.id, deal.id))
    assert stored.status == "won" and stored.lost_reason is None and stored.value == 3_800_000
    line_id = stored.lines[0].id
    client.post(f"/deals/{deal.id}/lines/{line_id}/delete", data={"csrf_token": token})
    session.expire_all()
    assert session.get(Deal, (world.a.id, deal.id)).lines == []


def test_deal_edit_form(client, session, world, settings):
    deal = new_deal(session, world)
    token = _login(client, session, world.agent, settings)
    page = client.get(f"/deals/{deal.id}")
    assert 'name="title" type="text" value="Renovasi dapur"' in page.text
    assert 'name="value" type="text" value="15.000.000"' in page.text  # as people type it
    form = {"csrf_token": token, "title": "Renovasi dapur dan kamar mandi", "value": "21.000.000",
            "contact_id": str(world.contact.id), "owner_id": str(world.teammate.id), "team_id": str(world.team.id),
            "stage_id": str(deal.stage_id), "expected_close_date": ""}
    bad = client.post(f"/deals/{deal.id}", data={**form, "value": "-5"})
    assert bad.status_code == 422 and "Jumlah tidak boleh negatif." in bad.text
    assert "Renovasi dapur dan kamar mandi" in bad.text  # what was typed stays
    assert client.post(f"/deals/{deal.id}", data=form, follow_redirects=False).status_code == 303
    session.expire_all()
    stored = session.get(Deal, (world.a.id, deal.id))
    assert (stored.title, stored.value, stored.owner_id) == ("Renovasi dapur dan kamar mandi", 21_000_000,
                                                             world.teammate.id)


def test_list_filters_by_ids_only(client, session, world, settings):
    first = new_deal(session, world, title="Atap baja ringan")
    second = new_deal(session, world, title="Cat tembok", user=world.teammate, team_id=world.team.id)
    service.lose_deal(session, world.p(world.manager), second, "Anggaran habis")
    session.commit()
    _login(client, session, world.manager, settings)
    everything = client.get("/deals/list").text
    assert "Atap baja ringan" in everything and "Cat tembok" in everything
    lost = client.get("/deals/list?status=lost").text
    assert "Cat tembok" in lost and "Atap baja ringan" not in lost
    mine = client.get(f"/deals/list?owner_id={world.agent.id}").text
    assert "Atap baja ringan" in mine and "Cat tembok" not in mine
    by_contact = client.get(f"/deals/list?contact_id={world.contact.id}").text
    assert "Ibu Ratna Sari" in by_contact and "Atap baja ringan" in by_contact
    assert client.get("/deals/list?status=bukan&owner_id=bukan-id").status_code == 200  # junk filters are ignored
    assert client.get(f"/deals/list?stage_id={uuid.uuid4()}").text.count('data-testid="no-deals"') == 1
    assert first.id


def test_forecast_page(client, session, world, settings):
    from datetime import date

    new_deal(session, world, value=10_000_000, expected_close_date=date(2026, 12, 5))  # Prospek 10%
    pipeline = service.list_pipelines(session, world.p(world.agent))[0]
    new_deal(session, world, value=4_000_000, stage_id=pipeline.stages[2].id)  # Proposal 50%
    _login(client, session, world.agent, settings)
    page = client.get("/deals/forecast").text
    assert "Rp 3.000.000" in page  # 1.000.000 + 2.000.000
    assert "Desember 2026" in page and "Tanpa perkiraan tanggal" in page


def test_pipeline_settings_for_managers_only(client, session, world, settings):
    token = _login(client, session, world.manager, settings)
    page = client.get("/settings/pipelines")
    assert page.status_code == 200 and "Penjualan" in page.text and "Kualifikasi" in page.text
    resp = client.post("/settings/pipelines", data={"csrf_token": token, "name": "x" * 81})
    assert resp.status_code == 422 and "Gunakan paling banyak 80 karakter." in resp.text
    assert _count(session, Pipeline, world.a.id) == 1
    client.post("/settings/pipelines", data={"csrf_token": token, "name": "Proyek Kantor"})
    project = session.scalars(select(Pipeline).where(Pipeline.name == "Proyek Kantor")).one()
    resp = client.post(f"/settings/pipelines/{project.id}/stages",
                       data={"csrf_token": token, "name": "Survei", "probability": "abc", "kind": "open"})
    assert resp.status_code == 422 and "Survei" in resp.text
    client.post(f"/settings/pipelines/{project.id}/stages",
                data={"csrf_token": token, "name": "Survei", "probability": "30", "kind": "open"})
    session.expire_all()
    project = session.get(Pipeline, (world.a.id, project.id))
    survey = next(s for s in project.stages if s.name == "Survei")
    client.post(f"/settings/pipelines/{project.id}/stages/{survey.id}", data={"csrf_token": token, "action": "up"})
    resp = client.post(f"/settings/pipelines/{project.id}/stages/{survey.id}",
                       data={"csrf_token": token, "action": "save", "name": "Survei Lokasi", "probability": "150"})
    assert resp.status_code == 422 and "Survei Lokasi" in resp.text
    client.post(f"/settings/pipelines/{project.id}", data={"csrf_token": token, "action": "default"})
    session.expire_all()
    project = session.get(Pipeline, (world.a.id, project.id))
    assert project.is_default and [s.name for s in project.stages][3] == "Survei"
    agent = client.__class__(client.app, raise_server_exceptions=False)
    agent_token = _login(agent, session, world.agent, settings)
    assert agent.get("/settings/pipelines").status_code == 403
    assert agent.post("/settings/pipelines", data={"csrf_token": agent_token, "name": "Agen"}).status_code == 403
    assert "Pengaturan pipeline" not in agent.get("/deals").text  # no link for those who cannot use it
