"""Unverified requests close by themselves; a mail server that fails never turns into a server error."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from niaga.privacy.fields import ERASED
from niaga.privacy.models import DataSubject
from niaga.privacy.requests.models import PrivacyRequest
from niaga.privacy.requests.notices import Mailer
from niaga.privacy.requests.tasks import expire_unverified, sweep_privacy_requests
from tests.conftest import browser_login
from tests.privacy.requests.conftest import CUSTOMER_EMAIL, STRANGER_EMAIL, code_in
from tests.support.smtp import free_port


def _break_mail(app) -> None:  # noqa: ANN001
    """Point the app's mail at a port where no server listens."""
    working = Mailer.from_settings(app.state.settings)
    app.state.privacy_mailer = dataclasses.replace(
        working, server=dataclasses.replace(working.server, port=free_port(), timeout=2))


def test_the_sweep_closes_day_old_unverified_requests_and_erases_strangers_details(visitor, customer, session,
                                                                                 database):
    visitor.submit(CUSTOMER_EMAIL)
    visitor.submit(STRANGER_EMAIL, details="Saya bukan pelanggan")
    assert expire_unverified(session) == 0  # fresh requests stay
    for row in session.scalars(select(PrivacyRequest)):
        row.received_at -= timedelta(hours=25)
    session.commit()
    sweep_privacy_requests(database)
    session.expire_all()
    rows = {r.contact_id is None: r for r in session.scalars(select(PrivacyRequest))}
    assert {r.status for r in rows.values()} == {"expired"}
    stranger, known = rows[True], rows[False]
    assert stranger.details == ERASED and session.get(DataSubject, (stranger.tenant_id, stranger.subject_id)).is_erased
    assert known.contact_detail == CUSTOMER_EMAIL  # the customer's own key is untouched
    assert expire_unverified(session) == 0


def test_a_code_that_cannot_be_delivered_still_answers_the_same(app, visitor, customer, database):
    _break_mail(app)
    response = visitor.submit(CUSTOMER_EMAIL)
    assert response.status_code == 303
    assert visitor.client.get(response.headers["location"]).status_code == 200


def test_a_refusal_whose_email_fails_is_kept_and_staff_are_told(app, session, tenant_a, customer, smtp_server,
                                                              visitor):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL, kind="restrict"))
    visitor.verify(path, code_in(smtp_server.to(CUSTOMER_EMAIL)[0]))
    request = session.scalars(select(PrivacyRequest)).one()
    _break_mail(app)
    from fastapi.testclient import TestClient

    staff = TestClient(app, raise_server_exceptions=False)
    csrf = browser_login(staff, session, tenant_a.owner, tenant_a.settings)
    denied = staff.post(f"/privacy/requests/{request.id}/deny", data={"ground": "others_data", "csrf_token": csrf})
    assert denied.status_code == 200 and "tidak dapat dikirim" in denied.text
    session.expire_all()
    assert session.get(PrivacyRequest, (tenant_a.id, request.id)).status == "denied"


def test_a_deletion_whose_notice_fails_is_not_carried_out(app, session, tenant_a, customer, smtp_server, visitor):
    path = visitor.status_path(visitor.submit(CUSTOMER_EMAIL, kind="deletion", details="Hapus semua"))
    visitor.verify(path, code_in(smtp_server.to(CUSTOMER_EMAIL)[0]))
    request = session.scalars(select(PrivacyRequest)).one()
    _break_mail(app)
    from fastapi.testclient import TestClient

    staff = TestClient(app, raise_server_exceptions=False)
    csrf = browser_login(staff, session, tenant_a.owner, tenant_a.settings)
    response = staff.post(f"/privacy/requests/{request.id}/approve", data={"csrf_token": csrf})
    assert response.status_code == 502 and "Server email tidak dapat dihubungi" in response.text
    session.expire_all()
    kept = session.get(PrivacyRequest, (tenant_a.id, request.id))
    assert kept.status == "open" and kept.details == "Hapus semua"  # nothing half-done: still readable
    assert not session.get(DataSubject, (tenant_a.id, customer.subject_id)).is_erased
