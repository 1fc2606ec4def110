"""Staff, invitations, tokens and the audit log through the JSON API; problem+json on every refusal."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from niaga.db.base import utcnow
from niaga.identity.models import Invitation, User
from niaga.identity.permissions import Role
from tests.conftest import PASSWORD, api_token, bearer
from tests.identity.helpers import form_token

PROBLEM = "application/problem+json"


def owner_headers(session, tenant) -> dict:  # noqa: ANN001
    return bearer(api_token(session, tenant.owner))


def test_me_shows_decrypted_profile(client, session, tenant_a):
    resp = client.get("/api/v1/me", headers=owner_headers(session, tenant_a))
    assert resp.status_code == 200
    body = resp.json()
    assert body["email"] == "rina@sinarabadi.example" and body["phone"] == "+6281298765432"
    assert body["full_name"] == "Rina Kusuma" and body["role"] == "owner" and body["birth_date"] == "1988-06-15"


def test_api_without_or_with_bad_token_is_401_problem(client, session, tenant_a):
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["detail"]
    resp = client.get("/api/v1/me", headers=bearer("ngt_deadbeef_notatoken"))
    assert resp.status_code == 401 and "tidak valid" in resp.json()["detail"]


def test_invitation_lifecycle_via_api_and_link(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    resp = client.post("/api/v1/staff/invitations", json={"email": "Budi@SinarAbadi.example", "role": "agent"},
                       headers=headers)
    assert resp.status_code == 201, resp.text
    link = resp.json()["link"]
    token = link.rsplit("/", 1)[1]
    assert resp.json()["email"] == "budi@sinarabadi.example"
    listed = client.get("/api/v1/staff/invitations", headers=headers).json()
    assert [i["email"] for i in listed] == ["budi@sinarabadi.example"]
    # The invitee opens the link in their own browser and creates the account.
    invitee = type(client)(client.app)
    page = invitee.get(f"/invite/{token}")
    assert page.status_code == 200 and "budi@sinarabadi.example" in page.text
    accepted = invitee.post(f"/invite/{token}", data={
        "csrf_token": form_token(page.text), "full_name": "Budi Santoso", "position": "Sales",
        "phone": "0813 2222 3333", "birth_date": "1995-08-17", "password": PASSWORD, "accept_terms": "on",
    }, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text[:500]
    assert invitee.get("/dashboard").status_code == 200
    staff = {m["email"]: m for m in client.get("/api/v1/staff", headers=headers).json()}
    assert staff["budi@sinarabadi.example"]["role"] == "agent"
    # Single use: the link no longer works.
    again = type(client)(client.app).get(f"/invite/{token}")
    assert again.status_code == 410 and ("already been used" in again.text or "sudah" in again.text)


def test_expired_and_revoked_invitations_are_refused(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    first = client.post("/api/v1/staff/invitations", json={"email": "a1@sinarabadi.example", "role": "cashier"},
                        headers=headers).json()
    second = client.post("/api/v1/staff/invitations", json={"email": "a2@sinarabadi.example", "role": "cashier"},
                         headers=headers).json()
    session.execute(update(Invitation).where(Invitation.id == uuid.UUID(first["id"])).values(
        expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    client.cookies.set("niaga_lang", "en")
    assert "expired" in client.get("/invite/" + first["link"].rsplit("/", 1)[1]).text
    assert client.delete(f"/api/v1/staff/invitations/{second['id']}", headers=headers).status_code == 204
    resp = client.get("/invite/" + second["link"].rsplit("/", 1)[1])
    assert resp.status_code == 410 and "withdrawn" in resp.text


def test_invitation_bad_input(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    bad_email = client.post("/api/v1/staff/invitations", json={"email": "bukan email", "role": "agent"},
                            headers=headers)
    assert bad_email.status_code == 422 and "email" in bad_email.json()["errors"]
    bad_role = client.post("/api/v1/staff/invitations", json={"email": "x@y.example", "role": "owner"},
                           headers=headers)
    assert bad_role.status_code == 422 and "role" in bad_role.json()["errors"]
    taken = client.post("/api/v1/staff/invitations", json={"email": "rina@sinarabadi.example", "role": "agent"},
                        headers=headers)
    assert taken.status_code == 422
    extra = client.post("/api/v1/staff/invitations", json={"email": "x@y.example", "role": "agent", "admin": True},
                        headers=headers)
    assert extra.status_code == 422
    assert not list(session.scalars(select(Invitation)))


def test_admin_cannot_create_admins_or_touch_owner(client, session, tenant_a):
    admin = tenant_a.add_staff(session, Role.ADMIN)
    session.commit()
    headers = bearer(api_token(session, admin))
    resp = client.post("/api/v1/staff/invitations", json={"email": "x@y.example", "role": "admin"}, headers=headers)
    assert resp.status_code == 422
    resp = client.patch(f"/api/v1/staff/{tenant_a.owner.id}", json={"status": "disabled"}, headers=headers)
    assert resp.status_code == 403
    resp = client.patch(f"/api/v1/staff/{admin.id}", json={"role": "agent"}, headers=headers)
    assert resp.status_code == 403  # not oneself either


def test_role_change_ends_sessions_and_applies_at_once(client, session, tenant_a, settings):
    from tests.conftest import browser_login

    manager = tenant_a.add_staff(session, Role.MANAGER)
    session.commit()
    other = type(client)(client.app)
    browser_login(other, session, manager, settings)
    assert other.get("/staff").status_code == 200
    resp = client.patch(f"/api/v1/staff/{manager.id}", json={"role": "cashier"},
                        headers=owner_headers(session, tenant_a))
    assert resp.status_code == 200 and resp.json()["role"] == "cashier"
    assert other.get("/staff", follow_redirects=False).status_code == 303  # signed out


def test_disabled_staff_token_stops_working(client, session, tenant_a):
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    agent_headers = bearer(api_token(session, agent))
    assert client.get("/api/v1/me", headers=agent_headers).status_code == 200
    client.patch(f"/api/v1/staff/{agent.id}", json={"status": "disabled"}, headers=owner_headers(session, tenant_a))
    assert client.get("/api/v1/me", headers=agent_headers).status_code == 401


def test_tokens_are_scoped_shown_once_and_revocable(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    created = client.post("/api/v1/tokens", json={"label": "kasir app", "scopes": ["tenant.read"]}, headers=headers)
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("ngt_")
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert all("token" not in t for t in listed)
    narrow = bearer(secret)
    assert client.get("/api/v1/tenant", headers=narrow).status_code == 200
    assert client.get("/api/v1/staff", headers=narrow).status_code == 403  # outside the token's scope
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/tenant", headers=narrow).status_code == 401


def test_token_cannot_exceed_role(client, session, tenant_a):
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    resp = client.post("/api/v1/tokens", json={"label": "x", "scopes": ["staff.manage"]},
                       headers=bearer(api_token(session, agent)))
    assert resp.status_code == 422 and resp.json()["errors"]["scopes"]


def test_tenant_settings_update_and_validation(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    ok = client.patch("/api/v1/tenant", json={"timezone": "Asia/Makassar", "is_pkp": True,
                                              "privacy_contact_email": "Privasi@SinarAbadi.example"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["timezone"] == "Asia/Makassar"
    assert ok.json()["privacy_contact_email"] == "privasi@sinarabadi.example"
    bad = client.patch("/api/v1/tenant", json={"timezone": "UTC", "name": ""}, headers=headers)
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"timezone", "name"}
    assert client.get("/api/v1/tenant", headers=headers).json()["timezone"] == "Asia/Makassar"


def test_profile_update_validates_phone(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    bad = client.patch("/api/v1/me", json={"full_name": "Rina K", "phone": "123", "locale": "en"}, headers=headers)
    assert bad.status_code == 422 and "phone" in bad.json()["errors"]
    ok = client.patch("/api/v1/me", json={"full_name": "Rina K", "phone": "0812 5555 6666", "locale": "en"},
                      headers=headers)
    assert ok.status_code == 200 and ok.json()["phone"] == "+6281255556666"
    session.expire_all()
    assert session.get(User, (tenant_a.id, tenant_a.owner.id)).full_name == "Rina K"


def test_audit_api_lists_newest_first_with_cursor(client, session, tenant_a):
    headers = owner_headers(session, tenant_a)
    first = client.get("/api/v1/audit?limit=2", headers=headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert first["items"][0]["seq"] > first["items"][1]["seq"]
    rest = client.get(f"/api/v1/audit?limit=200&before={first['next_cursor']}", headers=headers).json()
    assert all(e["seq"] < first["items"][1]["seq"] + 1 for e in rest["items"])
    assert "rina@sinarabadi.example" not in str(first) + str(rest)


def test_json_body_errors_are_problems_not_500(client, session, tenant_a):
    headers = {**owner_headers(session, tenant_a), "content-type": "application/json"}
    resp = client.post("/api/v1/staff/invitations", content=b"{not json", headers=headers)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith(PROBLEM)
    resp = client.post("/api/v1/staff/invitations", content=b"[1,2]", headers=headers)
    assert resp.status_code == 422
