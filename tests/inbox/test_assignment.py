"""Assignment: by hand (to me, a colleague, a team) and round-robin among available agents under their limit."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from niaga.identity.permissions import Role
from niaga.inbox import assignment
from niaga.kit.errors import ValidationFailed
from niaga.privacy.audit import AuditEvent
from tests.inbox.agent_helpers import (
    arrive,
    conversation_of,
    new_channel,
    principal_of,
    team_of,
)


@pytest.fixture
def desk(session, tenant_a):  # noqa: ANN001, ANN201
    agents = [tenant_a.add_staff(session, Role.AGENT, name=f"Agen {n}") for n in ("Ani", "Budi", "Cici")]
    chat = new_channel(session, tenant_a, "webchat", "Chat Situs")
    owner = tenant_a.principal()
    assignment.set_auto_assign(session, owner, True)
    return owner, agents, chat


def _arrivals(session, chat, n, start=0):  # noqa: ANN001, ANN202
    return [conversation_of(session, arrive(session, chat, f"pengunjung-{i}", "Halo")) for i in range(start, start + n)]


def test_round_robin_shares_new_conversations_fairly_among_available_agents(session, desk):  # noqa: ANN001
    owner, agents, chat = desk
    for agent in agents:
        assignment.set_availability(session, owner, agent.id, True)
    conversations = _arrivals(session, chat, 9)
    shares = Counter(c.assignee_id for c in conversations)
    assert shares == {a.id: 3 for a in agents}
    # Turn by turn: the same order repeats, nobody gets two before everyone had one.
    order = [c.assignee_id for c in conversations]
    assert order[:3] == order[3:6] == order[6:9] and len(set(order[:3])) == 3
    # A second message of the same customer keeps the conversation where it is.
    again = conversation_of(session, arrive(session, chat, "pengunjung-0", "Masih di sana?"))
    assert again.assignee_id == conversations[0].assignee_id


def test_unavailable_agents_and_agents_at_their_limit_are_skipped(session, desk):  # noqa: ANN001
    owner, (ani, budi, cici), chat = desk
    assignment.set_availability(session, owner, ani.id, True)
    assignment.set_availability(session, owner, budi.id, True)
    assignment.set_limit(session, owner, ani.id, "1")
    conversations = _arrivals(session, chat, 4)
    assignees = [c.assignee_id for c in conversations]
    assert assignees.count(ani.id) == 1 and assignees.count(budi.id) == 3 and cici.id not in assignees
    assignment.set_limit(session, owner, budi.id, 3)
    assert _arrivals(session, chat, 1, start=10)[0].assignee_id is None  # everyone full: left for anyone
    assignment.set_availability(session, owner, ani.id, False)
    assignment.set_limit(session, owner, ani.id, 50)
    assert _arrivals(session, chat, 1, start=20)[0].assignee_id is None  # ani has room but is away


def test_nothing_is_assigned_when_automatic_assignment_is_off(session, desk):  # noqa: ANN001
    owner, agents, chat = desk
    assignment.set_availability(session, owner, agents[0].id, True)
    assignment.set_auto_assign(session, owner, False)
    assert _arrivals(session, chat, 1)[0].assignee_id is None


def test_a_teams_conversation_goes_only_to_its_members(session, tenant_a, desk):  # noqa: ANN001
    owner, (ani, budi, cici), chat = desk
    team = team_of(session, tenant_a, "Tim Grosir", cici)
    for agent in (ani, budi, cici):
        assignment.set_availability(session, owner, agent.id, True)
    first = _arrivals(session, chat, 1)[0]
    first.assignee_id = None
    first.team_id = team.id
    session.flush()
    arrive(session, chat, "pengunjung-0", "Halo lagi")
    assert first.assignee_id == cici.id


def test_assigning_by_hand_is_checked_and_audited(session, tenant_a, tenant_b, desk):  # noqa: ANN001
    owner, (ani, budi, _), chat = desk
    cashier = tenant_a.add_staff(session, Role.CASHIER, name="Kasir")
    team = team_of(session, tenant_a, "Tim Ritel", ani)
    conversation = _arrivals(session, chat, 1)[0]
    assignment.assign(session, principal_of(ani), conversation, assignee="me", team=str(team.id))
    assert (conversation.assignee_id, conversation.team_id) == (ani.id, team.id)
    assignment.assign(session, owner, conversation, assignee=str(budi.id))
    assert conversation.assignee_id == budi.id and conversation.team_id == team.id  # team kept
    assignment.assign(session, owner, conversation, assignee="", team="")
    assert (conversation.assignee_id, conversation.team_id) == (None, None)
    for bad in ({"assignee": str(tenant_b.owner.id)}, {"assignee": str(cashier.id)}, {"assignee": "bukan-id"},
                {"assignee": "", "team": "00000000-0000-7000-8000-000000000001"}):
        with pytest.raises(ValidationFailed):
            assignment.assign(session, owner, conversation, **bad)
    assert conversation.assignee_id is None
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.conversation_assigned",
                                                      AuditEvent.target_id == conversation.id.hex)).all()
    assert [e.details["how"] for e in events] == ["manual", "manual", "manual"]
    assert all(e.purpose == "U2" for e in events)


def test_availability_and_limits_refuse_bad_input(session, tenant_a, tenant_b, desk):  # noqa: ANN001
    owner, (ani, _, _), _ = desk
    cashier = tenant_a.add_staff(session, Role.CASHIER, name="Kasir")
    for value in ("0", "-3", "abc", "501", ""):
        with pytest.raises(ValidationFailed):
            assignment.set_limit(session, owner, ani.id, value)
    with pytest.raises(ValidationFailed):
        assignment.set_availability(session, owner, cashier.id, True)
    with pytest.raises(ValidationFailed):
        assignment.set_availability(session, owner, tenant_b.owner.id, True)
    assert assignment.state_of(session, tenant_a.id, ani.id).max_open == assignment.DEFAULT_OPEN_LIMIT
