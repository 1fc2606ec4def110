"""The service-desk JSON API: tickets, comments, activities, SLA settings and report, with bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from niaga.crm.service_desk import sla_settings
from niaga.crm.service_desk.models import Activity, BusinessHours, Holiday, SlaPolicy, Ticket, TicketComment
from niaga.identity.permissions import Role
from niaga.privacy.audit import AuditEvent
from tests.conftest import api_token, bearer
from tests.crm.service_desk.helpers import count, make_contact, make_team

PROBLEM = "application/problem+json"


@pytest.fixture
def world(session, tenant_a):  # noqa: ANN001, ANN201
    owner = tenant_a.principal()
    sla_settings.save_default_policies(session, owner, {"normal": ("60", "480"), "urgent": ("30", "240")})
    contact = make_contact(session, tenant_a, "Budi Hartono", email="budi@pelanggan.example")
    session.commit()
    return {"contact": contact, "owner": bearer(api_token(session, tenant_a.owner))}


def new_ticket(client, headers, contact, **extra):  # noqa: ANN001, ANN003, ANN201
    body = {"contact_id": str(contact.id), "title": "Pesanan belum sampai", "description": "Sudah 5 hari.", **extra}
    return client.post("/api/v1/tickets", json=body, headers=headers)


def problem(resp, status: int) -> dict:  # noqa: ANN001
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    return resp.json()


# -- tickets -----------------------------------------------------------------------------------------
def test_open_read_and_list_a_ticket(client, world, tenant_a):  # noqa: ANN001
    resp = new_ticket(client, world["owner"], world["contact"], priority="urgent", channel="whatsapp")
    assert resp.status_code == 201, resp.text
    ticket = resp.json()
    assert ticket["number"] == 1001 and ticket["status"] == "new" and ticket["assignee_id"] == str(tenant_a.owner.id)
    assert ticket["title"] == "Pesanan belum sampai" and ticket["channel"] == "whatsapp"
    clock = ticket["sla"]["first_response"]
    assert clock["state"] == "running" and clock["target_minutes"] == 30 and not clock["breached"]
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=world["owner"]).json()["description"] == "Sudah 5 hari."
    page = client.get("/api/v1/tickets?status=new&priority=urgent", headers=world["owner"]).json()
    assert [t["number"] for t in page["items"]] == [1001] and page["next_cursor"] is None
    assert client.get("/api/v1/tickets?priority=low", headers=world["owner"]).json()["items"] == []


def test_pages_of_tickets_continue_with_the_cursor(client, world):  # noqa: ANN001
    for _ in range(3):
        new_ticket(client, world["owner"], world["contact"])
    first = client.get("/api/v1/tickets?limit=2", headers=world["owner"]).json()
    assert [t["number"] for t in first["items"]] == [1003, 1002] and first["next_cursor"] == "1002"
    rest = client.get(f"/api/v1/tickets?limit=2&before={first['next_cursor']}", headers=world["owner"]).json()
    assert [t["number"] for t in rest["items"]] == [1001] and rest["next_cursor"] is None


def test_replying_records_the_first_response(client, world):  # noqa: ANN001
    ticket = new_ticket(client, world["owner"], world["contact"]).json()
    note = client.post(f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "cek gudang", "public": False},
                       headers=world["owner"])
    assert note.status_code == 201 and note.json()["public"] is False
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=world["owner"]).json()["first_responded_at"] is None
    reply = client.post(f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "Baik, kami cek."},
                        headers=world["owner"])
    assert reply.status_code == 201
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=world["owner"]).json()
    assert after["first_responded_at"] is not None and after["status"] == "open"
    assert after["sla"]["first_response"]["state"] == "met"
    bodies = [c["body"] for c in client.get(f"/api/v1/tickets/{ticket['id']}/comments", headers=world["owner"]).json()]
    assert bodies == ["cek gudang", "Baik, kami cek."]


def test_status_changes_and_refused_transitions(client, session, world):  # noqa: ANN001
    ticket = new_ticket(client, world["owner"], world["contact"]).json()
    url = f"/api/v1/tickets/{ticket['id']}"
    assert client.patch(url, json={"status": "pending"}, headers=world["owner"]).json()["sla"]["resolution"]["state"] \
        == "paused"
    assert client.patch(url, json={"status": "closed"}, headers=world["owner"]).json()["closed_at"] is not None
    body = problem(client.patch(url, json={"status": "new"}, headers=world["owner"]), 422)
    assert "status" in body["errors"]
    body = problem(client.patch(url, json={"status": "open", "title": "Ganti"}, headers=world["owner"]), 422)
    assert "status" in body["errors"]
    assert problem(client.patch(url, json={}, headers=world["owner"]), 422)["errors"]
    comment = client.post(f"{url}/comments", json={"body": "halo?"}, headers=world["owner"])
    assert problem(comment, 409)["detail"]
    assert count(session, TicketComment) == 0
    assert session.scalar(select(Ticket.status)) == "closed"


@pytest.mark.parametrize("extra, field", [
    ({"priority": "critical"}, "priority"), ({"channel": "fax"}, "channel"), ({"title": ""}, "title"),
])
def test_bad_ticket_input_names_the_field_and_writes_nothing(client, session, world, extra, field):  # noqa: ANN001
    body = problem(new_ticket(client, world["owner"], world["contact"], **extra), 422)
    assert field in body["errors"] and count(session, Ticket) == 0


def test_oversized_and_malformed_bodies_are_refused(client, session, world):  # noqa: ANN001
    assert problem(new_ticket(client, world["owner"], world["contact"], title="x" * 5000), 422)["errors"]
    assert problem(new_ticket(client, world["owner"], world["contact"], surprise=1), 422)["errors"]
    resp = client.post("/api/v1/tickets", content=b"{not json", headers={**world["owner"],
                                                                         "content-type": "application/json"})
    assert resp.status_code == 422
    bad_id = client.post("/api/v1/tickets", json={"contact_id": "bukan-id", "title": "x"}, headers=world["owner"])
    assert problem(bad_id, 422)["errors"]
    assert count(session, Ticket) == 0


def test_a_contact_or_an_assignee_of_another_tenant_is_refused(client, session, world, tenant_b):  # noqa: ANN001
    theirs = make_contact(session, tenant_b, "Sari Dewi")
    session.commit()
    body = problem(new_ticket(client, world["owner"], theirs), 422)
    assert set(body["errors"]) == {"contact_id"}
    body = problem(new_ticket(client, world["owner"], world["contact"], assignee_id=str(tenant_b.owner.id)), 422)
    assert set(body["errors"]) == {"assignee_id"}
    ticket = new_ticket(client, world["owner"], world["contact"]).json()
    patch = client.patch(f"/api/v1/tickets/{ticket['id']}", json={"assignee_id": str(tenant_b.owner.id)},
                         headers=world["owner"])
    assert "assignee_id" in problem(patch, 422)["errors"]
    assert count(session, Ticket) == 1


def test_another_tenant_cannot_see_or_touch_the_ticket(client, session, world, tenant_b):  # noqa: ANN001
    ticket = new_ticket(client, world["owner"], world["contact"]).json()
    outsider = bearer(api_token(session, tenant_b.owner))
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=outsider).status_code == 404
    assert client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=outsider).status_code \
        == 404
    assert client.post(f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "x"}, headers=outsider).status_code \
        == 404
    assert client.get("/api/v1/tickets", headers=outsider).json()["items"] == []
    assert session.scalar(select(Ticket.status)) == "new"


def test_roles_and_visibility(client, session, tenant_a, world):  # noqa: ANN001
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    other_agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Dua")
    cashier = tenant_a.add_staff(session, Role.CASHIER)
    auditor = tenant_a.add_staff(session, Role.AUDITOR)
    make_team(session, tenant_a, "Tim Lain", other_agent)
    session.commit()
    theirs = new_ticket(client, world["owner"], world["contact"], assignee_id=str(other_agent.id)).json()
    agent_h = bearer(api_token(session, agent))
    assert client.get(f"/api/v1/tickets/{theirs['id']}", headers=agent_h).status_code == 404
    mine = new_ticket(client, agent_h, world["contact"])
    assert mine.status_code == 422  # the owner's contact is not the agent's to see
    own_contact = make_contact(session, tenant_a, "Wati Susanti", owner=agent)
    session.commit()
    assert new_ticket(client, agent_h, own_contact).status_code == 201
    assert [t["title"] for t in client.get("/api/v1/tickets", headers=agent_h).json()["items"]] == \
        ["Pesanan belum sampai"]
    cashier_h, auditor_h = bearer(api_token(session, cashier)), bearer(api_token(session, auditor))
    assert client.get("/api/v1/tickets", headers=cashier_h).status_code == 403
    assert problem(new_ticket(client, auditor_h, world["contact"]), 403)
    assert len(client.get("/api/v1/tickets", headers=auditor_h).json()["items"]) == 2
    assert client.patch(f"/api/v1/tickets/{theirs['id']}", json={"status": "open"}, headers=auditor_h).status_code \
        == 403


def test_list_filters_are_checked(client, world):  # noqa: ANN001
    for query in ("status=lost", "sla=soon", "assignee=someone", "team_id=x", "before=abc", "priority=" + "x" * 30):
        assert client.get(f"/api/v1/tickets?{query}", headers=world["owner"]).status_code == 422, query


def test_audit_records_ids_not_text(client, session, world):  # noqa: ANN001
    ticket = new_ticket(client, world["owner"], world["contact"]).json()
    client.post(f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "Rahasia: alamat"}, headers=world["owner"])
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("ticket.%"))))
    assert [e.action for e in events] == ["ticket.created", "ticket.replied"]
    assert all("Rahasia" not in str(e.details) and "Pesanan" not in str(e.details) for e in events)
    assert all(e.subject_id == world["contact"].subject_id for e in events)


# -- activities --------------------------------------------------------------------------------------
def test_tasks_through_the_api(client, session, world):  # noqa: ANN001
    resp = client.post("/api/v1/activities", json={
        "contact_id": str(world["contact"].id), "kind": "task", "body": "Telepon balik", "due_at": "2020-01-06T09:00"},
        headers=world["owner"])
    assert resp.status_code == 201, resp.text
    task = resp.json()
    assert task["overdue"] is True and task["due_at"].startswith("2020-01-06T02:00")  # 09:00 WIB is 02:00 UTC
    listed = client.get("/api/v1/activities?kind=task&owner=me&open=true", headers=world["owner"]).json()
    assert [a["id"] for a in listed] == [task["id"]]
    done = client.patch(f"/api/v1/activities/{task['id']}", json={"done": True}, headers=world["owner"]).json()
    assert done["done_at"] is not None and done["overdue"] is False
    assert client.get("/api/v1/activities?open=true", headers=world["owner"]).json() == []
    assert client.delete(f"/api/v1/activities/{task['id']}", headers=world["owner"]).status_code == 204
    assert count(session, Activity) == 0


@pytest.mark.parametrize("extra, field", [
    ({"kind": "email"}, "kind"), ({"body": "  "}, "body"), ({"due_at": "besok"}, "due_at"),
    ({"duration_minutes": 0}, "duration_minutes"), ({"duration_minutes": 5000}, "duration_minutes"),
])
def test_bad_activity_input(client, session, world, extra, field):  # noqa: ANN001
    body = {"contact_id": str(world["contact"].id), "kind": "call", "body": "Sudah ditelepon", **extra}
    assert field in problem(client.post("/api/v1/activities", json=body, headers=world["owner"]), 422)["errors"]
    assert count(session, Activity) == 0


def test_an_activity_links_only_to_the_same_customers_ticket_and_deal(client, session, tenant_a, world):  # noqa: ANN001
    other = make_contact(session, tenant_a, "Wati Susanti")
    session.commit()
    ticket = new_ticket(client, world["owner"], other).json()
    body = {"contact_id": str(world["contact"].id), "kind": "note", "body": "x", "ticket_id": ticket["id"]}
    assert "ticket_id" in problem(client.post("/api/v1/activities", json=body, headers=world["owner"]), 422)["errors"]
    from niaga.crm.sales import deals

    deal = deals.create_deal(session, tenant_a.principal(), title="Renovasi dapur", contact_id=other.id)
    session.commit()
    body = {"contact_id": str(world["contact"].id), "kind": "note", "body": "x", "deal_id": str(deal.id)}
    assert "deal_id" in problem(client.post("/api/v1/activities", json=body, headers=world["owner"]), 422)["errors"]
    body = {"contact_id": str(other.id), "kind": "meeting", "body": "Survei lokasi", "deal_id": str(deal.id),
            "ticket_id": ticket["id"], "duration_minutes": 90}
    made = client.post("/api/v1/activities", json=body, headers=world["owner"])
    assert made.status_code == 201 and made.json()["deal_id"] == str(deal.id)
    assert count(session, Activity) == 1


def test_activities_of_another_tenant_are_invisible(client, session, world, tenant_b):  # noqa: ANN001
    theirs = make_contact(session, tenant_b, "Sari Dewi")
    session.commit()
    outsider = bearer(api_token(session, tenant_b.owner))
    body = {"contact_id": str(world["contact"].id), "kind": "note", "body": "catatan"}
    assert problem(client.post("/api/v1/activities", json=body, headers=outsider), 422)["errors"]["contact_id"]
    made = client.post("/api/v1/activities", json=body, headers=world["owner"]).json()
    assert client.get(f"/api/v1/activities/{made['id']}", headers=outsider).status_code == 404
    assert client.delete(f"/api/v1/activities/{made['id']}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/activities?contact_id={theirs.id}", headers=world["owner"]).json() == []
    assert count(session, Activity) == 1


# -- SLA ---------------------------------------------------------------------------------------------
def test_business_hours_holidays_and_policies(client, session, world):  # noqa: ANN001
    settings = client.get("/api/v1/sla/settings", headers=world["owner"]).json()
    assert settings["timezone"] == "Asia/Jakarta" and len(settings["hours"]) == 6  # the default week
    week = {"hours": [{"weekday": d, "opens": "09:00", "closes": "18:00"} for d in range(5)]}
    saved = client.put("/api/v1/sla/business-hours", json=week, headers=world["owner"])
    assert saved.status_code == 200 and [h["weekday"] for h in saved.json()["hours"]] == [0, 1, 2, 3, 4]
    holiday = client.post("/api/v1/sla/holidays", json={"day": "2026-12-25", "name": "Natal"}, headers=world["owner"])
    assert holiday.status_code == 201
    again = client.post("/api/v1/sla/holidays", json={"day": "2026-12-25"}, headers=world["owner"])
    assert "day" in problem(again, 422)["errors"]
    assert client.delete(f"/api/v1/sla/holidays/{holiday.json()['id']}", headers=world["owner"]).status_code == 204
    policies = client.put("/api/v1/sla/policies", json={"policies": {"high": {"first_response_minutes": 120,
                                                                              "resolution_minutes": 960}}},
                          headers=world["owner"])
    assert {p["priority"] for p in policies.json()["policies"]} == {"normal", "urgent", "high"}
    override = client.post("/api/v1/sla/contact-policies", json={
        "contact_id": str(world["contact"].id), "priority": "normal", "first_response_minutes": 15},
        headers=world["owner"])
    assert override.status_code == 201
    assert new_ticket(client, world["owner"], world["contact"]).json()["sla"]["first_response"]["target_minutes"] == 15
    assert client.delete(f"/api/v1/sla/policies/{override.json()['id']}", headers=world["owner"]).status_code == 204


@pytest.mark.parametrize("hours, field", [
    ([{"weekday": 0, "opens": "17:00", "closes": "08:00"}], "closes_0"),
    ([{"weekday": 2, "opens": "8", "closes": "17:00"}], "opens_2"),
    ([{"weekday": 3, "opens": "08:00", "closes": "25:00"}], "closes_3"),
    ([], "week"),
    ([{"weekday": 1, "opens": "08:00", "closes": "12:00"}, {"weekday": 1, "opens": "13:00", "closes": "17:00"}],
     "hours"),
])
def test_malformed_business_hours_are_refused(client, session, world, hours, field):  # noqa: ANN001
    resp = client.put("/api/v1/sla/business-hours", json={"hours": hours}, headers=world["owner"])
    assert field in problem(resp, 422)["errors"]
    assert count(session, BusinessHours) == 0


def test_bad_sla_input(client, session, world, tenant_b):  # noqa: ANN001
    bad = client.put("/api/v1/sla/policies", json={"policies": {"critical": {"first_response_minutes": 5}}},
                     headers=world["owner"])
    assert "priority" in problem(bad, 422)["errors"]
    bad = client.put("/api/v1/sla/policies", json={"policies": {"high": {"first_response_minutes": -1}}},
                     headers=world["owner"])
    assert "high_first_response" in problem(bad, 422)["errors"]
    theirs = make_contact(session, tenant_b, "Sari Dewi")
    session.commit()
    bad = client.post("/api/v1/sla/contact-policies", json={"contact_id": str(theirs.id), "priority": "normal",
                                                            "first_response_minutes": 5}, headers=world["owner"])
    assert "contact_id" in problem(bad, 422)["errors"]
    assert problem(client.post("/api/v1/sla/holidays", json={"day": "25/12/2026"}, headers=world["owner"]), 422)
    assert count(session, Holiday) == 0 and count(session, SlaPolicy) == 2


def test_only_sla_managers_change_the_settings(client, session, tenant_a, world):  # noqa: ANN001
    agent = bearer(api_token(session, tenant_a.add_staff(session, Role.AGENT)))
    week = {"hours": [{"weekday": 0, "opens": "08:00", "closes": "09:00"}]}
    assert client.put("/api/v1/sla/business-hours", json=week, headers=agent).status_code == 403
    assert client.get("/api/v1/sla/settings", headers=agent).status_code == 200
    assert count(session, BusinessHours) == 0


def test_the_sla_report_counts_met_and_breached(client, session, tenant_a, world):  # noqa: ANN001
    fast = new_ticket(client, world["owner"], world["contact"]).json()
    client.post(f"/api/v1/tickets/{fast['id']}/comments", json={"body": "Siap"}, headers=world["owner"])
    slow = new_ticket(client, world["owner"], world["contact"], priority="urgent").json()
    session.execute(Ticket.__table__.update().where(Ticket.number == slow["number"])
                    .values(response_breached=True))
    session.commit()
    report = client.get("/api/v1/sla/report", headers=world["owner"]).json()
    assert report["total"]["tickets"] == 2 and report["total"]["breached"] == 1
    urgent = next(r for r in report["by_priority"] if r["key"] == "urgent")
    assert urgent["breached"] == 1 and urgent["met"] == 0
    assert report["by_agent"][0]["key"] == tenant_a.owner.id.hex and report["by_agent"][0]["tickets"] == 2
    assert report["total"]["median_first_response_minutes"] is not None
    assert client.get("/api/v1/sla/report?since=2026-12-01&until=2026-01-01", headers=world["owner"]).status_code \
        == 422
    assert client.get("/api/v1/sla/report?since=2020-01-01&until=2026-01-01", headers=world["owner"]).status_code \
        == 422
    assert client.get("/api/v1/sla/report?since=kemarin", headers=world["owner"]).status_code == 422
