"""Staff pages for tickets: list with filters, new ticket, the ticket's thread with reply and status changes,
and the SLA report. Activity and SLA-settings pages are in their own modules, included here.

Filters in URLs are ids and fixed words only; a customer is named in a form (POST), never in a URL.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.service_desk import activities, clocks, labels, lookup, reports, service, sla_settings
from niaga.crm.service_desk.activity_pages import router as activity_router
from niaga.crm.service_desk.models import CHANNELS, PRIORITIES, Ticket, TicketEvent
from niaga.crm.service_desk.settings_pages import router as settings_router
from niaga.crm.visibility import can_see
from niaga.db.base import utcnow
from niaga.identity.models import Team, User
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
router.include_router(activity_router)
router.include_router(settings_router)
FILTER_KEYS = ("status", "priority", "assignee", "team_id", "contact_id", "sla")


def people(session: Session, tenant_id: uuid.UUID, ids: set[Any]) -> dict[uuid.UUID, User]:
    """Staff members by id (for names)."""
    wanted = {i for i in ids if isinstance(i, uuid.UUID)}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.tenant_id == tenant_id, User.id.in_(wanted)))}


def teams_by_id(session: Session, tenant_id: uuid.UUID) -> dict[uuid.UUID, Team]:
    """The tenant's teams by id."""
    return {t.id: t for t in lookup.team_choices(session, tenant_id)}


def base_context(session: Session, p: Principal) -> dict[str, Any]:
    """What every service-desk page uses: labels and the choices for pickers."""
    return {"labels": labels.all_labels(), "priorities": PRIORITIES, "channels": CHANNELS,
            "staff": lookup.staff_choices(session, p.tenant_id, Perm.TICKETS_WRITE),
            "teams": lookup.team_choices(session, p.tenant_id), "can_write": p.can(Perm.TICKETS_WRITE)}


# -- list --------------------------------------------------------------------------------------------
@router.get("/tickets")
def ticket_list(request: Request, p: Principal = Depends(Require(Perm.TICKETS_READ)),
                session: Session = Depends(db)) -> Response:
    """Tickets the staff member may see; active ones unless another status is chosen."""
    query = request.query_params
    values = {key: query.get(key) for key in FILTER_KEYS}
    values["before"] = query.get("before")
    if values["status"] is None:
        values["status"] = "active"
    chosen_status = values["status"]
    if chosen_status == "all":
        values["status"] = None
    flt = service.check_filter(values)
    now = utcnow()
    rows, more = service.list_tickets(session, p, flt, now)
    cal = sla_settings.tenant_calendar(session, p.tenant_id)
    contacts = service.contacts_of(session, p.tenant_id, rows)
    assignees = people(session, p.tenant_id, {t.owner_id for t in rows})
    current = {k: v for k, v in {**values, "status": chosen_status}.items() if v and k != "before"}
    next_url = f"/tickets?{urlencode({**current, 'before': rows[-1].number})}" if more else None
    return render(request, "crm/service_desk/tickets.html", {
        **base_context(session, p), "rows": [(t, contacts.get(t.contact_id), assignees.get(t.owner_id),
                                              clocks.views(cal, t, now)) for t in rows],
        "flt": current, "next_url": next_url,
    })


# -- new ticket --------------------------------------------------------------------------------------
def _new_page(request: Request, session: Session, p: Principal, contact: Contact | None, values: dict,
              errors: dict, status_code: int = 200) -> Response:
    return render(request, "crm/service_desk/ticket_new.html", {
        **base_context(session, p), "contact": contact, "values": values, "errors": errors,
    }, status_code=status_code)


@router.get("/tickets/new")
def ticket_new(request: Request, p: Principal = Depends(Require(Perm.TICKETS_WRITE)),
               session: Session = Depends(db)) -> Response:
    """The form for a new ticket (from a contact's page: `?contact_id=`)."""
    contact = lookup.visible_contact(session, p, lookup.parse_id(request.query_params.get("contact_id")))
    values = {"priority": "normal", "channel": "manual", "assignee_id": str(p.user_id)}
    return _new_page(request, session, p, contact, values, {})


@router.post("/tickets")
def ticket_create(request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.TICKETS_WRITE)), session: Session = Depends(db)) -> Response:
    """Open the ticket, then show it."""
    errors: dict[str, str] = {}
    contact = lookup.resolve_contact(session, p, form.get("contact_id"), form.get("customer", ""), errors, "customer")
    data = {key: form.get(key, "") for key in ("title", "description", "priority", "channel", "assignee_id")}
    if form.get("team_id"):
        data["team_id"] = form["team_id"]
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            ticket = service.create_ticket(session, p, data, contact=contact)
    except ValidationFailed as exc:
        shown = {("customer" if k == "contact_id" else k): v for k, v in {**errors, **exc.errors}.items()}
        return _new_page(request, session, p, contact if form.get("contact_id") else None, form, shown, 422)
    if not can_see(session, p, ticket):  # handed to someone outside the opener's teams
        return RedirectResponse("/tickets?saved=1", status_code=303)
    return RedirectResponse(f"/tickets/{ticket.id}?saved=1", status_code=303)


# -- one ticket --------------------------------------------------------------------------------------
def _thread(session: Session, p: Principal, ticket: Ticket) -> tuple[list[Any], dict[uuid.UUID, User]]:
    items = service.thread(session, ticket)
    ids: set[Any] = {ticket.owner_id, ticket.created_by}
    for item in items:
        ids.add(getattr(item, "author_id", None) or getattr(item, "actor_id", None))
        if isinstance(item, TicketEvent) and item.kind == "assignee":
            ids |= {lookup.parse_id(item.old_value), lookup.parse_id(item.new_value)}
    return items, people(session, p.tenant_id, ids)


def _detail(request: Request, session: Session, p: Principal, ticket: Ticket, *, errors: dict | None = None,
            values: dict | None = None, status_code: int = 200) -> Response:
    now = utcnow()
    cal = sla_settings.tenant_calendar(session, p.tenant_id)
    items, names = _thread(session, p, ticket)
    linked = activities.list_activities(session, p, activities.ActivityFilter(ticket_id=ticket.id, limit=100))
    actions = [s for s in service.TRANSITIONS[ticket.status] if s != ticket.status]
    return render(request, "crm/service_desk/ticket.html", {
        **base_context(session, p), "ticket": ticket, "contact": session.get(Contact, (p.tenant_id, ticket.contact_id)),
        "items": items, "names": {str(k): v for k, v in names.items()},
        "team_names": {str(k): v.name for k, v in teams_by_id(session, p.tenant_id).items()},
        "views": clocks.views(cal, ticket, now), "actions": actions, "linked": linked,
        "is_overdue": lambda a: activities.is_overdue(a, now), "can_log": p.can(Perm.CONTACTS_WRITE),
        "errors": errors or {}, "values": values or {"kind": "reply"},
    }, status_code=status_code)


@router.get("/tickets/{ticket_id}")
def ticket_page(ticket_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.TICKETS_READ)),
                session: Session = Depends(db)) -> Response:
    """The ticket: its thread, the SLA clocks in the business's time zone, reply and status changes."""
    return _detail(request, session, p, service.get_ticket(session, p, ticket_id))


def _after_change(session: Session, p: Principal, ticket: Ticket) -> Response:
    if not can_see(session, p, ticket):
        return RedirectResponse("/tickets?saved=1", status_code=303)
    return RedirectResponse(f"/tickets/{ticket.id}?saved=1", status_code=303)


@router.post("/tickets/{ticket_id}")
def ticket_update(ticket_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.TICKETS_WRITE)), session: Session = Depends(db)) -> Response:
    """Change the status (the action buttons) or the priority, assignee and team (the properties form)."""
    ticket = service.get_ticket(session, p, ticket_id)
    data = {key: form[key] for key in ("status", "priority", "assignee_id", "team_id") if key in form}
    try:
        if not data:
            raise ValidationFailed({"status": service.STATUS_MESSAGE})
        with session.begin_nested():
            service.update_ticket(session, p, ticket, data)
    except ValidationFailed as exc:
        session.refresh(ticket)
        return _detail(request, session, p, ticket, errors=exc.errors, status_code=422)
    return _after_change(session, p, ticket)


@router.post("/tickets/{ticket_id}/comments")
def ticket_comment(ticket_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                   p: Principal = Depends(Require(Perm.TICKETS_WRITE)), session: Session = Depends(db)) -> Response:
    """Reply to the customer, add an internal note or log the customer's message; optionally change the status."""
    ticket = service.get_ticket(session, p, ticket_id)
    kind = form.get("kind", "reply")
    data = {"body": form.get("body", ""), "public": kind != "note", "from_customer": kind == "customer"}
    then = form.get("then_status", "")
    try:
        if kind not in labels.COMMENT_KIND:
            raise ValidationFailed({"kind": labels.COMMENT_KIND["reply"]})
        with session.begin_nested():
            service.add_comment(session, p, ticket, data)
            if then:
                service.update_ticket(session, p, ticket, {"status": then})
    except DomainError as exc:
        session.refresh(ticket)
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"body": exc.message}
        if "status" in errors:
            errors = {"then_status": errors["status"]}
        return _detail(request, session, p, ticket, errors=errors, values=form, status_code=exc.status)
    return _after_change(session, p, ticket)


# -- report ------------------------------------------------------------------------------------------
@router.get("/sla/report")
def sla_report_page(request: Request, p: Principal = Depends(Require(Perm.TICKETS_READ)),
                    session: Session = Depends(db)) -> Response:
    """Tickets met and breached per priority and per agent for a period (last 30 days by default)."""
    cal = sla_settings.tenant_calendar(session, p.tenant_id)
    today = cal.local_date(utcnow())
    since, until = request.query_params.get("since", ""), request.query_params.get("until", "")
    try:
        start, end = reports.period(since[:10], until[:10], today)
    except ValidationFailed as exc:
        start, end = reports.period(None, None, today)
        report = reports.sla_report(session, p, start, end)
        return render(request, "crm/service_desk/report.html", {
            **base_context(session, p), "report": report, "errors": exc.errors,
            "values": {"since": since[:10], "until": until[:10]}, "names": {}}, status_code=422)
    report = reports.sla_report(session, p, start, end)
    names = people(session, p.tenant_id, {lookup.parse_id(r.key) for r in report.by_agent})
    return render(request, "crm/service_desk/report.html", {
        **base_context(session, p), "report": report, "errors": {},
        "values": {"since": start.isoformat(), "until": end.isoformat()},
        "names": {u.id.hex: u.full_name for u in names.values()},
    })

