"""Staff pages for broadcasts (list, new, detail with who was skipped and why, send) and the public
unsubscribe page for marketing emails.

The unsubscribe page has its own router, outside the pages' CSRF check: the unguessable token in the URL is
the proof, and a mail client's one-click unsubscribe (RFC 8058) posts `List-Unsubscribe=One-Click` with no
form token. It names the business, never the person.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.identity.models import Tenant
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import broadcasts
from niaga.inbox.broadcasts import REASONS
from niaga.inbox.models import Channel
from niaga.inbox.service import list_channels
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import PUBLIC, Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
unsubscribe_router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


def _broadcast_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(Msg("No such broadcast.")) from None


def _channels(session: Session, p: Principal) -> list[Channel]:
    return [c for c in list_channels(session, p.tenant_id) if c.kind in broadcasts.PURPOSE_BY_KIND and c.active]


def _list_page(request: Request, session: Session, p: Principal, values: dict[str, Any], errors: dict,
               status_code: int = 200) -> Response:
    channels = {c.id: c for c in list_channels(session, p.tenant_id)}
    return render(request, "inbox/broadcasts.html", {
        "rows": broadcasts.list_broadcasts(session, p), "channels": channels, "choices": _channels(session, p),
        "values": values, "errors": errors,
    }, status_code=status_code)


@router.get("/inbox/broadcasts")
def broadcast_list(request: Request, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                   session: Session = Depends(db)) -> Response:
    """The tenant's broadcasts and the form for a new one."""
    return _list_page(request, session, p, {}, {})


@router.post("/inbox/broadcasts")
def broadcast_create(request: Request, form: dict = Depends(form_data),
                     p: Principal = Depends(Require(Perm.BROADCASTS_SEND)), session: Session = Depends(db)) -> Response:
    """Save a draft, then show who it would reach."""
    data: dict[str, Any] = {k: form.get(k, "") for k in ("channel_id", "name", "body", "segment_tag", "email_subject")}
    if form.get("template_name"):
        params = [line.strip() for line in form.get("template_parameters", "").splitlines() if line.strip()]
        data["template"] = {"name": form["template_name"], "language": form.get("template_language") or "id",
                            "parameters": params}
    try:
        with session.begin_nested():
            broadcast = broadcasts.create_broadcast(session, p, data)
    except ValidationFailed as exc:
        errors = {("template_name" if k == "template" else k): v for k, v in exc.errors.items()}
        return _list_page(request, session, p, form, errors, 422)
    return RedirectResponse(f"/inbox/broadcasts/{broadcast.id}", status_code=303)


def _detail(request: Request, session: Session, p: Principal, broadcast_id: str, error: str | None = None,
            status_code: int = 200) -> Response:
    broadcast = broadcasts.get_broadcast(session, p, _broadcast_id(broadcast_id))
    channel = session.get(Channel, (broadcast.tenant_id, broadcast.channel_id))
    preview = broadcasts.decide(session, broadcast) if broadcast.status == "draft" else []
    return render(request, "inbox/broadcasts_detail.html", {
        "broadcast": broadcast, "channel": channel, "reasons": REASONS, "error": error,
        "recipients": broadcasts.recipients(session, broadcast) if broadcast.status == "sent" else [],
        "preview": preview, "preview_included": sum(1 for d in preview if d.included),
    }, status_code=status_code)


@router.get("/inbox/broadcasts/{broadcast_id}")
def broadcast_detail(broadcast_id: str, request: Request, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                     session: Session = Depends(db)) -> Response:
    """A draft with its audience preview, or a sent broadcast with every recipient and skip reason."""
    return _detail(request, session, p, broadcast_id)


@router.post("/inbox/broadcasts/{broadcast_id}/send")
def broadcast_send(broadcast_id: str, request: Request, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                   session: Session = Depends(db)) -> Response:
    """Queue the broadcast for the consenting contacts."""
    broadcast = broadcasts.get_broadcast(session, p, _broadcast_id(broadcast_id))
    try:
        with session.begin_nested():
            broadcasts.send_broadcast(session, p, broadcast, request.app.state.settings.base_url)
    except (Conflict, ValidationFailed) as exc:
        return _detail(request, session, p, broadcast_id, exc.message, exc.status)
    return RedirectResponse(f"/inbox/broadcasts/{broadcast.id}", status_code=303)


# -- public: unsubscribe ---------------------------------------------------------------------------------------
def _unsubscribe_page(request: Request, session: Session, token: str, done: bool) -> Response:
    try:
        row, _subject = broadcasts.find_unsubscribe(session, token)
    except NotFound:
        return render(request, "inbox/broadcasts_unsubscribe.html", {"valid": False}, status_code=404)
    business = session.get(Tenant, row.tenant_id)
    return render(request, "inbox/broadcasts_unsubscribe.html", {
        "valid": True, "business": business.name, "done": done or row.used_at is not None, "token": token,
    })


@unsubscribe_router.get("/unsubscribe/{token}", dependencies=[Depends(PUBLIC)])
def unsubscribe_form(token: str, request: Request, session: Session = Depends(db)) -> Response:
    """Ask the person to confirm (a GET never changes anything: link scanners open links)."""
    return _unsubscribe_page(request, session, token, done=False)


@unsubscribe_router.post("/unsubscribe/{token}", dependencies=[Depends(PUBLIC)])
def unsubscribe_confirm(token: str, request: Request, form: dict = Depends(form_data),
                        session: Session = Depends(db)) -> Response:
    """Withdraw consent to promotional emails: the confirm button, or a mail client's one-click POST."""
    one_click = form.get("List-Unsubscribe") == "One-Click"
    try:
        broadcasts.unsubscribe(session, token, one_click=one_click)
    except NotFound:
        return _unsubscribe_page(request, session, token, done=False)
    return _unsubscribe_page(request, session, token, done=True)
