"""Staff pages for activities: "my tasks" (overdue first and marked), logging a note, call, meeting or task,
and ticking a task done."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.service_desk import activities, labels, lookup, service
from niaga.crm.service_desk.models import ACTIVITY_KINDS, Ticket
from niaga.crm.visibility import can_see
from niaga.db.base import utcnow
from niaga.identity.pages import safe_next
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import ValidationFailed
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
FIELDS = ("kind", "body", "due_at", "duration_minutes", "ticket_id", "deal_id", "owner_id")


def _back(target: str | None, fallback: str) -> str:
    """Where to go after saving: a local path given by the form, else the fallback."""
    return target if target and safe_next(target) == target else fallback


def _common(session: Session, p: Principal) -> dict[str, Any]:
    return {"labels": labels.all_labels(), "kinds": ACTIVITY_KINDS,
            "staff": lookup.staff_choices(session, p.tenant_id, Perm.CONTACTS_WRITE),
            "can_write": p.can(Perm.CONTACTS_WRITE)}


@router.get("/tasks")
def my_tasks(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_READ)),
             session: Session = Depends(db)) -> Response:
    """The signed-in staff member's open tasks (overdue ones marked) and recently done ones."""
    open_tasks, done = activities.my_tasks(session, p)
    now = utcnow()
    contacts = service.contacts_of(session, p.tenant_id, open_tasks + done)
    return render(request, "crm/service_desk/tasks.html", {
        **_common(session, p), "open_tasks": open_tasks, "done": done, "contacts": contacts,
        "overdue": {a.id for a in open_tasks if activities.is_overdue(a, now)},
    })


def _form_page(request: Request, session: Session, p: Principal, *, contact: Contact | None, ticket: Ticket | None,
               values: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Response:
    return render(request, "crm/service_desk/activity_new.html", {
        **_common(session, p), "contact": contact, "ticket": ticket, "values": values, "errors": errors,
    }, status_code=status_code)


@router.get("/activities/new")
def activity_new(request: Request, p: Principal = Depends(Require(Perm.CONTACTS_WRITE)),
                 session: Session = Depends(db)) -> Response:
    """Log a note, call or meeting, or add a task (`?contact_id=`, `?ticket_id=`, `?kind=` fill the form)."""
    query = request.query_params
    ticket = None
    ticket_id = lookup.parse_id(query.get("ticket_id"))
    if ticket_id is not None:
        found = session.get(Ticket, (p.tenant_id, ticket_id))
        ticket = found if found is not None and can_see(session, p, found) else None
    contact = lookup.visible_contact(session, p, ticket.contact_id if ticket else
                                     lookup.parse_id(query.get("contact_id")))
    kind = query.get("kind") if query.get("kind") in ACTIVITY_KINDS else "note"
    values = {"kind": kind, "owner_id": str(p.user_id), "next": safe_next(query.get("next") or "/tasks")}
    return _form_page(request, session, p, contact=contact, ticket=ticket, values=values, errors={})


@router.post("/activities")
def activity_create(request: Request, form: dict = Depends(form_data),
                    p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Save the activity and go back where the form came from."""
    errors: dict[str, str] = {}
    contact = lookup.resolve_contact(session, p, form.get("contact_id"), form.get("customer", ""), errors, "customer")
    data = {key: form.get(key, "") for key in FIELDS}
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            activities.create_activity(session, p, data, contact=contact)
    except ValidationFailed as exc:
        shown = {("customer" if k == "contact_id" else k): v for k, v in {**errors, **exc.errors}.items()}
        ticket_id = lookup.parse_id(form.get("ticket_id"))
        ticket = session.get(Ticket, (p.tenant_id, ticket_id)) if ticket_id else None
        ticket = ticket if ticket is not None and can_see(session, p, ticket) else None
        return _form_page(request, session, p, contact=contact if form.get("contact_id") else None, ticket=ticket,
                          values=form, errors=shown, status_code=422)
    return RedirectResponse(_with_saved(_back(form.get("next"), "/tasks")), status_code=303)


def _with_saved(path: str) -> str:
    base, _, fragment = path.partition("#")
    joined = f"{base}{'&' if '?' in base else '?'}saved=1"
    return f"{joined}#{fragment}" if fragment else joined


@router.post("/activities/{activity_id}/done")
def activity_done(activity_id: uuid.UUID, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.CONTACTS_WRITE)), session: Session = Depends(db)) -> Response:
    """Tick a task done (or open it again with done=0)."""
    activity = activities.get_activity(session, p, activity_id)
    activities.update_activity(session, p, activity, {"done": form.get("done", "1") != "0"})
    return RedirectResponse(_with_saved(_back(form.get("next"), "/tasks")), status_code=303)

