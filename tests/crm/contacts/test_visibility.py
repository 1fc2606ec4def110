"""Who sees and changes which contacts (DESIGN rule 3): agents their own and their teams', managers and above
everything, auditors read only, cashiers look customers up but change nothing."""

from __future__ import annotations

import pytest

from tests.conftest import api_token, bearer


@pytest.fixture
def book(session, shop):  # noqa: ANN001, ANN201
    """One contact per kind of ownership."""
    return {
        "agent's own": shop.contact(session, by="agent", full_name="Milik Agen", emails=["agen@pelanggan.example"]),
        "teammate's, shared with the team": shop.contact(session, by="teammate", full_name="Milik Tim",
                                                         team_id=shop.team.id),
        "teammate's, not shared": shop.contact(session, by="teammate", full_name="Milik Rekan Pribadi"),
        "loner's": shop.contact(session, by="loner", full_name="Milik Penyendiri", phones=["081399990000"]),
        "owner's": shop.contact(session, by="owner", full_name="Milik Pemilik"),
    }


SEES = {
    "owner": {"agent's own", "teammate's, shared with the team", "teammate's, not shared", "loner's", "owner's"},
    "admin": {"agent's own", "teammate's, shared with the team", "teammate's, not shared", "loner's", "owner's"},
    "manager": {"agent's own", "teammate's, shared with the team", "teammate's, not shared", "loner's", "owner's"},
    "auditor": {"agent's own", "teammate's, shared with the team", "teammate's, not shared", "loner's", "owner's"},
    "agent": {"agent's own", "teammate's, shared with the team"},
    "teammate": {"teammate's, shared with the team", "teammate's, not shared"},
    "loner": {"loner's"},
    "cashier": set(),
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_role_lists_and_opens_exactly_what_it_may_see(client, session, shop, book, who):
    headers = bearer(api_token(session, shop.staff[who]))
    listed = client.get("/api/v1/contacts", headers=headers)
    assert listed.status_code == 200
    names = {i["full_name"] for i in listed.json()["items"]}
    expected = {book[k].full_name for k in SEES[who]}
    assert names == expected
    for key, contact in book.items():
        status = client.get(f"/api/v1/contacts/{contact.id}", headers=headers).status_code
        assert status == (200 if key in SEES[who] else 404), (who, key)


@pytest.mark.parametrize("who", sorted(SEES))
def test_search_never_finds_what_the_role_may_not_see(client, session, shop, book, who):
    headers = bearer(api_token(session, shop.staff[who]))
    for key, query in (("agent's own", "agen@pelanggan.example"), ("loner's", "0813-9999-0000"),
                       ("teammate's, not shared", "pribadi")):
        found = client.post("/api/v1/contacts/search", json={"q": query}, headers=headers).json()["items"]
        assert bool(found) == (key in SEES[who]), (who, key)


@pytest.mark.parametrize("who, can_write", [("owner", True), ("admin", True), ("manager", True), ("agent", True),
                                            ("auditor", False), ("cashier", False)])
def test_only_roles_with_write_permission_create_or_change(client, session, shop, book, who, can_write):
    headers = bearer(api_token(session, shop.staff[who]))
    created = client.post("/api/v1/contacts", json={"full_name": f"Baru oleh {who}"}, headers=headers)
    assert created.status_code == (201 if can_write else 403), created.text
    target = book["agent's own"]
    changed = client.patch(f"/api/v1/contacts/{target.id}", json={"position": "Pembeli"}, headers=headers)
    if not can_write:
        assert changed.status_code == 403
    else:
        assert changed.status_code == (200 if "agent's own" in SEES[who] else 404)


def test_an_agent_cannot_change_a_contact_they_cannot_see(client, session, shop, book):
    headers = bearer(api_token(session, shop.staff["agent"]))
    target = book["loner's"]
    resp = client.patch(f"/api/v1/contacts/{target.id}", json={"full_name": "Diambil Alih"}, headers=headers)
    assert resp.status_code == 404
    session.expire_all()
    assert str(target.full_name) == "Milik Penyendiri"


@pytest.mark.parametrize("who, status", [("owner", 200), ("manager", 200), ("agent", 403), ("cashier", 403),
                                         ("auditor", 403)])
def test_export_import_and_merge_need_their_own_permissions(client, session, shop, book, who, status):
    headers = bearer(api_token(session, shop.staff[who]))
    assert client.get("/api/v1/contacts/export", headers=headers).status_code == status
    imported = client.post("/api/v1/contacts/import", content=b"nama\nAni\n",
                           headers={**headers, "content-type": "text/csv"})
    assert imported.status_code == status
    keep = book["owner's"]
    merged = client.post(f"/api/v1/contacts/{keep.id}/merge", json={"duplicate_id": str(book["loner's"].id)},
                         headers=headers)
    assert merged.status_code == status


def test_a_team_members_contact_appears_for_the_team_once_shared(client, session, shop, book):
    agent = bearer(api_token(session, shop.staff["agent"]))
    private = book["teammate's, not shared"]
    assert client.get(f"/api/v1/contacts/{private.id}", headers=agent).status_code == 404
    teammate = bearer(api_token(session, shop.staff["teammate"]))
    shared = client.patch(f"/api/v1/contacts/{private.id}", json={"team_id": str(shop.team.id)}, headers=teammate)
    assert shared.status_code == 200
    assert client.get(f"/api/v1/contacts/{private.id}", headers=agent).status_code == 200
