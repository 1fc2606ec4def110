"""Who handles a conversation: manual assignment, and automatic round-robin among available agents.

Decisions:
- An agent takes new conversations only while marked available (a staff member starts unavailable; the
  toggle is on the inbox page). Each agent has a limit of open conversations (default 10); an agent at the
  limit is skipped.
- Round-robin: among the candidates, the one assigned longest ago (never assigned: first) gets the next
  conversation, ties broken by user id, so over time every available agent gets the same share.
- A conversation that already belongs to a team (the contact's team) goes only to members of that team, so
  it stays visible to them; when nobody there can take it, it stays unassigned for anyone to pick up.
- Automatic assignment is a per-business setting (off by default) and acts on the customer's message that
  finds the conversation unassigned; a conversation with an assignee keeps it when the customer writes again.
- Assignments are serialised per business by locking its settings row (PostgreSQL), so two messages
  arriving at once cannot both hand the last free slot to the same agent.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.permissions import Perm, Role, has_permission
from niaga.identity.principal import Principal
from niaga.inbox.agent_models import DEFAULT_OPEN_LIMIT, AgentState, InboxSettings
from niaga.inbox.models import Conversation, Message
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor

MAX_OPEN_LIMIT = 500
REPLY_ROLES = tuple(r.value for r in Role if has_permission(r.value, Perm.INBOX_REPLY))
NO_SUCH_AGENT = Msg("Choose a staff member who can answer conversations.")
NO_SUCH_TEAM = Msg("Choose a team from the list.")


# -- settings ----------------------------------------------------------------------------------------
def settings_of(session: Session, tenant_id: uuid.UUID, *, lock: bool = False) -> InboxSettings:
    """The business's inbox settings (a row is created on first use)."""
    query = select(InboxSettings).where(InboxSettings.tenant_id == tenant_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        row = InboxSettings(tenant_id=tenant_id, auto_assign=False)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # created meanwhile by a concurrent request
            row = session.scalar(query.with_for_update() if lock else query)
    return row


def set_auto_assign(session: Session, principal: Principal, on: bool) -> InboxSettings:
    """Switch automatic assignment on or off for the business."""
    row = settings_of(session, principal.tenant_id)
    row.auto_assign = bool(on)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.auto_assign_changed", principal.actor,
                 target_type="inbox_settings", target_id=row.id, details={"on": row.auto_assign})
    return row


# -- agents ------------------------------------------------------------------------------------------
def reply_agents(session: Session, tenant_id: uuid.UUID) -> list[User]:
    """Active staff who may answer conversations."""
    return list(session.scalars(select(User).where(User.tenant_id == tenant_id, User.status == "active",
                                                   User.role.in_(REPLY_ROLES)).order_by(User.created_at)))


def check_agent(session: Session, tenant_id: uuid.UUID, value: Any) -> User:
    """An active staff member of this business who may answer conversations (others: a field error)."""
    user_id = _parse_id(value)
    user = session.get(User, (tenant_id, user_id)) if user_id is not None else None
    if user is None or user.status != "active" or user.role not in REPLY_ROLES:
        raise ValidationFailed({"assignee_id": NO_SUCH_AGENT})
    return user


def state_of(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> AgentState:
    """An agent's availability and limit (a row is created on first use: unavailable, default limit)."""
    row = session.scalar(select(AgentState).where(AgentState.tenant_id == tenant_id, AgentState.user_id == user_id))
    if row is None:
        row = AgentState(tenant_id=tenant_id, user_id=user_id, available=False, max_open=DEFAULT_OPEN_LIMIT)
        session.add(row)
        session.flush()
    return row


def states(session: Session, tenant_id: uuid.UUID) -> dict[uuid.UUID, AgentState]:
    """Every stored agent state of the business, by user id."""
    return {s.user_id: s for s in session.scalars(select(AgentState).where(AgentState.tenant_id == tenant_id))}


def set_availability(session: Session, principal: Principal, user_id: uuid.UUID, available: bool) -> AgentState:
    """Mark an agent available for new conversations, or not (their own toggle, or a manager's)."""
    user = check_agent(session, principal.tenant_id, user_id)
    row = state_of(session, principal.tenant_id, user.id)
    row.available = bool(available)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.availability_changed", principal.actor, target_type="user",
                 target_id=user.id, details={"available": row.available})
    return row


def set_limit(session: Session, principal: Principal, user_id: uuid.UUID, value: Any) -> AgentState:
    """How many open conversations an agent holds at most before automatic assignment skips them."""
    user = check_agent(session, principal.tenant_id, user_id)
    try:
        limit = int(str(value).strip())
    except (TypeError, ValueError):
        limit = -1
    if not 1 <= limit <= MAX_OPEN_LIMIT:
        raise ValidationFailed({"max_open": Msg("Enter a whole number from 1 to {n}.", n=MAX_OPEN_LIMIT)})
    row = state_of(session, principal.tenant_id, user.id)
    row.max_open = limit
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.agent_limit_changed", principal.actor, target_type="user",
                 target_id=user.id, details={"max_open": limit})
    return row


def open_counts(session: Session, tenant_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Open conversations per assignee."""
    rows = session.execute(select(Conversation.assignee_id, func.count()).where(
        Conversation.tenant_id == tenant_id, Conversation.status == "open", Conversation.assignee_id.is_not(None))
        .group_by(Conversation.assignee_id)).all()
    return {assignee: count for assignee, count in rows}


# -- assigning ---------------------------------------------------------------------------------------
def _parse_id(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip()) if value not in (None, "") and len(str(value)) <= 64 else None
    except ValueError:
        return None


def _record(session: Session, actor: Actor, conversation: Conversation, old: tuple, how: str) -> None:
    audit.record(session, conversation.tenant_id, "inbox.conversation_assigned", actor, target_type="conversation",
                 target_id=conversation.id, subject_id=conversation.subject_id, purpose="U2",
                 details={"how": how, "from": str(old[0]) if old[0] else None,
                          "to": str(conversation.assignee_id) if conversation.assignee_id else None,
                          "team": str(conversation.team_id) if conversation.team_id else None})


def assign(session: Session, principal: Principal, conversation: Conversation, *, assignee: Any = "",
           team: Any = None) -> Conversation:
    """Give a conversation to a staff member ('me', a user id, or '' for nobody) and optionally a team.

    `team`: None keeps the team; '' removes it; a team id sets it.
    """
    errors: dict[str, str] = {}
    assignee_id: uuid.UUID | None = None
    if assignee == "me":
        assignee_id = principal.user_id
        if not principal.can(Perm.INBOX_REPLY):
            errors["assignee_id"] = NO_SUCH_AGENT
    elif assignee not in (None, ""):
        try:
            assignee_id = check_agent(session, principal.tenant_id, assignee).id
        except ValidationFailed as exc:
            errors.update(exc.errors)
    team_id = conversation.team_id
    if team is not None:
        team_id = None
        if team != "":
            parsed = _parse_id(team)
            found = session.get(Team, (principal.tenant_id, parsed)) if parsed is not None else None
            if found is None:
                errors["team_id"] = NO_SUCH_TEAM
            else:
                team_id = found.id
    if errors:
        raise ValidationFailed(errors)
    old = (conversation.assignee_id, conversation.team_id)
    if old == (assignee_id, team_id):
        return conversation
    conversation.assignee_id, conversation.team_id = assignee_id, team_id
    if assignee_id is not None:
        state_of(session, principal.tenant_id, assignee_id).last_assigned_at = utcnow()
    session.flush()
    _record(session, principal.actor, conversation, old, "manual")
    return conversation


def next_agent(session: Session, conversation: Conversation) -> uuid.UUID | None:
    """The agent whose turn it is for this conversation, or None when nobody available is under the limit."""
    tenant_id = conversation.tenant_id
    query = (select(AgentState).join(User, (User.tenant_id == AgentState.tenant_id) & (User.id == AgentState.user_id))
             .where(AgentState.tenant_id == tenant_id, AgentState.available.is_(True), User.status == "active",
                    User.role.in_(REPLY_ROLES)))
    if conversation.team_id is not None:
        query = query.where(AgentState.user_id.in_(select(TeamMember.user_id).where(
            TeamMember.tenant_id == tenant_id, TeamMember.team_id == conversation.team_id)))
    candidates = list(session.scalars(query))
    if not candidates:
        return None
    counts = open_counts(session, tenant_id)
    free = [s for s in candidates if counts.get(s.user_id, 0) < s.max_open]
    if not free:
        return None
    free.sort(key=lambda s: (s.last_assigned_at is not None, s.last_assigned_at or utcnow(), str(s.user_id)))
    return free[0].user_id


def auto_assign(session: Session, conversation: Conversation) -> uuid.UUID | None:
    """Hand an unassigned open conversation to the next available agent, when the business wants that."""
    if conversation.assignee_id is not None or conversation.status != "open":
        return None
    settings = settings_of(session, conversation.tenant_id, lock=True)
    if not settings.auto_assign:
        return None
    agent = next_agent(session, conversation)
    if agent is None:
        return None
    old = (conversation.assignee_id, conversation.team_id)
    conversation.assignee_id = agent
    state_of(session, conversation.tenant_id, agent).last_assigned_at = utcnow()
    session.flush()
    _record(session, Actor.system(), conversation, old, "auto")
    return agent


def after_inbound(session: Session, message: Message) -> None:
    """AFTER_INBOUND hook: a customer's message in an unassigned conversation may be handed out."""
    if message.direction != "in":
        return
    conversation = session.get(Conversation, (message.tenant_id, message.conversation_id))
    if conversation is not None:
        auto_assign(session, conversation)


def install() -> None:
    """Add the automatic-assignment hook to the inbound pipeline (once)."""
    from niaga.inbox import ingest

    if after_inbound not in ingest.AFTER_INBOUND:
        ingest.AFTER_INBOUND.append(after_inbound)


install()
