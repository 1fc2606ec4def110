"""Activities: notes, calls, meetings and tasks about a contact, optionally about a deal or a ticket.

The body is sealed under the contact's key. `owner_id` is whose activity it is (a task's assignee);
unless given, the team is the contact's team, so the people who look after the customer see it.
A task is done when `done_at` is set; "my tasks" lists the principal's open tasks, overdue first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.service_desk import lookup, sla_settings
from niaga.crm.service_desk.models import ACTIVITY_KINDS, Activity, Ticket
from niaga.crm.visibility import can_see, visible
from niaga.db.base import utcnow
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

MAX_BODY = 20_000
MAX_DURATION = 24 * 60
NO_SUCH_ACTIVITY = Msg("No such activity.")
KIND_MESSAGE = Msg("Choose note, call, meeting or task.")


def parse_local_time(value: Any, zone: str) -> datetime | None:
    """An aware UTC datetime from an ISO string or datetime; a time without offset is in the tenant's zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if len(text) > 40:
            raise ValueError("too long")
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc)


def _deal(session: Session, principal: Principal, contact: Contact, value: Any, errors: dict[str, str]
          ) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    from niaga.crm.sales.models import Deal  # the sales domain's table; only its id and links are read

    deal = session.get(Deal, (principal.tenant_id, lookup.parse_id(value))) if lookup.parse_id(value) else None
    same_customer = deal is not None and (
        deal.contact_id == contact.id or (deal.contact_id is None and deal.company_id is not None
                                          and deal.company_id == contact.company_id))
    if deal is None or not can_see(session, principal, deal) or not same_customer:
        errors["deal_id"] = Msg("Choose a deal of this customer.")
        return None
    return deal.id


def _ticket(session: Session, principal: Principal, contact: Contact, value: Any, errors: dict[str, str]
            ) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    parsed = lookup.parse_id(value)
    ticket = session.get(Ticket, (principal.tenant_id, parsed)) if parsed else None
    if ticket is None or not can_see(session, principal, ticket) or ticket.contact_id != contact.id:
        errors["ticket_id"] = Msg("Choose a ticket of this customer.")
        return None
    return ticket.id


def _body(value: Any, errors: dict[str, str], required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        errors["body"] = Msg("Write what happened or what needs doing.")
        return None
    body = value.strip().replace("\r\n", "\n")
    if len(body) > MAX_BODY:
        errors["body"] = Msg("Use at most {count} characters.", count=MAX_BODY)
    return body


def _due(session: Session, principal: Principal, value: Any, errors: dict[str, str]) -> datetime | None:
    try:
        return parse_local_time(value, sla_settings.tenant_zone(session, principal.tenant_id))
    except (ValueError, TypeError):
        errors["due_at"] = Msg("Enter a date and time such as 2026-11-23 14:30.")
        return None


def _duration(value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = -1
    if not 1 <= minutes <= MAX_DURATION:
        errors["duration_minutes"] = Msg("Enter minutes between 1 and {count}.", count=MAX_DURATION)
        return None
    return minutes


def _owner(session: Session, principal: Principal, value: Any, errors: dict[str, str]) -> uuid.UUID | None:
    user = lookup.staff_member(session, principal.tenant_id, value, Perm.CONTACTS_WRITE)
    if user is None:
        errors["owner_id"] = Msg("Choose a staff member of your business who works with customers.")
        return None
    return user.id


def create_activity(session: Session, principal: Principal, data: dict[str, Any], *,
                    contact: Contact | None = None, now: datetime | None = None) -> Activity:
    """Log a note, call or meeting, or add a task, for a visible contact."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    if contact is None:
        contact = lookup.visible_contact(session, principal, lookup.parse_id(data.get("contact_id")))
    if contact is None:
        errors["contact_id"] = lookup.NO_SUCH_CONTACT
    elif contact.subject is None or contact.subject.key_wrapped is None:
        errors["contact_id"] = Msg("This customer's data was erased; add nothing more about them.")
    kind = data.get("kind")
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = KIND_MESSAGE
    body = _body(data.get("body"), errors, required=True)
    due_at = _due(session, principal, data.get("due_at"), errors)
    duration = _duration(data.get("duration_minutes"), errors)
    owner_id = _owner(session, principal, data["owner_id"], errors) if data.get("owner_id") else principal.user_id
    team_id = None
    if data.get("team_id"):
        found = lookup.team(session, principal.tenant_id, data.get("team_id"))
        team_id = found.id if found else None
        if found is None:
            errors["team_id"] = Msg("Choose one of your business's teams.")
    deal_id = ticket_id = None
    if contact is not None and "contact_id" not in errors:
        deal_id = _deal(session, principal, contact, data.get("deal_id"), errors)
        ticket_id = _ticket(session, principal, contact, data.get("ticket_id"), errors)
        team_id = team_id or (contact.team_id if "team_id" not in data else None)
    if errors:
        raise ValidationFailed(errors)
    activity = Activity(tenant_id=principal.tenant_id, subject=contact.subject, kind=kind, contact_id=contact.id,
                        deal_id=deal_id, ticket_id=ticket_id, body=body, due_at=due_at, duration_minutes=duration,
                        owner_id=owner_id, team_id=team_id, created_by=principal.user_id, created_at=now,
                        updated_at=now)
    session.add(activity)
    session.flush()
    audit.record(session, principal.tenant_id, "activity.created", principal.actor, target_type="activity",
                 target_id=activity.id, subject_id=contact.subject_id, purpose="U1", details={"kind": kind})
    return activity


def get_activity(session: Session, principal: Principal, activity_id: uuid.UUID) -> Activity:
    """An activity the principal may see, else NotFound."""
    activity = session.get(Activity, (principal.tenant_id, activity_id))
    if activity is None or not can_see(session, principal, activity):
        raise NotFound(NO_SUCH_ACTIVITY)
    return activity


def update_activity(session: Session, principal: Principal, activity: Activity, data: dict[str, Any],
                    now: datetime | None = None) -> Activity:
    """Change the body, due time, duration, owner, or mark a task done / not done (only the keys given)."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if "body" in data:
        body = _body(data.get("body"), errors, required=True)
        if "body" not in errors:
            if activity.subject is None or activity.subject.key_wrapped is None:
                errors["body"] = Msg("This customer's data was erased; the text can no longer change.")
            elif body != activity.body:
                changes["body"] = body
    if "due_at" in data:
        due_at = _due(session, principal, data.get("due_at"), errors)
        if "due_at" not in errors and due_at != activity.due_at:
            changes["due_at"] = due_at
    if "duration_minutes" in data:
        duration = _duration(data.get("duration_minutes"), errors)
        if "duration_minutes" not in errors and duration != activity.duration_minutes:
            changes["duration_minutes"] = duration
    if "owner_id" in data:
        owner_id = _owner(session, principal, data.get("owner_id"), errors)
        if owner_id is not None and owner_id != activity.owner_id:
            changes["owner_id"] = owner_id
    if "done" in data:
        done = data.get("done")
        if not isinstance(done, bool):
            errors["done"] = Msg("Say true or false.")
        elif done != (activity.done_at is not None):
            changes["done_at"] = now if done else None
    if errors:
        raise ValidationFailed(errors)
    if changes:
        for key, value in changes.items():
            setattr(activity, key, value)
        activity.updated_at = now
        session.flush()
        fields = sorted("done" if key == "done_at" else key for key in changes)
        audit.record(session, principal.tenant_id, "activity.changed", principal.actor, target_type="activity",
                     target_id=activity.id, subject_id=activity.subject_id, purpose="U1",
                     details={"kind": activity.kind, "fields": fields})
    return activity


def delete_activity(session: Session, principal: Principal, activity: Activity) -> None:
    """Remove an activity."""
    session.delete(activity)
    session.flush()
    audit.record(session, principal.tenant_id, "activity.deleted", principal.actor, target_type="activity",
                 target_id=activity.id, subject_id=activity.subject_id, purpose="U1", details={"kind": activity.kind})


@dataclass
class ActivityFilter:
    """Which activities to list (ids only)."""

    contact_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    kind: str | None = None
    owner: str | None = None  # "me" or a user id
    open_only: bool = False  # tasks not done
    limit: int = 50


def list_activities(session: Session, principal: Principal, flt: ActivityFilter) -> list[Activity]:
    """Visible activities matching the filter, newest first (open tasks: soonest due first)."""
    query = select(Activity).where(visible(principal, Activity))
    if flt.contact_id:
        query = query.where(Activity.contact_id == flt.contact_id)
    if flt.ticket_id:
        query = query.where(Activity.ticket_id == flt.ticket_id)
    if flt.deal_id:
        query = query.where(Activity.deal_id == flt.deal_id)
    if flt.kind:
        query = query.where(Activity.kind == flt.kind)
    if flt.owner == "me":
        query = query.where(Activity.owner_id == principal.user_id)
    elif flt.owner:
        query = query.where(Activity.owner_id == lookup.parse_id(flt.owner))
    if flt.open_only:
        query = query.where(Activity.kind == "task", Activity.done_at.is_(None))
        query = query.order_by(Activity.due_at.is_(None), Activity.due_at, Activity.created_at)
    else:
        query = query.order_by(Activity.created_at.desc())
    return list(session.scalars(query.limit(flt.limit)))


def my_tasks(session: Session, principal: Principal, *, done_limit: int = 20) -> tuple[list[Activity], list[Activity]]:
    """The principal's open tasks (soonest due first, undated last) and their recently done ones."""
    open_tasks = list_activities(session, principal, ActivityFilter(kind="task", owner="me", open_only=True,
                                                                    limit=500))
    done = list(session.scalars(
        select(Activity).where(visible(principal, Activity), Activity.kind == "task",
                               Activity.owner_id == principal.user_id, Activity.done_at.is_not(None))
        .order_by(Activity.done_at.desc()).limit(done_limit)))
    return open_tasks, done


def is_overdue(activity: Activity, now: datetime | None = None) -> bool:
    """True for an open task whose due time has passed."""
    now = now or utcnow()
    return activity.kind == "task" and activity.done_at is None and activity.due_at is not None \
        and activity.due_at < now
