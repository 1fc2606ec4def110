"""JSON API for the service desk: /api/v1/tickets, /api/v1/activities, /api/v1/sla/..."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from niaga.crm.service_desk import activities, clocks, lookup, reports, service, sla_settings
from niaga.crm.service_desk.models import Activity, Ticket
from niaga.crm.service_desk.schemas import (
    ActivityCreate, ActivityRead, ActivityUpdate, ClockRead, CommentCreate, CommentRead, ContactPolicyWrite,
    HolidayCreate, HolidayRead, HoursWrite, OpeningRead, PoliciesWrite, PolicyRead, SlaRead, SlaReportRead,
    SlaSettingsRead, TicketCreate, TicketPage, TicketRead, TicketSummary, TicketUpdate,
)
from niaga.db.base import utcnow
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)


def _id_query() -> object:
    """A fresh optional id query parameter (FastAPI parameters must not share one Query object)."""
    return Query(None, max_length=64)


# -- shaping -----------------------------------------------------------------------------------------
def _clock(view: clocks.ClockView) -> ClockRead:
    return ClockRead(state=view.state, target_minutes=view.target_minutes, used_minutes=view.used_minutes,
                     remaining_minutes=view.remaining_minutes, percent_used=view.percent_used, due_at=view.due_at,
                     at_risk=view.at_risk, breached=view.breached)


def _ticket(cal, ticket: Ticket, now: datetime, full: bool = True) -> TicketSummary:  # noqa: ANN001
    views = clocks.views(cal, ticket, now)
    fields = {name: getattr(ticket, name) for name in (TicketRead if full else TicketSummary).model_fields
              if name != "sla"}
    fields["sla"] = SlaRead(first_response=_clock(views["response"]), resolution=_clock(views["resolution"]))
    return (TicketRead if full else TicketSummary).model_validate(fields)


def _activity(activity: Activity, now: datetime) -> ActivityRead:
    read = ActivityRead.model_validate(activity)
    read.overdue = activities.is_overdue(activity, now)
    return read


def _data(body: Any) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


# -- tickets -----------------------------------------------------------------------------------------
@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    p: Principal = Depends(Require(Perm.TICKETS_READ)), session: Session = Depends(db),
    status: str | None = Query(None, max_length=20, description="A status, or 'active' (new, open, pending)."),
    priority: str | None = Query(None, max_length=20), assignee: str | None = Query(None, max_length=64,
                                                                                     description="A user id, 'me' or 'none'."),
    team_id: str | None = _id_query(), contact_id: str | None = _id_query(),
    sla: str | None = Query(None, max_length=20, description="'at_risk' or 'breached'."),
    before: str | None = Query(None, max_length=12, description="Ticket number to continue before."),
    limit: str | None = Query(None, max_length=4),
) -> TicketPage:
    """Tickets the caller may see, newest first."""
    flt = service.check_filter({"status": status, "priority": priority, "assignee": assignee, "team_id": team_id,
                                "contact_id": contact_id, "sla": sla, "before": before, "limit": limit})
    now = utcnow()
    rows, more = service.list_tickets(session, p, flt, now)
    cal = sla_settings.tenant_calendar(session, p.tenant_id)
    return TicketPage(items=[_ticket(cal, t, now, full=False) for t in rows],
                      next_cursor=str(rows[-1].number) if more else None)


@router.post("/tickets", response_model=TicketRead, status_code=201)
def create_ticket(body: TicketCreate, p: Principal = Depends(Require(Perm.TICKETS_WRITE)),
                  session: Session = Depends(db)) -> TicketSummary:
    """Open a ticket for a contact."""
    ticket = service.create_ticket(session, p, _data(body) | {"contact_id": body.contact_id})
    return _ticket(sla_settings.tenant_calendar(session, p.tenant_id), ticket, utcnow())


@router.get("/tickets/{ticket_id}", response_model=TicketRead)
def read_ticket(ticket_id: uuid.UUID, p: Principal = Depends(Require(Perm.TICKETS_READ)),
                session: Session = Depends(db)) -> TicketSummary:
    """One ticket with its SLA clocks."""
    ticket = service.get_ticket(session, p, ticket_id)
    return _ticket(sla_settings.tenant_calendar(session, p.tenant_id), ticket, utcnow())


@router.patch("/tickets/{ticket_id}", response_model=TicketRead)
def update_ticket(ticket_id: uuid.UUID, body: TicketUpdate, p: Principal = Depends(Require(Perm.TICKETS_WRITE)),
                  session: Session = Depends(db)) -> TicketSummary:
    """Change a ticket's status, priority, assignee, team or text."""
    data = _data(body)
    if not data:
        raise ValidationFailed({"body": Msg("Give at least one field to change.")})
    ticket = service.update_ticket(session, p, service.get_ticket(session, p, ticket_id), data)
    return _ticket(sla_settings.tenant_calendar(session, p.tenant_id), ticket, utcnow())


@router.get("/tickets/{ticket_id}/comments", response_model=list[CommentRead])
def list_comments(ticket_id: uuid.UUID, p: Principal = Depends(Require(Perm.TICKETS_READ)),
                  session: Session = Depends(db)) -> list:
    """The ticket's replies, notes and customer messages, oldest first."""
    return service.comments(session, service.get_ticket(session, p, ticket_id))


@router.post("/tickets/{ticket_id}/comments", response_model=CommentRead, status_code=201)
def add_comment(ticket_id: uuid.UUID, body: CommentCreate, p: Principal = Depends(Require(Perm.TICKETS_WRITE)),
                session: Session = Depends(db)) -> object:
    """Reply to the customer, add an internal note, or log the customer's message."""
    return service.add_comment(session, p, service.get_ticket(session, p, ticket_id), _data(body))


# -- activities --------------------------------------------------------------------------------------
@router.get("/activities", response_model=list[ActivityRead])
def list_activities(
    p: Principal = Depends(Require(Perm.CONTACTS_READ)), session: Session = Depends(db),
    contact_id: str | None = _id_query(), ticket_id: str | None = _id_query(),
    deal_id: str | None = _id_query(),
    kind: str | None = Query(None, max_length=20), owner: str | None = Query(None, max_length=64),
    open: bool = Query(False, description="Only tasks not done yet, soonest due first."),  # noqa: A002
    limit: int = Query(50, ge=1, le=200),
) -> list[ActivityRead]:
    """Activities the caller may see, newest first (or open tasks, soonest due first)."""
    errors: dict[str, str] = {}
    flt = activities.ActivityFilter(kind=kind, owner=owner, open_only=open, limit=limit)
    for key, raw in (("contact_id", contact_id), ("ticket_id", ticket_id), ("deal_id", deal_id)):
        if raw:
            parsed = lookup.parse_id(raw)
            if parsed is None:
                errors[key] = Msg("Not a valid id.")
            setattr(flt, key, parsed)
    if kind is not None and kind not in activities.ACTIVITY_KINDS:
        errors["kind"] = activities.KIND_MESSAGE
    if owner not in (None, "me") and lookup.parse_id(owner) is None:
        errors["owner"] = Msg("Give a staff member's id or 'me'.")
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    return [_activity(a, now) for a in activities.list_activities(session, p, flt)]


@router.post("/activities", response_model=ActivityRead, status_code=201)
def create_activity(body: ActivityCreate, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                    session: Session = Depends(db)) -> ActivityRead:
    """Log a note, call or meeting, or add a task."""
    return _activity(activities.create_activity(session, p, _data(body)), utcnow())


@router.get("/activities/{activity_id}", response_model=ActivityRead)
def read_activity(activity_id: uuid.UUID, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
                  session: Session = Depends(db)) -> ActivityRead:
    """One activity."""
    return _activity(activities.get_activity(session, p, activity_id), utcnow())


@router.patch("/activities/{activity_id}", response_model=ActivityRead)
def update_activity(activity_id: uuid.UUID, body: ActivityUpdate,
                    p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)
                    ) -> ActivityRead:
    """Change an activity, or mark a task done."""
    data = _data(body)
    if not data:
        raise ValidationFailed({"body": Msg("Give at least one field to change.")})
    activity = activities.update_activity(session, p, activities.get_activity(session, p, activity_id), data)
    return _activity(activity, utcnow())


@router.delete("/activities/{activity_id}", status_code=204)
def delete_activity(activity_id: uuid.UUID, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                    session: Session = Depends(db)) -> Response:
    """Remove an activity."""
    activities.delete_activity(session, p, activities.get_activity(session, p, activity_id))
    return Response(status_code=204)


# -- SLA ---------------------------------------------------------------------------------------------
def _settings(session: Session, tenant_id: uuid.UUID) -> SlaSettingsRead:
    week = sla_settings.week(session, tenant_id)
    defaults = list(sla_settings.default_policies(session, tenant_id).values())
    return SlaSettingsRead(
        timezone=sla_settings.tenant_zone(session, tenant_id),
        hours=[OpeningRead(weekday=d, opens=sla_settings.format_clock(o), closes=sla_settings.format_clock(c))
               for d, (o, c) in sorted(week.items())],
        holidays=[HolidayRead.model_validate(h) for h in sla_settings.list_holidays(session, tenant_id)],
        policies=[PolicyRead.model_validate(r) for r in defaults + sla_settings.contact_policies(session, tenant_id)],
    )


@router.get("/sla/settings", response_model=SlaSettingsRead)
def read_sla_settings(p: Principal = Depends(Require(Perm.TICKETS_READ)), session: Session = Depends(db)
                      ) -> SlaSettingsRead:
    """Business hours, holidays, time zone and targets."""
    return _settings(session, p.tenant_id)


@router.put("/sla/business-hours", response_model=SlaSettingsRead)
def save_business_hours(body: HoursWrite, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                        session: Session = Depends(db)) -> SlaSettingsRead:
    """Replace the weekly opening hours (weekdays not listed are closed)."""
    days: dict[int, tuple[str, str] | None] = {}
    for opening in body.hours:
        if opening.weekday in days:
            raise ValidationFailed({"hours": Msg("Give each weekday once.")})
        days[opening.weekday] = (opening.opens, opening.closes)
    sla_settings.save_week(session, p, days)
    return _settings(session, p.tenant_id)


@router.post("/sla/holidays", response_model=HolidayRead, status_code=201)
def add_holiday(body: HolidayCreate, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                session: Session = Depends(db)) -> object:
    """Close on a date (the SLA clock does not count it)."""
    return sla_settings.add_holiday(session, p, body.day, body.name)


@router.delete("/sla/holidays/{holiday_id}", status_code=204)
def remove_holiday(holiday_id: uuid.UUID, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                   session: Session = Depends(db)) -> Response:
    """Open again on a former holiday."""
    sla_settings.remove_holiday(session, p, holiday_id)
    return Response(status_code=204)


@router.put("/sla/policies", response_model=SlaSettingsRead)
def save_policies(body: PoliciesWrite, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                  session: Session = Depends(db)) -> SlaSettingsRead:
    """Set the default targets of the priorities given."""
    sla_settings.save_default_policies(session, p, {
        priority: (t.first_response_minutes, t.resolution_minutes) for priority, t in body.policies.items()})
    return _settings(session, p.tenant_id)


@router.post("/sla/contact-policies", response_model=PolicyRead, status_code=201)
def save_contact_policy(body: ContactPolicyWrite, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                        session: Session = Depends(db)) -> object:
    """Give one contact its own targets for a priority."""
    contact = lookup.visible_contact(session, p, body.contact_id)
    if contact is None:
        raise ValidationFailed({"contact_id": lookup.NO_SUCH_CONTACT})
    return sla_settings.save_contact_policy(session, p, contact, body.priority, body.first_response_minutes,
                                            body.resolution_minutes)


@router.delete("/sla/policies/{policy_id}", status_code=204)
def remove_policy(policy_id: uuid.UUID, p: Principal = Depends(Require(Perm.SLA_MANAGE)),
                  session: Session = Depends(db)) -> Response:
    """Delete a contact's override or a priority's default targets."""
    sla_settings.remove_policy(session, p, policy_id)
    return Response(status_code=204)


@router.get("/sla/report", response_model=SlaReportRead)
def sla_report(p: Principal = Depends(Require(Perm.TICKETS_READ)), session: Session = Depends(db),
               since: str | None = Query(None, max_length=10, description="First local date, YYYY-MM-DD."),
               until: str | None = Query(None, max_length=10, description="Last local date, YYYY-MM-DD.")
               ) -> object:
    """Tickets met and breached per priority and per agent, with the median first response."""
    zone_today = sla_settings.tenant_calendar(session, p.tenant_id).local_date(utcnow())
    start, end = reports.period(since, until, zone_today)
    return reports.sla_report(session, p, start, end)
