"""Teams: managers build them, members see each other's records, a removed team leaves records intact."""

from __future__ import annotations

from sqlalchemy import select

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.identity.models import TeamMember
from niaga.identity.permissions import Role
from tests.conftest import api_token, bearer, browser_login


def test_team_membership_widens_what_an_agent_sees(client, session, tenant_a):
    a1 = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    a2 = tenant_a.add_staff(session, Role.AGENT, name="Agen Dua")
    session.commit()
    owner = bearer(api_token(session, tenant_a.owner))
    team = client.post("/api/v1/teams", json={"name": "Tim Jogja"}, headers=owner).json()
    client.put(f"/api/v1/teams/{team['id']}/members", json={"members": [str(a1.id)]}, headers=owner)
    contact = contacts.create_contact(session, tenant_a.principal(a1),
                                      {"full_name": "Siti Nurhaliza", "team_id": team["id"]})
    session.commit()
    agent2 = bearer(api_token(session, a2))
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=agent2).status_code == 404
    resp = client.put(f"/api/v1/teams/{team['id']}/members", json={"members": [str(a1.id), str(a2.id)]},
                      headers=owner)
    assert resp.status_code == 200 and len(resp.json()["members"]) == 2
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=agent2).status_code == 200


def test_team_bad_input_and_roles(client, session, tenant_a, tenant_b):
    owner = bearer(api_token(session, tenant_a.owner))
    assert client.post("/api/v1/teams", json={"name": "  "}, headers=owner).status_code == 422
    team = client.post("/api/v1/teams", json={"name": "Tim A"}, headers=owner).json()
    assert client.post("/api/v1/teams", json={"name": "Tim  A"}, headers=owner).status_code == 422  # duplicate
    outsider = client.put(f"/api/v1/teams/{team['id']}/members", json={"members": [str(tenant_b.owner.id)]},
                          headers=owner)
    assert outsider.status_code == 422
    assert not list(session.scalars(select(TeamMember)))
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    assert client.post("/api/v1/teams", json={"name": "X"}, headers=bearer(api_token(session, agent))).status_code == 403


def test_deleting_a_team_keeps_its_records(client, session, tenant_a, settings):
    team = client.post("/api/v1/teams", json={"name": "Tim Hapus"},
                       headers=bearer(api_token(session, tenant_a.owner))).json()
    contact = contacts.create_contact(session, tenant_a.principal(), {"full_name": "Budi Santoso",
                                                                     "team_id": team["id"]})
    session.commit()
    csrf = browser_login(client, session, tenant_a.owner, settings)
    page = client.get("/staff")
    assert "Tim Hapus" in page.text
    resp = client.post(f"/teams/{team['id']}", data={"csrf_token": csrf, "action": "delete"},
                       follow_redirects=False)
    assert resp.status_code == 303
    session.expire_all()
    kept = session.get(Contact, (tenant_a.id, contact.id))
    assert kept is not None and kept.team_id is None and str(kept.full_name) == "Budi Santoso"
    assert "Tim Hapus" not in client.get("/staff").text


def test_members_saved_from_the_staff_page(client, session, tenant_a, settings):
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Halaman")
    session.commit()
    csrf = browser_login(client, session, tenant_a.owner, settings)
    assert client.post("/teams", data={"csrf_token": csrf, "name": "Tim Halaman"},
                       follow_redirects=False).status_code == 303
    team_id = client.get("/api/v1/teams", headers=bearer(api_token(session, tenant_a.owner))).json()[0]["id"]
    resp = client.post(f"/teams/{team_id}", data={"csrf_token": csrf, "action": "members",
                                                       "members": [str(agent.id), str(tenant_a.owner.id)]},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert len(list(session.scalars(select(TeamMember)))) == 2
    bad = client.post(f"/teams/{team_id}", data={"csrf_token": csrf, "action": "members",
                                                      "members": ["bukan-uuid"]})
    assert bad.status_code == 422
