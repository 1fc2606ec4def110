"""Activities and the contact timeline: visibility, the contact's team, erasure, merging."""

from __future__ import annotations

import pytest

from niaga.crm.service_desk import activities, service
from niaga.crm.service_desk.models import Activity, Ticket
from niaga.crm.timeline import timeline
from niaga.identity.permissions import Role
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.privacy.audit import Actor
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import ERASED
from tests.crm.service_desk.helpers import count, make_contact, make_team, wib


def note(session, principal, contact, body="Suka warna biru", **extra):  # noqa: ANN001, ANN003, ANN201
    return activities.create_activity(session, principal, {"contact_id": str(contact.id), "kind": "note",
                                                           "body": body, **extra})


def test_the_timeline_merges_tickets_and_activities_newest_first(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    contact = make_contact(session, tenant_a, "Budi Hartono")
    ticket = service.create_ticket(session, owner, {"contact_id": str(contact.id), "title": "Retur sepatu"},
                                   now=wib(23, 9))
    activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "call", "body": "Konfirmasi",
                                                "ticket_id": str(ticket.id)}, now=wib(23, 10))
    note(session, owner, contact, now=wib(22, 9))
    other = make_contact(session, tenant_a, "Wati Susanti")
    note(session, owner, other, body="Bukan untuk Budi")
    items = timeline(session, owner, contact)
    mine = [i for i in items if i.source in ("tickets", "activities")]
    assert [(i.kind, str(i.detail)) for i in mine] == [("call", "Konfirmasi"), ("ticket", "Retur sepatu"),
                                                        ("note", "Suka warna biru")]
    assert mine[1].link == f"/tickets/{ticket.id}" and mine[1].title == "Ticket #1001"
    assert mine[0].link == f"/tickets/{ticket.id}"


def test_the_timeline_shows_only_what_the_viewer_may_see(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    team = make_team(session, tenant_a, "Tim Jogja", agent)
    contact = make_contact(session, tenant_a, "Budi Hartono", owner=agent)
    service.create_ticket(session, owner, {"contact_id": str(contact.id), "title": "Milik pemilik",
                                           "team_id": ""})  # the owner's, no team: hidden from the agent
    note(session, owner, contact, body="Catatan pemilik")  # gets the contact's team? none: hidden too
    contact.team_id = team.id
    session.flush()
    note(session, owner, contact, body="Catatan untuk tim")  # the contact's team now sees it
    cashier = tenant_a.principal(tenant_a.add_staff(session, Role.CASHIER))
    seen = [str(i.detail) for i in timeline(session, tenant_a.principal(agent), contact)]
    assert "Catatan untuk tim" in seen and "Catatan pemilik" not in seen and "Milik pemilik" not in seen
    assert all(i.kind != "ticket" for i in timeline(session, cashier, contact))  # cashiers do not read tickets


def test_an_activity_takes_the_contacts_team_unless_told(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    team = make_team(session, tenant_a, "Tim Jogja")
    contact = make_contact(session, tenant_a, "Budi Hartono", team=team)
    assert note(session, owner, contact).team_id == team.id
    assert note(session, owner, contact, team_id="").team_id is None


def test_agents_read_only_visible_activities(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    agent = tenant_a.principal(tenant_a.add_staff(session, Role.AGENT))
    contact = make_contact(session, tenant_a, "Budi Hartono")
    hidden = note(session, owner, contact)
    with pytest.raises(NotFound):
        activities.get_activity(session, agent, hidden.id)
    with pytest.raises(ValidationFailed):  # the agent does not see the owner's contact
        note(session, agent, contact)
    task = activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "task",
                                                       "body": "Untuk agen", "owner_id": str(agent.user_id)})
    assert activities.get_activity(session, agent, task.id).body == "Untuk agen"
    open_tasks, _ = activities.my_tasks(session, agent)
    assert [t.id for t in open_tasks] == [task.id]


def test_a_refused_change_leaves_the_activity_as_it_was(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    contact = make_contact(session, tenant_a, "Budi Hartono")
    task = activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "task", "body": "Awal"})
    with pytest.raises(ValidationFailed):
        activities.update_activity(session, owner, task, {"body": "Baru", "due_at": "besok"})
    session.flush()
    session.expire_all()
    assert session.get(Activity, (tenant_a.id, task.id)).body == "Awal"
    with pytest.raises(ValidationFailed):
        activities.update_activity(session, owner, task, {"done": "ya"})


def test_erasing_the_contact_shreds_activities(session, tenant_a):  # noqa: ANN001
    owner = tenant_a.principal()
    contact = make_contact(session, tenant_a, "Budi Hartono")
    made = note(session, owner, contact)
    erase_subject(session, tenant_a.id, contact.subject_id, Actor.system(), "subject-request")
    session.expire_all()
    assert session.get(Activity, (tenant_a.id, made.id)).body == ERASED
    with pytest.raises(ValidationFailed):
        note(session, owner, session.get(type(contact), (tenant_a.id, contact.id)))


def test_merging_contacts_moves_tickets_and_activities(session, tenant_a):  # noqa: ANN001
    merge = pytest.importorskip("niaga.crm.contacts.merge")
    owner = tenant_a.principal()
    keep = make_contact(session, tenant_a, "Budi Hartono", email="budi@pelanggan.example")
    duplicate = make_contact(session, tenant_a, "Budi H.", email="budi.h@pelanggan.example")
    ticket = service.create_ticket(session, owner, {"contact_id": str(duplicate.id), "title": "Retur"})
    made = note(session, owner, duplicate, body="Catatan duplikat")
    merge.merge_contacts(session, owner, keep.id, duplicate.id)
    session.flush()
    session.expire_all()
    moved = session.get(Ticket, (tenant_a.id, ticket.id))
    assert moved.contact_id == keep.id and moved.subject_id == keep.subject_id and moved.title == "Retur"
    assert session.get(Activity, (tenant_a.id, made.id)).body == "Catatan duplikat"
    assert count(session, Activity, contact_id=keep.id) == 1
