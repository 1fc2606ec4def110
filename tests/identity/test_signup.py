"""Sign-up creates a business and its owner; every bad input is refused with a clear message and writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from niaga.identity.models import Tenant, User
from niaga.privacy.audit import AuditEvent
from niaga.privacy.policy import CURRENT_POLICY_VERSION
from tests.identity.helpers import GOOD_SIGNUP, counts, post_form


def test_signup_creates_tenant_owner_and_session(client, session):
    resp = post_form(client, "/signup", GOOD_SIGNUP)
    assert resp.status_code == 303 and resp.headers["location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "Andi Pratama" in dashboard.text and "Toko Baru Jaya" in dashboard.text
    user = session.scalar(select(User))
    assert user.role == "owner"
    assert user.phone == "+6281211112222"  # stored as E.164
    assert user.email == "andi@tokobaru.example"
    assert user.birth_date == date(1990, 2, 3)
    assert user.accepted_policy_version == CURRENT_POLICY_VERSION and user.accepted_policy_at is not None
    assert user.password_hash.startswith("$argon2id$")
    tenant = session.get(Tenant, user.tenant_id)
    assert tenant.slug == "toko-baru-jaya"
    actions = [e.action for e in session.scalars(
        select(AuditEvent).where(AuditEvent.tenant_id == tenant.id).order_by(AuditEvent.seq))]
    assert actions[:2] == ["tenant.created", "user.signed_up"]


BAD_INPUTS = [
    ({"email": "andi@"}, "email", "valid email"),
    ({"email": ""}, "email", "valid email"),
    ({"phone": "12345"}, "phone", "phone number"),
    ({"phone": "0812-abc"}, "phone", "phone number"),
    ({"birth_date": "31-12-1990"}, "birth_date", "YYYY-MM-DD"),
    ({"birth_date": "2999-01-01"}, "birth_date", "real date"),
    ({"birth_date": date.today().replace(year=date.today().year - 17).isoformat()}, "birth_date", "at least 18"),
    ({"password": "short"}, "password", "at least 10"),
    ({"password": "password123"}, "password", "common"),
    ({"password": "andipratama2"}, "password", ""),
    ({"accept_terms": ""}, "accept_terms", "accept"),
    ({"full_name": "   "}, "full_name", "full name"),
    ({"company_name": ""}, "company_name", "business name"),
    ({"timezone": "Europe/Berlin"}, "timezone", "WIB"),
]


@pytest.mark.parametrize("change,field,phrase", BAD_INPUTS, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_INPUTS)])
def test_signup_bad_input_reshows_form_and_writes_nothing(client, session, change, field, phrase):
    client.cookies.set("niaga_lang", "en")
    before = counts(session)
    resp = post_form(client, "/signup", {**GOOD_SIGNUP, **change})
    assert resp.status_code == 422
    assert f'id="e-{field}"' in resp.text, f"no message next to {field}"
    assert phrase in resp.text
    assert counts(session) == before
    # What the person typed is shown again (except the password).
    if field != "email":
        assert 'value="andi@tokobaru.example"' in resp.text
    assert GOOD_SIGNUP["password"] not in resp.text


def test_signup_message_is_indonesian_by_default(client):
    resp = post_form(client, "/signup", {**GOOD_SIGNUP, "email": "bukan-email"})
    assert resp.status_code == 422
    assert 'lang="id"' in resp.text


def test_email_already_registered_is_refused_case_insensitively(client, session, tenant_a):
    client.cookies.set("niaga_lang", "en")
    before = counts(session)
    resp = post_form(client, "/signup", {**GOOD_SIGNUP, "email": "RINA@SinarAbadi.example"})
    assert resp.status_code == 422
    assert "already registered" in resp.text
    assert counts(session) == before


def test_under_age_setting_is_respected(tmp_path, database):
    from fastapi.testclient import TestClient

    from niaga.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, min_age=21), database)
    with TestClient(app) as client:
        client.cookies.set("niaga_lang", "en")
        twenty = date.today().replace(year=date.today().year - 20).isoformat()
        resp = post_form(client, "/signup", {**GOOD_SIGNUP, "birth_date": twenty})
        assert resp.status_code == 422 and "at least 21" in resp.text


def test_same_company_name_gets_distinct_slug(client, session, tenant_a):
    resp = post_form(client, "/signup", {**GOOD_SIGNUP, "company_name": "Toko Sinar Abadi"})
    assert resp.status_code == 303
    slugs = sorted(session.scalars(select(Tenant.slug)))
    assert len(slugs) == 2 and slugs[0] != slugs[1]
    assert all(s.startswith("toko-sinar-abadi") for s in slugs)
