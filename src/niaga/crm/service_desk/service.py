"""Tickets: open, find, change, answer. The rules of the service desk live here; routes stay thin.

- A ticket belongs to a contact the principal may see; its subject and description are sealed under the
  contact's key. Numbers are per tenant from #1001.
- Status moves: new -> open | pending | resolved | closed; open -> pending | resolved | closed;
  pending -> open | resolved | closed; resolved -> open (reopen) | closed; closed is final.
- The first public reply by staff records the first response (and opens a new ticket); a customer's
  message on a pending or resolved ticket opens it again.
- SLA clocks follow every change (clocks.py); targets come from the policies (sla_settings.py).
Services never commit; they flush so that a refused change raises before anything is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.service_desk import clocks, lookup, sla_settings
from niaga.crm.service_desk.models import CHANNELS, PRIORITIES, STATUSES, Ticket, TicketComment, TicketEvent
from niaga.crm.visibility import can_see, visible
from niaga.db.base import utcnow
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

FIRST_NUMBER = 1001
MAX_TITLE = 200
MAX_TEXT = 20_000
PAGE_SIZE = 50
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "resolved", "closed"}),
    "open": frozenset({"pending", "resolved", "closed"}),
    "pending": frozenset({"open", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}
NO_SUCH_TICKET = Msg("No such ticket.")
ERASED = Msg("This customer's data was erased; the ticket's text can no longer change.")


# -- input checks ------------------------------------------------------------------------------------
def _text(data: dict[str, Any], key: str, limit: int, errors: dict[str, str], *, required: bool,
          one_line: bool) -> str | None:
    raw = data.get(key)
    if raw is None:
        if required:
            errors[key] = Msg("This field is required.")
        return None
    if not isinstance(raw, str):
        errors[key] = Msg("Enter text.")
        return None
    value = " ".join(raw.split()) if one_line else raw.strip().replace("\r\n", "\n")
    if required and not value:
        errors[key] = Msg("This field is required.")
    elif len(value) > limit:
        errors[key] = Msg("Use at most {count} characters.", count=limit)
    return value


def _assignee(session: Session, principal: Principal, value: Any, errors: dict[str, str]) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    user = lookup.staff_member(session, principal.tenant_id, value, Perm.TICKETS_WRITE)
    if user is None:
        errors["assignee_id"] = Msg("Choose a staff member of your business who handles tickets.")
        return None
    return user.id


def _team(session: Session, principal: Principal, value: Any, errors: dict[str, str]) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    found = lookup.team(session, principal.tenant_id, value)
    if found is None:
        errors["team_id"] = Msg("Choose one of your business's teams.")
        return None
    return found.id


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], message: Msg, errors: dict[str, str]
            ) -> str | None:
    value = data.get(key)
    if value not in allowed:
        errors[key] = message
        return None
    return value


PRIORITY_MESSAGE = Msg("Choose a priority: low, normal, high or urgent.")
CHANNEL_MESSAGE = Msg("Choose where the request came from.")
STATUS_MESSAGE = Msg("Choose a status: new, open, pending, resolved or closed.")


def _transition_problem(old: str, new: str) -> Msg | None:
    if new == old or new in TRANSITIONS[old]:
        return None
    if old == "closed":
        return Msg("A closed ticket cannot change. Open a new ticket instead.")
    if new == "new":
        return Msg("A ticket cannot go back to new.")
    return Msg("Reopen the ticket before setting it to pending.")


def _erased(contact_or_ticket: Any) -> bool:
    subject = contact_or_ticket.subject
    return subject is None or subject.key_wrapped is None


# -- numbers -----------------------------------------------------------------------------------------
def _next_number(session: Session, tenant_id: uuid.UUID) -> int:
    """The tenant's next ticket number; concurrent openers on PostgreSQL wait for each other."""
    if session.get_bind().dialect.name == "postgresql":
        # SQLite already serialises writers (BEGIN IMMEDIATE); PostgreSQL needs a per-tenant lock.
        key = int.from_bytes(tenant_id.bytes[:8], "big", signed=True) ^ 0x5449434B  # "TICK"
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    current = session.scalar(select(func.max(Ticket.number)).where(Ticket.tenant_id == tenant_id))
    return (current or FIRST_NUMBER - 1) + 1


# -- reading -----------------------------------------------------------------------------------------
def get_ticket(session: Session, principal: Principal, ticket_id: uuid.UUID) -> Ticket:
    """A ticket the principal may see, else NotFound (also for other tenants' tickets)."""
    ticket = session.get(Ticket, (principal.tenant_id, ticket_id))
    if ticket is None or not can_see(session, principal, ticket):
        raise NotFound(NO_SUCH_TICKET)
    return ticket


@dataclass
class TicketFilter:
    """What a ticket list shows; ids only (no personal values in URLs)."""

    status: str | None = None  # a status, or "active" for new + open + pending
    priority: str | None = None
    assignee: str | None = None  # a user id, "me" or "none"
    team_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    sla: str | None = None  # "at_risk" | "breached"
    before: int | None = None  # ticket number cursor (newest first)
    limit: int = PAGE_SIZE


def check_filter(values: dict[str, Any]) -> TicketFilter:
    """A filter from query parameters; unknown values are refused with a message."""
    errors: dict[str, str] = {}
    flt = TicketFilter()
    status = values.get("status") or None
    if status is not None and status not in (*STATUSES, "active"):
        errors["status"] = STATUS_MESSAGE
    flt.status = status
    priority = values.get("priority") or None
    if priority is not None and priority not in PRIORITIES:
        errors["priority"] = PRIORITY_MESSAGE
    flt.priority = priority
    assignee = values.get("assignee") or None
    if assignee is not None and assignee not in ("me", "none") and lookup.parse_id(assignee) is None:
        errors["assignee"] = Msg("Choose a staff member from the list.")
    flt.assignee = assignee
    for key in ("team_id", "contact_id"):
        raw = values.get(key) or None
        parsed = lookup.parse_id(raw) if raw else None
        if raw and parsed is None:
            errors[key] = Msg("Not a valid id.")
        setattr(flt, key, parsed)
    sla_value = values.get("sla") or None
    if sla_value is not None and sla_value not in ("at_risk", "breached"):
        errors["sla"] = Msg("Choose at risk or breached.")
    flt.sla = sla_value
    before = values.get("before")
    if before not in (None, ""):
        try:
            flt.before = int(before)
        except (TypeError, ValueError):
            errors["before"] = Msg("Not a valid ticket number.")
    limit = values.get("limit")
    if limit not in (None, ""):
        try:
            flt.limit = max(1, min(200, int(limit)))
        except (TypeError, ValueError):
            errors["limit"] = Msg("Not a valid number.")
    if errors:
        raise ValidationFailed(errors)
    return flt


def list_tickets(session: Session, principal: Principal, flt: TicketFilter, now: datetime | None = None
                 ) -> tuple[list[Ticket], bool]:
    """Visible tickets matching the filter, newest first; returns (page, more after it)."""
    now = now or utcnow()
    query = select(Ticket).where(visible(principal, Ticket))
    if flt.status == "active":
        query = query.where(Ticket.status.in_(("new", "open", "pending")))
    elif flt.status:
        query = query.where(Ticket.status == flt.status)
    if flt.priority:
        query = query.where(Ticket.priority == flt.priority)
    if flt.assignee == "me":
        query = query.where(Ticket.owner_id == principal.user_id)
    elif flt.assignee == "none":
        query = query.where(Ticket.owner_id.is_(None))
    elif flt.assignee:
        query = query.where(Ticket.owner_id == lookup.parse_id(flt.assignee))
    if flt.team_id:
        query = query.where(Ticket.team_id == flt.team_id)
    if flt.contact_id:
        query = query.where(Ticket.contact_id == flt.contact_id)
    if flt.sla == "breached":
        query = query.where(clocks.breached_clause(now))
    elif flt.sla == "at_risk":
        query = query.where(clocks.at_risk_clause(now))
    if flt.before is not None:
        query = query.where(Ticket.number < flt.before)
    rows = list(session.scalars(query.order_by(Ticket.number.desc()).limit(flt.limit + 1)))
    return rows[:flt.limit], len(rows) > flt.limit


def contacts_of(session: Session, tenant_id: uuid.UUID, tickets: list[Any]) -> dict[uuid.UUID, Contact]:
    """The contacts of some tickets (or activities), by id."""
    ids = {t.contact_id for t in tickets}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Contact).where(Contact.tenant_id == tenant_id,
                                                                   Contact.id.in_(ids)))}


def thread(session: Session, ticket: Ticket) -> list[TicketComment | TicketEvent]:
    """Comments and changes of a ticket, oldest first."""
    comments = session.scalars(select(TicketComment).where(TicketComment.tenant_id == ticket.tenant_id,
                                                           TicketComment.ticket_id == ticket.id))
    events = session.scalars(select(TicketEvent).where(TicketEvent.tenant_id == ticket.tenant_id,
                                                       TicketEvent.ticket_id == ticket.id))
    items: list[Any] = [*comments, *events]
    items.sort(key=lambda item: (getattr(item, "created_at", None) or item.at))
    return items


def comments(session: Session, ticket: Ticket) -> list[TicketComment]:
    """A ticket's comments, oldest first."""
    return list(session.scalars(select(TicketComment).where(TicketComment.tenant_id == ticket.tenant_id,
                                                            TicketComment.ticket_id == ticket.id)
                                .order_by(TicketComment.created_at)))


# -- writing -----------------------------------------------------------------------------------------
def create_ticket(session: Session, principal: Principal, data: dict[str, Any], *, contact: Contact | None = None,
                  now: datetime | None = None) -> Ticket:
    """Open a ticket for a visible contact.

    Unless told otherwise it is assigned to whoever opens it, and its team is the contact's team.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    if contact is None:
        contact = lookup.visible_contact(session, principal, lookup.parse_id(data.get("contact_id")))
        if contact is None:
            errors["contact_id"] = lookup.NO_SUCH_CONTACT
    if contact is not None and _erased(contact):
        errors["contact_id"] = Msg("This customer's data was erased; open no new tickets for them.")
    title = _text(data, "title", MAX_TITLE, errors, required=True, one_line=True)
    description = _text(data, "description", MAX_TEXT, errors, required=False, one_line=False)
    priority = _choice({"priority": data.get("priority") or "normal"}, "priority", PRIORITIES, PRIORITY_MESSAGE,
                       errors)
    channel = _choice({"channel": data.get("channel") or "manual"}, "channel", CHANNELS, CHANNEL_MESSAGE, errors)
    assignee = (_assignee(session, principal, data.get("assignee_id"), errors) if "assignee_id" in data
                else principal.user_id)
    team_id = _team(session, principal, data.get("team_id"), errors)
    if "team_id" not in data and contact is not None:
        team_id = contact.team_id  # the team that looks after the customer sees their tickets
    if errors:
        raise ValidationFailed(errors)
    cal = sla_settings.tenant_calendar(session, principal.tenant_id)
    ticket = Ticket(
        tenant_id=principal.tenant_id, subject=contact.subject,
        number=_next_number(session, principal.tenant_id), contact_id=contact.id, title=title,
        description=description or None, priority=priority, status="new", channel=channel, owner_id=assignee,
        team_id=team_id, created_by=principal.user_id, created_at=now, updated_at=now,
    )
    clocks.start_clocks(cal, ticket, sla_settings.targets_for(session, principal.tenant_id, contact.id, priority), now)
    session.add(ticket)
    session.flush()
    audit.record(session, principal.tenant_id, "ticket.created", principal.actor, target_type="ticket",
                 target_id=ticket.id, subject_id=contact.subject_id, purpose="U1",
                 details={"number": ticket.number, "priority": priority, "channel": channel})
    return ticket


def _event(session: Session, principal: Principal | None, ticket: Ticket, kind: str, old: Any, new: Any,
           at: datetime) -> None:
    session.add(TicketEvent(tenant_id=ticket.tenant_id, ticket_id=ticket.id, kind=kind,
                            actor_id=principal.user_id if principal else None,
                            old_value=None if old is None else str(old), new_value=None if new is None else str(new),
                            at=at))


def _apply_status(ticket: Ticket, new: str, at: datetime) -> None:
    old = ticket.status
    ticket.status = new
    if new == "resolved":
        ticket.resolved_at = at
    elif old == "resolved" and new == "open":
        ticket.resolved_at = None
    if new == "closed":
        ticket.closed_at = at


def update_ticket(session: Session, principal: Principal, ticket: Ticket, data: dict[str, Any],
                  now: datetime | None = None) -> Ticket:
    """Change status, priority, assignee, team, subject or description (only the keys given)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if "status" in data:
        status = _choice(data, "status", STATUSES, STATUS_MESSAGE, errors)
        if status is not None:
            problem = _transition_problem(ticket.status, status)
            if problem:
                errors["status"] = problem
            elif status != ticket.status:
                changes["status"] = status
    if ticket.status == "closed" and not errors and any(k in data for k in ("title", "description", "priority")):
        errors["status"] = Msg("A closed ticket cannot change. Open a new ticket instead.")
    if "priority" in data:
        priority = _choice(data, "priority", PRIORITIES, PRIORITY_MESSAGE, errors)
        if priority is not None and priority != ticket.priority:
            changes["priority"] = priority
    if "assignee_id" in data:
        assignee = _assignee(session, principal, data.get("assignee_id"), errors)
        if "assignee_id" not in errors and assignee != ticket.owner_id:
            changes["owner_id"] = assignee
    if "team_id" in data:
        team_id = _team(session, principal, data.get("team_id"), errors)
        if "team_id" not in errors and team_id != ticket.team_id:
            changes["team_id"] = team_id
    for key, limit, one_line in (("title", MAX_TITLE, True), ("description", MAX_TEXT, False)):
        if key in data:
            value = _text(data, key, limit, errors, required=key == "title", one_line=one_line)
            if key not in errors and value != getattr(ticket, key):
                changes[key] = value or None
    if ("title" in changes or "description" in changes) and _erased(ticket):
        errors["title"] = ERASED
    if errors:
        raise ValidationFailed(errors)
    if not changes:
        return ticket
    cal = sla_settings.tenant_calendar(session, principal.tenant_id)
    if "status" in changes:
        _event(session, principal, ticket, "status", ticket.status, changes["status"], now)
        _apply_status(ticket, changes["status"], now)
    if "priority" in changes:
        _event(session, principal, ticket, "priority", ticket.priority, changes["priority"], now)
        ticket.priority = changes["priority"]
        targets = sla_settings.targets_for(session, ticket.tenant_id, ticket.contact_id, ticket.priority)
        clocks.retarget_clocks(cal, ticket, targets, now)
    if "owner_id" in changes:
        _event(session, principal, ticket, "assignee", ticket.owner_id, changes["owner_id"], now)
        ticket.owner_id = changes["owner_id"]
    if "team_id" in changes:
        _event(session, principal, ticket, "team", ticket.team_id, changes["team_id"], now)
        ticket.team_id = changes["team_id"]
    for key in ("title", "description"):
        if key in changes:
            setattr(ticket, key, changes[key])
    clocks.sync_clocks(cal, ticket, now)
    ticket.updated_at = now
    session.flush()
    details: dict[str, Any] = {"fields": sorted(k if k != "owner_id" else "assignee_id" for k in changes)}
    if "status" in changes:
        details["status"] = changes["status"]
    audit.record(session, principal.tenant_id, "ticket.changed", principal.actor, target_type="ticket",
                 target_id=ticket.id, subject_id=ticket.subject_id, purpose="U1", details=details)
    return ticket


def add_comment(session: Session, principal: Principal, ticket: Ticket, data: dict[str, Any],
                now: datetime | None = None) -> TicketComment:
    """Reply to the customer (public), add an internal note, or log the customer's own message."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    body = _text(data, "body", MAX_TEXT, errors, required=True, one_line=False)
    from_customer = _flag(data.get("from_customer"), False)
    public = True if from_customer else _flag(data.get("public"), True)
    if errors:
        raise ValidationFailed(errors)
    if ticket.status == "closed":
        raise Conflict(Msg("This ticket is closed. Open a new ticket to continue the conversation."))
    if _erased(ticket):
        raise Conflict(ERASED)
    comment = TicketComment(tenant_id=ticket.tenant_id, subject_id=ticket.subject_id, ticket_id=ticket.id,
                            author_id=None if from_customer else principal.user_id,
                            author_kind="customer" if from_customer else "staff", public=public, body=body,
                            created_at=now)
    session.add(comment)
    cal = sla_settings.tenant_calendar(session, ticket.tenant_id)
    if from_customer:
        if ticket.status in ("pending", "resolved"):
            _event(session, principal, ticket, "status", ticket.status, "open", now)
            _apply_status(ticket, "open", now)
    elif public:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if ticket.status == "new":
            _event(session, principal, ticket, "status", "new", "open", now)
            _apply_status(ticket, "open", now)
    clocks.sync_clocks(cal, ticket, now)
    ticket.updated_at = now
    session.flush()
    action = "ticket.customer_message" if from_customer else ("ticket.replied" if public else "ticket.noted")
    audit.record(session, ticket.tenant_id, action, principal.actor, target_type="ticket", target_id=ticket.id,
                 subject_id=ticket.subject_id, purpose="U1", details={"comment": comment.id})
    return comment


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "on", "yes")
