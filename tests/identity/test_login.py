"""Signing in: success, wrong passwords, slowdown and lockout per account and per address, rehash, 2FA."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import select, update

from niaga.db.base import utcnow
from niaga.identity.models import LoginThrottle, StaffSession, User
from niaga.identity.passwords import Passwords
from niaga.privacy.audit import AuditEvent
from niaga.privacy.vault import PLATFORM_SCOPE
from tests.conftest import PASSWORD
from tests.identity.helpers import post_form

OWNER = "rina@sinarabadi.example"


def login(client, email: str = OWNER, password: str = PASSWORD, next_path: str = "/dashboard"):  # noqa: ANN001, ANN201
    return post_form(client, "/login", {"email": email, "password": password, "next": next_path})


def expire_waits(session) -> None:  # noqa: ANN001
    """Pretend the slowdown delays have passed (keeps the failure counts)."""
    session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_login_success_sets_httponly_session_cookie(client, session, tenant_a):
    resp = login(client, email="RINA@sinarabadi.example")  # emails match case-insensitively
    assert resp.status_code == 303 and resp.headers["location"] == "/dashboard"
    cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("niaga_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/dashboard").status_code == 200
    row = session.scalar(select(StaffSession).where(StaffSession.user_id == tenant_a.owner.id))
    assert row.user_agent == "testclient" and row.ip_address == "testclient"


def test_login_next_must_be_local(client, tenant_a):
    assert login(client, next_path="https://evil.example/").headers["location"] == "/dashboard"
    assert login(client, next_path="//evil.example").headers["location"] == "/dashboard"
    assert login(client, next_path="/staff").headers["location"] == "/staff"


def test_wrong_password_reshows_form_and_is_audited(client, session, tenant_a):
    client.cookies.set("niaga_lang", "en")
    resp = login(client, password="salah-sekali-kata-sandi")
    assert resp.status_code == 401
    assert "email or password is not correct" in resp.text
    assert "niaga_session" not in resp.headers.get("set-cookie", "")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.outcome == "failed"))
    assert event.tenant_id == tenant_a.id and event.target_id == tenant_a.owner.id.hex
    assert OWNER not in str(event.details)


def test_unknown_email_answers_like_wrong_password(client, session, tenant_a):
    client.cookies.set("niaga_lang", "en")
    resp = login(client, email="nobody@nowhere.example")
    assert resp.status_code == 401 and "email or password is not correct" in resp.text
    event = session.scalar(select(AuditEvent).where(AuditEvent.tenant_id == PLATFORM_SCOPE,
                                                    AuditEvent.action == "auth.login"))
    assert event.outcome == "failed"


def test_slowdown_then_lockout_per_account(client, session, tenant_a, settings):
    client.cookies.set("niaga_lang", "en")
    for _ in range(3):
        assert login(client, password="bukan-kata-sandinya").status_code == 401
    # After three failures each further try must wait, and says how long.
    waiting = login(client, password="bukan-kata-sandinya")
    assert waiting.status_code == 429 and "Wait" in waiting.text and int(waiting.headers["retry-after"]) >= 1
    for _ in range(settings.login_max_failures - 3):
        expire_waits(session)
        login(client, password="bukan-kata-sandinya")
    locked = login(client)  # even the right password is refused while locked
    assert locked.status_code == 429 and "minutes" in locked.text
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.locked")) is not None
    # When the lock has passed, the right password works and clears the account's counter.
    expire_waits(session)
    assert login(client).status_code == 303


def test_lockout_per_client_address_across_accounts(client, session, tenant_a, settings):
    client.cookies.set("niaga_lang", "en")
    limit = settings.login_max_failures * 4
    for i in range(limit):
        expire_waits(session)
        resp = login(client, email=f"tebak{i}@nowhere.example", password="tebak-tebakan-saja")
        assert resp.status_code == 401
    expire_waits(session)
    session.execute(update(LoginThrottle).where(LoginThrottle.key.startswith("addr:"))
                    .values(locked_until=utcnow() + timedelta(minutes=10)))
    session.commit()
    assert login(client).status_code == 429  # the address is locked, whichever account it tries


def test_password_rehashed_when_parameters_change(client, session, tenant_a, database, tmp_path):
    from fastapi.testclient import TestClient

    from niaga.app import create_app
    from tests.conftest import make_settings

    old_hash = tenant_a.owner.password_hash
    stronger = make_settings(tmp_path, argon2_time_cost=2, argon2_memory_kib=16)
    with TestClient(create_app(stronger, database)) as c:
        assert login(c).status_code == 303
    session.expire_all()
    new_hash = session.get(User, (tenant_a.id, tenant_a.owner.id)).password_hash
    assert new_hash != old_hash and "t=2" in new_hash and "m=16" in new_hash
    assert Passwords(2, 16).verify(new_hash, PASSWORD)


def test_disabled_account_cannot_sign_in(client, session, tenant_a):
    from niaga.identity.permissions import Role

    agent = tenant_a.add_staff(session, Role.AGENT, email="agen@sinarabadi.example")
    agent.status = "disabled"
    session.commit()
    client.cookies.set("niaga_lang", "en")
    resp = login(client, email="agen@sinarabadi.example")
    assert resp.status_code == 401 and "disabled" in resp.text


def test_logout_ends_session_server_side(client, session, tenant_a):
    login(client)
    cookie = client.cookies.get("niaga_session")
    page = client.get("/dashboard")
    from tests.identity.helpers import form_token

    resp = client.post("/logout", data={"csrf_token": form_token(page.text)}, follow_redirects=False)
    assert resp.status_code == 303
    client.cookies.set("niaga_session", cookie)  # replaying the old cookie does not work
    assert client.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")


def test_idle_and_expired_sessions_end(client, session, tenant_a, settings):
    login(client)
    session.execute(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes + 1)))
    session.commit()
    resp = client.get("/dashboard", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=%2Fdashboard"
    login(client)
    session.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_second_factor_flow(client, session, tenant_a):
    secret = pyotp.random_base32()
    tenant_a.owner.totp_secret = secret
    session.commit()
    resp = login(client)
    assert resp.headers["location"].startswith("/login/second-factor")
    # Half-signed-in: no access yet.
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    client.cookies.set("niaga_lang", "en")
    bad = post_form(client, "/login/second-factor", {"code": "000000", "next": "/dashboard"})
    assert bad.status_code == 422 and "code is not correct" in bad.text
    good = post_form(client, "/login/second-factor", {"code": pyotp.TOTP(secret).now(), "next": "/dashboard"})
    assert good.status_code == 303
    assert client.get("/dashboard").status_code == 200
