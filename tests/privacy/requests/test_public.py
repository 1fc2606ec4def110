"""The public privacy center over HTTP, with a real local SMTP server catching the codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.identity.models import LoginThrottle
from niaga.privacy.audit import AuditEvent
from niaga.privacy.fields import ERASED
from niaga.privacy.models import DataSubject
from niaga.privacy.requests import otp
from niaga.privacy.requests.models import PrivacyRequest, PrivacyRequestEvent
from tests.privacy.requests.conftest import (
    CUSTOMER_EMAIL, CUSTOMER_PHONE, STRANGER_EMAIL, add_contact, code_in, visitor_for,
)


def _request(database, path: str) -> PrivacyRequest:  # noqa: ANN001
    """The stored request behind a status path (looked up as the app would)."""
    from niaga.privacy.requests.service import by_token, tenant_by_slug

    _, _, slug, _, token = path.split("/")
    s = database.session()
    tenant = tenant_by_slug(s, slug)
    return by_token(s, tenant.id, token)


def _main(html: str) -> str:
    """The page's main content with per-visit values (tokens, CSRF, times) masked, for comparing answers."""
    body = html[html.index("<main"):html.index("</main>")]
    body = re.sub(r"/requests/[\w-]+", "/requests/TOKEN", body)
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', body)


def test_a_customer_asks_verifies_with_the_code_and_sees_the_deadline(visitor, customer, smtp_server, database):
    form = visitor.client.get(f"/privacy-center/{visitor.slug}")
    assert form.status_code == 200 and "Pusat privasi Toko Sinar Abadi" in form.text  # Indonesian by default
    response = visitor.submit(CUSTOMER_EMAIL, kind="access", details="Mohon salinan data saya")
    path = visitor.status_path(response)
    assert re.fullmatch(rf"/privacy-center/{visitor.slug}/requests/[\w-]{{40,}}", path)
    page = visitor.client.get(path)
    assert 'data-testid="code-form"' in page.text and "kode 6 digit" in page.text

    [message] = smtp_server.to(CUSTOMER_EMAIL)
    assert message["Subject"] == "Kode verifikasi Anda untuk Toko Sinar Abadi"
    assert "Toko Sinar Abadi via niaga" in message["From"]
    code = code_in(message)
    request = _request(database, path)
    assert request.status == "awaiting_verification" and request.code_hash != code.encode()
    assert code not in request.code_hash.hex()

    verified = visitor.verify(path, code)
    assert verified.status_code == 303 and verified.headers["location"].endswith("?verified=1")
    page = visitor.client.get(verified.headers["location"])
    assert "Diterima, menunggu ditangani" in page.text and 'data-testid="due"' in page.text
    request = _request(database, path)
    assert request.status == "open" and request.verified_by == "code"
    assert request.due_at - request.verified_at == timedelta(hours=72)
    assert request.details == "Mohon salinan data saya" and request.contact_detail == CUSTOMER_EMAIL

    receipt = smtp_server.to(CUSTOMER_EMAIL)[-1]
    assert receipt["Subject"] == "Permintaan Anda kepada Toko Sinar Abadi telah kami terima"
    assert f"http://testserver{path}" in receipt.get_content()


def test_the_answer_is_the_same_whether_or_not_the_person_exists(app, session, tenant_a, customer, smtp_server,
                                                                 database):
    known = visitor_for(app, session, tenant_a.tenant.slug)
    stranger = visitor_for(app, session, tenant_a.tenant.slug)
    first, second = known.submit(CUSTOMER_EMAIL), stranger.submit(STRANGER_EMAIL)
    assert first.status_code == second.status_code == 303
    assert first.headers.keys() == second.headers.keys()
    known_path, stranger_path = known.status_path(first), stranger.status_path(second)
    known_page, stranger_page = known.client.get(known_path), stranger.client.get(stranger_path)
    assert known_page.status_code == stranger_page.status_code == 200
    assert _main(known_page.text) == _main(stranger_page.text)
    # Wrong codes, resends and the final lock-out read the same too.
    for _ in range(2):
        a, b = known.verify(known_path, "000000"), stranger.verify(stranger_path, "000000")
        assert a.status_code == b.status_code == 422 and _main(a.text) == _main(b.text)
    a, b = known.resend(known_path), stranger.resend(stranger_path)
    assert a.status_code == b.status_code == 200 and _main(a.text) == _main(b.text)

    assert smtp_server.to(STRANGER_EMAIL) == []  # no message for an address nobody has
    assert len(smtp_server.to(CUSTOMER_EMAIL)) == 2
    unknown = _request(database, stranger_path)
    assert unknown.contact_id is None and unknown.subject.kind == "requester"
    assert _request(database, known_path).subject_id == customer.subject_id


def test_an_unknown_persons_request_can_never_be_verified_and_its_details_are_erased_when_it_closes(
        visitor, customer, database):
    path = visitor.status_path(visitor.submit(STRANGER_EMAIL, details="Saya orang asing"))
    for code in ("000000", "111111", "123456", "999999"):
        assert visitor.verify(path, code).status_code == 422
    last = visitor.verify(path, "654321")
    assert last.status_code == 422 and "Terlalu banyak kode yang salah" in last.text
    request = _request(database, path)
    assert request.status == "expired" and request.attempts_left == 0
    assert request.details == ERASED and request.contact_detail == ERASED
    assert database.session().get(DataSubject, (request.tenant_id, request.subject_id)).is_erased


def test_wrong_codes_count_down_then_close_the_request(visitor, customer, smtp_server, database):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL))
    code = code_in(smtp_server.to(CUSTOMER_EMAIL)[0])
    wrong = "000000" if code != "000000" else "111111"
    first = visitor.verify(path, wrong)
    assert first.status_code == 422 and "Sisa 4 percobaan" in first.text
    for _ in range(4):
        visitor.verify(path, wrong)
    closed = visitor.verify(path, code)  # the right code no longer helps
    assert closed.status_code == 422 and "sudah ditutup" in closed.text
    assert _request(database, path).status == "expired"


def test_expired_reused_and_malformed_codes_are_refused_clearly(visitor, customer, smtp_server, database, session):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL))
    code = code_in(smtp_server.to(CUSTOMER_EMAIL)[0])
    for junk in ("12345", "abcdef", "1234567", "", "١٢٣٤٥٦"):
        response = visitor.verify(path, junk)
        assert response.status_code == 422 and "Masukkan kode 6 digit" in response.text
    assert _request(database, path).attempts_left == otp.MAX_ATTEMPTS  # malformed input costs no attempt

    request = session.get(PrivacyRequest, (_request(database, path).tenant_id, _request(database, path).id))
    request.code_expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    expired = visitor.verify(path, code)
    assert expired.status_code == 422 and "sudah kedaluwarsa" in expired.text

    fresh = visitor.resend(path)
    assert fresh.status_code == 200 and "kode baru sedang dikirim" in fresh.text
    new_code = code_in(smtp_server.to(CUSTOMER_EMAIL)[-1])
    if new_code != code:
        assert visitor.verify(path, code).status_code == 422  # the earlier code stopped working
    assert visitor.verify(path, new_code).status_code == 303
    reused = visitor.verify(path, new_code)
    assert reused.status_code == 422 and "sudah terverifikasi" in reused.text


def test_resends_are_limited(visitor, customer, smtp_server, database):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL))
    for _ in range(otp.MAX_CODES - 1):
        assert visitor.resend(path).status_code == 200
    refused = visitor.resend(path)
    assert refused.status_code == 422 and "Tidak ada lagi kode" in refused.text
    assert len(smtp_server.to(CUSTOMER_EMAIL)) == otp.MAX_CODES
    assert 'data-testid="resend"' not in visitor.client.get(path).text


def test_new_requests_are_limited_per_address_and_per_client(app, session, tenant_a, customer, smtp_server):
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    _, allowed, _ = otp.ADDRESS_LIMIT
    for _ in range(allowed):
        assert visitor.submit(CUSTOMER_EMAIL).status_code == 303
    refused = visitor.submit("  Dewi.Lestari@Pelanggan.example ")  # the same address, written differently
    assert refused.status_code == 429 and "Terlalu banyak percobaan" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert len(smtp_server.to(CUSTOMER_EMAIL)) == allowed
    # Another address from the same client still works until the client's own limit.
    _, per_client, _ = otp.CLIENT_LIMIT
    answers = [visitor.submit(f"orang{i}@contoh.example").status_code for i in range(per_client - allowed + 1)]
    assert answers[:-1] == [303] * (per_client - allowed) and answers[-1] == 429
    keys = [row.key for row in session.scalars(select(LoginThrottle))]
    assert keys and not any("contoh" in k or "pelanggan" in k for k in keys)  # counters hold no address


def test_guessing_across_requests_is_limited_per_client(app, session, tenant_a, customer, monkeypatch):
    monkeypatch.setattr(otp, "GUESS_LIMIT", ("dsr-guess", 3, timedelta(hours=1)))
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    paths = [visitor.status_path(visitor.submit(f"tebak{i}@contoh.example")) for i in range(2)]
    statuses = [visitor.verify(paths[i % 2], "000000").status_code for i in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_a_phone_on_file_gets_the_code_by_email_while_whatsapp_is_not_connected(visitor, customer, smtp_server,
                                                                                 database):
    path = visitor.status_path(visitor.submit("0812-3334-4455", kind="restrict"))
    [message] = smtp_server.to(CUSTOMER_EMAIL)
    assert visitor.verify(path, code_in(message)).status_code == 303
    assert _request(database, path).address_kind == "phone"
    assert "kode dikirim ke email yang tercatat" in visitor.client.get(f"/privacy-center/{visitor.slug}").text


def test_a_registered_whatsapp_sender_is_used_for_phones(visitor, customer, smtp_server, database):
    sent: list[tuple[str, str]] = []

    def whatsapp(session, request, code, language):  # noqa: ANN001, ANN202
        sent.append((request.contact_detail, code))
        return otp.CodeDelivery("whatsapp", None)

    previous = (otp._whatsapp_sender, otp._whatsapp_ready)
    otp.register_whatsapp_sender(whatsapp)
    try:
        path = visitor.status_path(visitor.submit(CUSTOMER_PHONE))
    finally:
        otp.register_whatsapp_sender(*previous)
    assert smtp_server.messages == [] and sent[0][0] == "+6281233344455"
    assert visitor.verify(path, sent[0][1]).status_code == 303


def test_a_person_with_no_email_on_file_gets_nothing_and_sees_the_same_page(app, session, tenant_a, smtp_server):
    add_contact(session, tenant_a, "Joko Susilo", email=None, phone="081299911122")
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    path = visitor.status_path(visitor.submit("081299911122"))
    assert visitor.client.get(path).status_code == 200 and smtp_server.messages == []


def test_english_visitors_get_english_pages_and_messages(app, session, tenant_a, customer, smtp_server):
    visitor = visitor_for(app, session, tenant_a.tenant.slug, **{"Accept-Language": "en-US,en;q=0.8"})
    assert "Privacy center of Toko Sinar Abadi" in visitor.client.get(f"/privacy-center/{visitor.slug}").text
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL))
    message = smtp_server.to(CUSTOMER_EMAIL)[0]
    assert message["Subject"] == "Your verification code for Toko Sinar Abadi"
    visitor.verify(path, code_in(message))
    assert "Received, waiting to be handled" in visitor.client.get(path).text


@pytest.mark.parametrize("data, field", [
    ({"kind": "sell_my_data", "address": CUSTOMER_EMAIL}, "kind"),
    ({"kind": "access", "address": "bukan alamat"}, "address"),
    ({"kind": "access", "address": ""}, "address"),
    ({"kind": "access", "address": CUSTOMER_EMAIL, "details": "x" * 2001}, "details"),
])
def test_bad_input_is_refused_and_nothing_is_written(visitor, customer, smtp_server, database, data, field):
    response = visitor.client.post(f"/privacy-center/{visitor.slug}", data={**data, "csrf_token": visitor.csrf},
                                   follow_redirects=False)
    assert response.status_code == 422 and f'id="e-{field}"' in response.text
    assert database.session().scalars(select(PrivacyRequest)).all() == [] and smtp_server.messages == []


def test_forms_without_the_csrf_token_are_refused(visitor, customer, database):
    response = visitor.client.post(f"/privacy-center/{visitor.slug}", data={"kind": "access",
                                                                             "address": CUSTOMER_EMAIL})
    assert response.status_code == 403
    assert database.session().scalars(select(PrivacyRequest)).all() == []


def test_links_of_another_business_and_made_up_links_say_so_and_are_audited(app, session, tenant_a, tenant_b,
                                                                            customer, database):
    visitor = visitor_for(app, session, tenant_a.tenant.slug)
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL))
    token = path.rsplit("/", 1)[1]
    for other in (f"/privacy-center/{tenant_b.tenant.slug}/requests/{token}",
                  f"/privacy-center/{tenant_a.tenant.slug}/requests/bukan-token"):
        page = visitor.client.get(other)
        assert page.status_code == 404 and "Kami tidak mengenal tautan ini" in page.text
    forged = visitor.verify(f"/privacy-center/{tenant_b.tenant.slug}/requests/{token}", "123456")
    assert forged.status_code == 404
    assert visitor.client.get("/privacy-center/tidak-ada-usaha").status_code == 404
    events = database.session().scalars(select(AuditEvent).where(
        AuditEvent.action == "privacy_request.unknown_link")).all()
    assert {e.tenant_id for e in events} == {tenant_a.id, tenant_b.id} and len(events) == 3
    assert all(e.client_ref is None or len(e.client_ref) == 32 for e in events)


def test_every_step_is_audited_and_the_trail_holds_no_personal_values(visitor, customer, smtp_server, database):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL, details="Nomor KTP saya 3174012345678901"))
    code = code_in(smtp_server.to(CUSTOMER_EMAIL)[0])
    visitor.verify(path, "000000")
    visitor.verify(path, code)
    request = _request(database, path)
    s = database.session()
    events = s.scalars(select(AuditEvent).where(AuditEvent.target_id == request.id.hex).order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["privacy_request.received", "privacy_request.code_refused",
                                          "privacy_request.verified"]
    assert all(e.subject_id == customer.subject_id for e in events)
    dump = repr([(e.details, e.target_id, e.client_ref) for e in events])
    for secret in (CUSTOMER_EMAIL, "3174012345678901", "Dewi", code):
        assert secret not in dump
    trail = s.scalars(select(PrivacyRequestEvent).where(PrivacyRequestEvent.request_id == request.id)
                      .order_by(PrivacyRequestEvent.id)).all()
    assert [e.action for e in trail] == ["received", "verified"]
