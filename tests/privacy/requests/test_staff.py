"""The staff queue and decisions, over pages and the JSON API, with the person told by real email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.identity.permissions import Role
from niaga.privacy.audit import AuditEvent
from niaga.privacy.consent import RestrictionKind, active_restrictions
from niaga.privacy.fields import ERASED
from niaga.privacy.requests.models import PrivacyRequest
from tests.conftest import api_token, bearer, browser_login
from tests.privacy.requests.conftest import CUSTOMER_EMAIL, code_in, visitor_for


def _verified_request(app, session, tenant, smtp_server, kind: str = "access", address: str = CUSTOMER_EMAIL):  # noqa: ANN001, ANN202
    """A request made and verified in the privacy center; returns (request id, status path)."""
    visitor = visitor_for(app, session, tenant.tenant.slug)
    path = visitor.status_path(visitor.submit(address, kind=kind, details="Tolong proses"))
    assert visitor.verify(path, code_in(smtp_server.to(CUSTOMER_EMAIL)[-1])).status_code == 303
    session.expire_all()
    request = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.number.desc())).first()
    return request, path, visitor


def _staff_client(app, session, tenant, role: Role | None = None):  # noqa: ANN001, ANN202
    from fastapi.testclient import TestClient

    user = tenant.owner if role in (None, Role.OWNER) else tenant.add_staff(session, role, name=f"Staf {role.value}")
    session.commit()
    client = TestClient(app, raise_server_exceptions=False)
    csrf = browser_login(client, session, user, tenant.settings)
    return client, csrf, user


@pytest.mark.parametrize("role, sees, handles", [
    (Role.OWNER, True, True), (Role.ADMIN, True, True), (Role.MANAGER, True, True), (Role.AUDITOR, True, False),
    (Role.AGENT, False, False), (Role.CASHIER, False, False),
])
def test_who_sees_the_queue_and_who_may_decide(app, session, tenant_a, customer, smtp_server, role, sees, handles):
    request, _, _ = _verified_request(app, session, tenant_a, smtp_server, kind="restrict")
    client, csrf, _ = _staff_client(app, session, tenant_a, role)
    queue = client.get("/privacy/requests", follow_redirects=False)
    assert queue.status_code == (200 if sees else 403)
    if sees:
        assert f"DSR-{request.number}" in queue.text and "Dewi Lestari" in queue.text
        detail = client.get(f"/privacy/requests/{request.id}")
        assert detail.status_code == 200 and ('data-testid="approve-form"' in detail.text) == handles
    deny = client.post(f"/privacy/requests/{request.id}/deny", data={"ground": "others_data", "csrf_token": csrf},
                       follow_redirects=False)
    assert deny.status_code == (303 if handles else 403)


def test_the_queue_shows_hours_left_and_marks_overdue_requests(app, session, tenant_a, customer, smtp_server):
    request, _, _ = _verified_request(app, session, tenant_a, smtp_server)
    client, _, _ = _staff_client(app, session, tenant_a)
    row = re.search(r'<tr data-testid="request-row".*?</tr>', client.get("/privacy/requests").text, re.S).group(0)
    assert "Sisa 72 jam" in row and "data-overdue" not in row
    late = session.get(PrivacyRequest, (tenant_a.id, request.id))
    late.due_at = utcnow() - timedelta(hours=5, minutes=10)
    session.commit()
    row = re.search(r'<tr data-testid="request-row".*?</tr>', client.get("/privacy/requests").text, re.S).group(0)
    assert 'data-overdue="1"' in row and "Terlambat 6 jam" in row
    assert "Terlambat 6 jam" in client.get(f"/privacy/requests/{request.id}").text
    assert client.get("/privacy/requests?status=completed").text.count('data-testid="request-row"') == 0
    assert client.get("/privacy/requests?status=bogus").status_code == 200  # unknown filter: the default


def test_unverified_requests_stay_out_of_the_queue(app, session, tenant_a, customer, smtp_server):
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    visitor.submit(CUSTOMER_EMAIL)
    visitor.submit("tidak.dikenal@contoh.example")
    client, csrf, _ = _staff_client(app, session, tenant_a)
    assert 'data-testid="no-requests"' in client.get("/privacy/requests").text
    assert 'data-testid="no-requests"' in client.get("/privacy/requests?status=all").text
    waiting = client.get("/privacy/requests?status=awaiting_verification").text
    assert waiting.count('data-testid="request-row"') == 2
    unverified = session.scalars(select(PrivacyRequest)).first()
    refused = client.post(f"/privacy/requests/{unverified.id}/deny", data={"ground": "others_data",
                                                                            "csrf_token": csrf})
    assert refused.status_code == 409 and "belum terverifikasi" in refused.text


def test_refusing_needs_a_pasal_33_ground_and_tells_the_person_why(app, session, tenant_a, customer, smtp_server):
    request, path, visitor = _verified_request(app, session, tenant_a, smtp_server)
    client, csrf, owner = _staff_client(app, session, tenant_a)
    for ground in ("", "because-i-said-so"):
        response = client.post(f"/privacy/requests/{request.id}/deny", data={"ground": ground, "csrf_token": csrf})
        assert response.status_code == 422 and "Pilih alasan penolakan" in response.text
    session.expire_all()
    assert session.get(PrivacyRequest, (tenant_a.id, request.id)).status == "open"
    done = client.post(f"/privacy/requests/{request.id}/deny",
                       data={"ground": "others_data", "note": "Data milik orang lain", "csrf_token": csrf})
    assert done.status_code == 200 and "telah diberi tahu lewat email" in done.text
    session.expire_all()
    denied = session.get(PrivacyRequest, (tenant_a.id, request.id))
    assert denied.status == "denied" and denied.decision_ground == "others_data" and denied.handler_id == owner.id
    message = smtp_server.to(CUSTOMER_EMAIL)[-1]
    assert "mengungkap data pribadi orang lain" in message.get_content()
    assert "Lembaga Pelindungan Data Pribadi" in message.get_content()
    status = visitor.client.get(path).text
    assert "Ditolak" in status and "mengungkap data pribadi orang lain" in status
    again = client.post(f"/privacy/requests/{request.id}/deny", data={"ground": "others_data", "csrf_token": csrf})
    assert again.status_code == 409


def test_staff_log_a_letter_and_the_72_hours_start_when_they_confirm_identity(app, session, tenant_a, customer,
                                                                           smtp_server):
    client, csrf, owner = _staff_client(app, session, tenant_a)
    form = {"customer": CUSTOMER_EMAIL, "kind": "withdraw_consent", "channel": "letter",
            "details": "Surat tertanggal 20 November", "csrf_token": csrf}
    unconfirmed = client.post("/privacy/requests/new", data=form)
    assert unconfirmed.status_code == 422 and "memeriksa identitas" in unconfirmed.text
    unknown = client.post("/privacy/requests/new", data={**form, "customer": "siapa@contoh.example",
                                                         "identity_verified": "on"})
    assert unknown.status_code == 422 and 'id="e-customer"' in unknown.text
    assert session.scalars(select(PrivacyRequest)).all() == []
    logged = client.post("/privacy/requests/new", data={**form, "identity_verified": "on",
                                                        "received_at": "2026-11-20"}, follow_redirects=False)
    assert logged.status_code == 303
    session.expire_all()
    request = session.scalars(select(PrivacyRequest)).one()
    assert request.channel == "letter" and request.verified_by == "staff" and request.logged_by_id == owner.id
    assert request.due_at - request.verified_at == timedelta(hours=72)
    assert request.received_at.date().isoformat() == "2026-11-20"
    message = smtp_server.to(CUSTOMER_EMAIL)[-1]
    link = re.search(r"http://testserver(/privacy-center/\S+)", message.get_content()).group(1)
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    assert "Diterima, menunggu ditangani" in visitor.client.get(link).text
    detail = client.get(logged.headers["location"]).text
    assert "Surat tertanggal 20 November" in detail and "Dicatat oleh staf" in detail


def test_approving_a_withdrawal_carries_it_out_and_tells_the_person(app, session, tenant_a, customer, smtp_server):
    request, path, visitor = _verified_request(app, session, tenant_a, smtp_server, kind="restrict")
    client, csrf, owner = _staff_client(app, session, tenant_a, Role.MANAGER)
    assign = client.post(f"/privacy/requests/{request.id}/assign", data={"handler_id": str(owner.id),
                                                                         "csrf_token": csrf}, follow_redirects=False)
    assert assign.status_code == 303
    bad = client.post(f"/privacy/requests/{request.id}/assign", data={"handler_id": "bukan-id", "csrf_token": csrf})
    assert bad.status_code == 422
    note = client.post(f"/privacy/requests/{request.id}/notes", data={"note": "Sudah dicek", "csrf_token": csrf},
                       follow_redirects=False)
    assert note.status_code == 303
    done = client.post(f"/privacy/requests/{request.id}/approve", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Selesai" in done.text
    assert RestrictionKind.RESTRICT in active_restrictions(session, tenant_a.id, [customer.subject_id])[
        customer.subject_id]
    assert "Kami telah melaksanakan permintaan Anda" in smtp_server.to(CUSTOMER_EMAIL)[-1].get_content()
    assert "Selesai" in visitor.client.get(path).text
    trail = [a for a in re.findall(r"<li><strong>([^<]+)</strong>", done.text)]
    assert trail == ["Permintaan diterima", "Identitas dikonfirmasi dengan kode", "Penanggung jawab ditetapkan",
                     "Catatan", "Disetujui", "Dilaksanakan", "Orang tersebut diberi tahu lewat email"]


def test_approving_access_puts_the_download_link_on_the_status_page(app, session, tenant_a, customer, smtp_server):
    request, path, visitor = _verified_request(app, session, tenant_a, smtp_server, kind="access")
    client, csrf, _ = _staff_client(app, session, tenant_a)
    assert client.post(f"/privacy/requests/{request.id}/approve", data={"csrf_token": csrf}).status_code == 200
    status = visitor.client.get(path).text
    link = re.search(r'href="http://testserver(/privacy-center/[^"]+/download/[^"]+)" data-testid="download"',
                     status).group(1)
    assert link in smtp_server.to(CUSTOMER_EMAIL)[-1].get_content()
    download = visitor.client.get(link)
    assert download.status_code == 200 and download.content[:2] == b"PK"


def test_approving_a_deletion_tells_the_person_first_then_the_request_reads_erased(app, session, tenant_a, customer,
                                                                                 smtp_server):
    request, path, visitor = _verified_request(app, session, tenant_a, smtp_server, kind="deletion")
    client, csrf, _ = _staff_client(app, session, tenant_a)
    done = client.post(f"/privacy/requests/{request.id}/approve", data={"csrf_token": csrf})
    assert done.status_code == 200
    last = smtp_server.to(CUSTOMER_EMAIL)[-1]
    assert last["Subject"] == "Toko Sinar Abadi sedang menghapus data pribadi Anda"
    session.expire_all()
    erased = session.get(PrivacyRequest, (tenant_a.id, request.id))
    assert erased.status == "completed" and erased.details == ERASED and erased.contact_detail == ERASED
    assert CUSTOMER_EMAIL not in done.text and "Tolong proses" not in done.text
    assert "Selesai" in visitor.client.get(path).text  # the link still answers, with nothing personal


def test_a_correction_needs_known_fields(app, session, tenant_a, customer, smtp_server):
    request, _, _ = _verified_request(app, session, tenant_a, smtp_server, kind="correction")
    client, csrf, _ = _staff_client(app, session, tenant_a)
    for changes in ("", "nama lengkap", "saldo = 1000000"):
        response = client.post(f"/privacy/requests/{request.id}/approve", data={"changes": changes,
                                                                                "csrf_token": csrf})
        assert response.status_code == 422
    done = client.post(f"/privacy/requests/{request.id}/approve", data={"changes": "full_name = Dewi Lestari Putri",
                                                                        "csrf_token": csrf})
    assert done.status_code == 200
    session.expire_all()
    from niaga.crm.models import Contact

    assert session.get(Contact, (tenant_a.id, customer.id)).full_name == "Dewi Lestari Putri"


def test_the_api_lists_logs_and_decides(app, client, session, tenant_a, tenant_b, customer, smtp_server):
    headers = bearer(api_token(session, tenant_a.owner))
    created = client.post("/api/v1/privacy/requests", headers=headers, json={
        "contact_id": str(customer.id), "kind": "object_automated", "channel": "whatsapp", "identity_verified": True})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "open" and body["hours_left"] == 72 and body["overdue"] is False
    listed = client.get("/api/v1/privacy/requests", headers=headers).json()["items"]
    assert [r["id"] for r in listed] == [body["id"]]
    one = client.get(f"/api/v1/privacy/requests/{body['id']}", headers=headers).json()
    assert [e["action"] for e in one["events"]] == ["logged", "notice_sent"]
    refused = client.post(f"/api/v1/privacy/requests/{body['id']}/decision", headers=headers,
                          json={"decision": "deny"})
    assert refused.status_code == 422 and "ground" in refused.json()["errors"]
    decided = client.post(f"/api/v1/privacy/requests/{body['id']}/decision", headers=headers,
                          json={"decision": "approve"})
    assert decided.status_code == 200 and decided.json()["request"]["status"] == "completed"
    assert decided.json()["told"] is True
    outsider = bearer(api_token(session, tenant_b.owner))
    assert client.get(f"/api/v1/privacy/requests/{body['id']}", headers=outsider).status_code == 404
    assert client.get("/api/v1/privacy/requests", headers=outsider).json()["items"] == []
    assert client.post("/api/v1/privacy/requests", headers=outsider, json={
        "contact_id": str(customer.id), "kind": "access", "channel": "email",
        "identity_verified": True}).status_code == 422


@pytest.mark.parametrize("body", [
    {"contact_id": "bukan-uuid", "kind": "access", "channel": "email", "identity_verified": True},
    {"kind": "access", "channel": "email", "identity_verified": True},
    {"contact_id": "00000000-0000-7000-8000-000000000001", "kind": "access", "channel": "email",
     "identity_verified": True, "extra": 1},
    {"contact_id": "00000000-0000-7000-8000-000000000001", "kind": "x" * 500, "channel": "email",
     "identity_verified": True},
])
def test_the_api_refuses_malformed_bodies(client, session, tenant_a, body):
    headers = bearer(api_token(session, tenant_a.owner))
    response = client.post("/api/v1/privacy/requests", headers=headers, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/privacy/requests/not-a-uuid", headers=headers).status_code == 404


def test_decisions_are_audited_without_personal_values(app, session, tenant_a, customer, smtp_server):
    request, _, _ = _verified_request(app, session, tenant_a, smtp_server, kind="restrict")
    client, csrf, _ = _staff_client(app, session, tenant_a)
    client.post(f"/privacy/requests/{request.id}/notes", data={"note": "Telepon 081233344455", "csrf_token": csrf})
    client.post(f"/privacy/requests/{request.id}/deny", data={"ground": "manifestly_unfounded", "csrf_token": csrf})
    session.expire_all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.target_id == request.id.hex)
                             .order_by(AuditEvent.seq)).all()
    actions = [e.action.removeprefix("privacy_request.") for e in events if not e.action.endswith(".viewed")]
    assert actions[-2:] == ["noted", "denied"]
    viewed = [e for e in events if e.action == "privacy_request.viewed"]
    assert len(viewed) == 2 and {e.actor_type for e in viewed} == {"user"}  # the pages shown after each step
    dump = repr([e.details for e in events])
    assert "081233344455" not in dump and CUSTOMER_EMAIL not in dump and "Dewi" not in dump
