"""What the service desk plugs into the rest of the CRM: timeline sources and merge references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.service_desk.models import Activity, Ticket
from niaga.crm.timeline import TimelineItem, register_source
from niaga.crm.visibility import visible
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.messages import Msg

def ticket_items(session: Session, principal: Principal, contact: Any, limit: int) -> Iterator[TimelineItem]:
    """The contact's tickets the principal may see."""
    if not principal.can(Perm.TICKETS_READ):
        return
    query = (select(Ticket).where(visible(principal, Ticket), Ticket.contact_id == contact.id)
             .order_by(Ticket.created_at.desc()).limit(limit))
    for ticket in session.scalars(query):
        yield TimelineItem(at=ticket.created_at, kind="ticket", title=Msg("Ticket #{number}", number=ticket.number),
                           detail=ticket.title, link=f"/tickets/{ticket.id}")


def activity_items(session: Session, principal: Principal, contact: Any, limit: int) -> Iterator[TimelineItem]:
    """The contact's notes, calls, meetings and tasks the principal may see."""
    if not principal.can(Perm.CONTACTS_READ):
        return
    query = (select(Activity).where(visible(principal, Activity), Activity.contact_id == contact.id)
             .order_by(Activity.created_at.desc()).limit(limit))
    for activity in session.scalars(query):
        link = f"/tickets/{activity.ticket_id}" if activity.ticket_id else None
        yield TimelineItem(at=activity.created_at, kind=activity.kind, title=_activity_title(activity.kind),
                           detail=activity.body, link=link)


def _activity_title(kind: str) -> Msg:
    return {"note": Msg("Note"), "call": Msg("Call"), "meeting": Msg("Meeting"), "task": Msg("Task")}[kind]


def install() -> None:
    """Register the timeline sources and the contact references (idempotent)."""
    register_source("tickets", ticket_items)
    register_source("activities", activity_items)
    try:
        from niaga.crm.contacts.merge import register_contact_reference
    except ImportError:  # the contacts merge is not part of this build
        return
    # Tickets and activities follow the person when contacts merge. SLA overrides do not: the kept contact's
    # own targets stay in force (two overrides for one priority could not both be kept).
    register_contact_reference(Ticket)
    register_contact_reference(Activity)
