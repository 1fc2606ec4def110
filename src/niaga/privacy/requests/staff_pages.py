"""Staff pages of data-subject requests: the queue with time left, a request with its trail, logging a request
that came another way, assigning, notes, and the decision."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.models import User
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy.requests import fulfil, notices, service, staff
from niaga.privacy.requests.models import DenialGround, PrivacyRequest, RequestChannel, RequestKind
from niaga.privacy.requests.public_pages import mailer
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
READ = Require(Perm.PRIVACY_REQUESTS_READ)
HANDLE = Require(Perm.PRIVACY_REQUESTS_HANDLE)
UNTOLD = {"no-email": "told-no-email", "mail-failed": "told-failed", "erased": "told-erased"}


def labels() -> dict[str, Any]:
    """Label maps every request page uses."""
    return {"kind_labels": notices.KIND_LABELS, "status_labels": notices.STATUS_LABELS,
            "channel_labels": notices.CHANNEL_LABELS, "ground_labels": notices.GROUND_LABELS,
            "event_labels": notices.EVENT_LABELS}


def _people(session: Session, tenant_id: uuid.UUID, ids: set[Any]) -> dict[uuid.UUID, User]:
    wanted = {i for i in ids if isinstance(i, uuid.UUID)}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.tenant_id == tenant_id, User.id.in_(wanted)))}


def _contacts(session: Session, tenant_id: uuid.UUID, ids: set[Any]) -> dict[uuid.UUID, Contact]:
    wanted = {i for i in ids if isinstance(i, uuid.UUID)}
    if not wanted:
        return {}
    rows = session.scalars(select(Contact).where(Contact.tenant_id == tenant_id, Contact.id.in_(wanted)))
    return {c.id: c for c in rows}


@router.get("/privacy/requests")
def queue(request: Request, status: str = "active", p: Principal = Depends(READ),
          session: Session = Depends(db)) -> Response:
    """The queue: active requests by deadline, with hours left and overdue ones marked."""
    status = status if status in staff.STATUS_FILTERS else "active"
    rows = staff.list_requests(session, p, status)
    now = utcnow()
    contacts = _contacts(session, p.tenant_id, {r.contact_id for r in rows})
    people = _people(session, p.tenant_id, {r.handler_id for r in rows})
    items = [(r, contacts.get(r.contact_id), people.get(r.handler_id), staff.clock(r, now)) for r in rows]
    return render(request, "privacy_requests/queue.html", {
        **labels(), "items": items, "status": status, "filters": staff.STATUS_FILTERS,
        "can_handle": p.can(Perm.PRIVACY_REQUESTS_HANDLE)})


def _log_context(session: Session, p: Principal, values: dict, errors: dict) -> dict[str, Any]:
    contact = None
    raw = values.get("contact_id")
    if raw:
        try:
            contact = session.get(Contact, (p.tenant_id, uuid.UUID(str(raw))))
        except ValueError:
            contact = None
    return {**labels(), "values": values, "errors": errors, "contact": contact,
            "kinds": [k.value for k in RequestKind],
            "channels": [c.value for c in RequestChannel if c is not RequestChannel.PRIVACY_CENTER]}


@router.get("/privacy/requests/new")
def log_form(request: Request, contact_id: str | None = None, p: Principal = Depends(HANDLE),
             session: Session = Depends(db)) -> Response:
    """Log a request that came by email, WhatsApp, letter, phone or in person."""
    values = {"contact_id": (contact_id or "")[:64], "channel": "email", "kind": "access"}
    return render(request, "privacy_requests/new.html", _log_context(session, p, values, {}))


def _received_at(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw[:32])
    except ValueError:
        raise ValidationFailed({"received_at": Msg("Give the date as YYYY-MM-DD.")}) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.post("/privacy/requests/new")
def log_submit(request: Request, form: dict = Depends(form_data), p: Principal = Depends(HANDLE),
               session: Session = Depends(db)) -> Response:
    """Record the request (the clock starts now: identity confirmed by staff) and tell the person."""
    values = {k: form.get(k, "") for k in ("contact_id", "customer", "kind", "channel", "details", "received_at",
                                           "identity_verified")}
    contact_id: Any = values["contact_id"] or None
    try:
        if contact_id is None and values["customer"].strip():
            cleaned = service.clean_address(values["customer"])
            found = service.find_contact(session, p.tenant_id, *cleaned) if cleaned else None
            contact_id = found.id if found else None
        with session.begin_nested():
            logged = staff.log_request(
                session, p, contact_id=contact_id, kind=values["kind"], channel=values["channel"],
                details=values["details"], identity_verified=values["identity_verified"] == "on", language=None,
                mailer=mailer(request), received_at=_received_at(values["received_at"]))
    except ValidationFailed as exc:
        errors = dict(exc.errors)
        if "contact_id" in errors and not values["contact_id"]:
            errors["customer"] = errors.pop("contact_id")
        return render(request, "privacy_requests/new.html", _log_context(session, p, values, errors), status_code=422)
    told = "told" if logged.told else "told-no-email"
    return RedirectResponse(f"/privacy/requests/{logged.request.id}?done=logged&{told}=1", status_code=303)


def _detail(request: Request, session: Session, p: Principal, req: PrivacyRequest, *, errors: dict | None = None,
            status_code: int = 200) -> Response:
    events = staff.trail(session, req)
    people = _people(session, p.tenant_id, {e.actor_id for e in events} | {req.handler_id, req.logged_by_id})
    contact = session.get(Contact, (p.tenant_id, req.contact_id)) if req.contact_id else None
    return render(request, "privacy_requests/detail.html", {
        **labels(), "req": req, "events": events, "people": people, "contact": contact,
        "clock": staff.clock(req, utcnow()), "handlers": staff.handlers(session, p.tenant_id),
        "grounds": [g.value for g in DenialGround], "errors": errors or {},
        "correctable": fulfil.correctable_fields(), "can_handle": p.can(Perm.PRIVACY_REQUESTS_HANDLE),
        "active": req.status in ("open", "in_progress")}, status_code=status_code)


@router.get("/privacy/requests/{request_id}")
def detail(request_id: str, request: Request, p: Principal = Depends(READ), session: Session = Depends(db)) -> Response:
    """One request: facts, time left, the trail, and (for handlers) the actions."""
    return _detail(request, session, p, staff.view_request(session, p, request_id))


def _act(request: Request, session: Session, p: Principal, request_id: str, action: Any) -> Response:
    req = staff.get_request(session, p, request_id)
    try:
        with session.begin_nested():
            result = action(req)
    except ValidationFailed as exc:
        session.refresh(req)
        return _detail(request, session, p, req, errors=exc.errors, status_code=422)
    except DomainError as exc:
        session.refresh(req)
        return _detail(request, session, p, req, errors={"form": exc.message}, status_code=exc.status)
    query = ""
    if isinstance(result, staff.Decision):
        query = "?done=decided" + ("&told=1" if result.told else f"&{UNTOLD.get(result.reason_untold, 'told-no-email')}=1")
    return RedirectResponse(f"/privacy/requests/{req.id}{query or '?saved=1'}", status_code=303)


@router.post("/privacy/requests/{request_id}/assign")
def assign(request_id: str, request: Request, form: dict = Depends(form_data), p: Principal = Depends(HANDLE),
           session: Session = Depends(db)) -> Response:
    """Give the request to a handler."""
    return _act(request, session, p, request_id, lambda req: staff.assign(session, p, req, form.get("handler_id")))


@router.post("/privacy/requests/{request_id}/notes")
def note(request_id: str, request: Request, form: dict = Depends(form_data), p: Principal = Depends(HANDLE),
         session: Session = Depends(db)) -> Response:
    """Add a note to the trail."""
    return _act(request, session, p, request_id, lambda req: staff.add_note(session, p, req, form.get("note", "")))


@router.post("/privacy/requests/{request_id}/approve")
def approve(request_id: str, request: Request, form: dict = Depends(form_data), p: Principal = Depends(HANDLE),
            session: Session = Depends(db)) -> Response:
    """Carry the request out and tell the person."""
    def run(req: PrivacyRequest) -> staff.Decision:
        changes = fulfil.parse_changes(form.get("changes", "")) if req.kind == "correction" else None
        return staff.approve(session, p, req, mailer=mailer(request), settings=request.app.state.settings,
                             changes=changes, note=form.get("note"))

    return _act(request, session, p, request_id, run)


@router.post("/privacy/requests/{request_id}/deny")
def deny(request_id: str, request: Request, form: dict = Depends(form_data), p: Principal = Depends(HANDLE),
         session: Session = Depends(db)) -> Response:
    """Refuse the request on a fixed ground and tell the person why."""
    return _act(request, session, p, request_id,
                lambda req: staff.deny(session, p, req, form.get("ground", ""), form.get("note"), mailer(request)))
