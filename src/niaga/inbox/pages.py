"""Staff pages of the inbox: the three-pane inbox (list, thread, the contact's CRM card), replying, assigning,
labels and status; live refresh for the static script; attachments; agent tools; the report.

Every page works without JavaScript (forms POST and redirect back); `/static/inbox/inbox.js` polls
`/inbox/live` every few seconds and swaps the list and thread in place when their digests change.
Filters in URLs are ids and fixed words only.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.visibility import can_see
from niaga.db.base import utcnow
from niaga.identity.models import Team, User
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import assignment, canned, conversations, outbox, reports
from niaga.inbox.models import Conversation
from niaga.inbox.service import get_conversation
from niaga.kit.errors import DomainError, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.i18n import N_
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
FILTER_KEYS = ("view", "status", "channel_id", "label", "before")
STATUS_LABELS = {"open": N_("Open"), "pending": N_("Pending"), "resolved": N_("Resolved")}
MESSAGE_STATUS = {"received": N_("Received"), "queued": N_("Waiting to be sent"), "sending": N_("Sending"),
                  "sent": N_("Sent"), "delivered": N_("Delivered"), "read": N_("Read"), "failed": N_("Not sent")}


def _filter(request: Request) -> tuple[conversations.ListFilter, dict]:
    values = {key: request.query_params.get(key) for key in FILTER_KEYS}
    try:
        return conversations.check_filter(values), {}
    except ValidationFailed as exc:
        return conversations.ListFilter(), exc.errors


def people(session: Session, tenant_id: uuid.UUID, ids: set[Any]) -> dict[uuid.UUID, User]:
    """Staff members by id (for names)."""
    wanted = {i for i in ids if isinstance(i, uuid.UUID)}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.tenant_id == tenant_id, User.id.in_(wanted)))}


def _list_context(session: Session, p: Principal, flt: conversations.ListFilter,
                  selected: uuid.UUID | None = None) -> dict[str, Any]:
    rows, more = conversations.list_conversations(session, p, flt)
    contacts = {c.id: c for c in session.scalars(select(Contact).where(
        Contact.tenant_id == p.tenant_id, Contact.id.in_({r.contact_id for r in rows})))} if rows else {}
    query = flt.query()
    return {
        "rows": rows, "contacts": contacts, "channels": conversations.channels_by_id(session, p.tenant_id),
        "assignees": people(session, p.tenant_id, {r.assignee_id for r in rows}), "flt": flt, "query": query,
        "qs": urlencode(query), "tabs": {v: urlencode({**query, "view": v}) for v in conversations.VIEWS},
        "unread": conversations.unread_counts(session, p), "selected": selected,
        "next_url": f"/inbox?{urlencode({**query, 'before': rows[-1].id})}" if more else None,
        "list_stamp": conversations.list_stamp(session, p, flt), "status_labels": STATUS_LABELS,
    }


def _thread_context(session: Session, p: Principal, conversation: Conversation) -> dict[str, Any]:
    messages = conversations.messages_of(session, conversation)
    channel = conversations.channel_of(session, conversation)
    window_open = outbox.reply_window_open(conversation, channel.kind)
    return {
        "conversation": conversation, "messages": messages, "channel": channel,
        "attachments": conversations.attachments_of(session, messages),
        "authors": people(session, p.tenant_id, {m.author_id for m in messages} | {conversation.assignee_id}),
        "window_open": window_open, "templates": conversations.channel_templates(channel),
        "thread_stamp": conversations.thread_stamp(session, conversation), "message_status": MESSAGE_STATUS,
        "can_reply": p.can(Perm.INBOX_REPLY),
    }


def _contact_card(session: Session, p: Principal, conversation: Conversation) -> dict[str, Any]:
    """The customer's CRM card: who they are, and their recent deals and tickets the staff member may see."""
    contact = session.get(Contact, (p.tenant_id, conversation.contact_id))
    card: dict[str, Any] = {"contact": contact, "contact_link": False, "deals": [], "tickets": []}
    if contact is None:
        return card
    card["contact_link"] = p.can(Perm.CONTACTS_READ) and can_see(session, p, contact)
    if p.can(Perm.DEALS_READ):
        from niaga.crm.sales import deals

        card["deals"] = deals.list_deals(session, p, contact_id=contact.id, limit=5)[0]
    if p.can(Perm.TICKETS_READ):
        from niaga.crm.service_desk import service as desk

        card["tickets"] = desk.list_tickets(session, p, desk.TicketFilter(contact_id=contact.id, limit=5))[0]
    return card


def _page(request: Request, session: Session, p: Principal, flt: conversations.ListFilter, *,
          conversation: Conversation | None = None, errors: dict | None = None, values: dict | None = None,
          status_code: int = 200) -> Response:
    context: dict[str, Any] = {**_list_context(session, p, flt, conversation.id if conversation else None),
                               "errors": errors or {}, "values": values or {}, "conversation": None}
    if conversation is not None:
        context.update(_thread_context(session, p, conversation))
        context.update(_contact_card(session, p, conversation))
        context["staff"] = assignment.reply_agents(session, p.tenant_id)
        context["teams"] = list(session.scalars(select(Team).where(Team.tenant_id == p.tenant_id).order_by(Team.name)))
        context["labels"] = conversations.list_labels(session, p.tenant_id)
        context["canned"] = canned.list_canned(session, p.tenant_id)
    if p.can(Perm.INBOX_REPLY):
        context["my_state"] = assignment.state_of(session, p.tenant_id, p.user_id)
    return render(request, "inbox/index.html", context, status_code=status_code)


@router.get("/inbox")
def inbox(request: Request, p: Principal = Depends(Require(Perm.INBOX_READ)),
          session: Session = Depends(db)) -> Response:
    """The conversation list with its tabs and filters."""
    flt, errors = _filter(request)
    return _page(request, session, p, flt, errors=errors, status_code=422 if errors else 200)


@router.get("/inbox/labels.css")
def label_colours(p: Principal = Depends(Require(Perm.INBOX_READ)), session: Session = Depends(db)) -> Response:
    """The business's label colours as a stylesheet (linked by the inbox pages)."""
    css = conversations.label_stylesheet(conversations.list_labels(session, p.tenant_id))
    return Response(css, media_type="text/css", headers={"Cache-Control": "private, no-cache"})


@router.get("/inbox/conversations/{conversation_id}")
def conversation_page(conversation_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.INBOX_READ)),
                      session: Session = Depends(db)) -> Response:
    """One conversation next to the list: reading it marks it read."""
    conversation = conversations.read_conversation(session, p, conversation_id)
    flt, errors = _filter(request)
    return _page(request, session, p, flt, conversation=conversation, errors=errors)


@router.get("/inbox/live")
def live(request: Request, p: Principal = Depends(Require(Perm.INBOX_READ)),
         session: Session = Depends(db)) -> Response:
    """What changed since the page's digests: new list / thread HTML only when they differ."""
    flt, errors = _filter(request)
    if errors:
        return JSONResponse({"error": "bad-filter"}, status_code=422)
    result: dict[str, Any] = {"list_stamp": conversations.list_stamp(session, p, flt)}
    raw_id = request.query_params.get("conversation_id") or ""
    conversation = None
    if raw_id:
        try:
            conversation = get_conversation(session, p, uuid.UUID(raw_id[:64]))
        except (ValueError, DomainError):
            result["thread_gone"] = True
    if result["list_stamp"] != request.query_params.get("list_stamp"):
        result["list_html"] = _partial(request, "inbox/_list.html", _list_context(
            session, p, flt, conversation.id if conversation else None))
    if conversation is not None:
        stamp = conversations.thread_stamp(session, conversation)
        result["thread_stamp"] = stamp
        if stamp != request.query_params.get("thread_stamp"):
            conversations.read_conversation(session, p, conversation.id)  # new messages shown: read, audited
            result["thread_html"] = _partial(request, "inbox/_messages.html", _thread_context(session, p, conversation))
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


def _partial(request: Request, name: str, context: dict[str, Any]) -> str:
    return bytes(render(request, name, context).body).decode()


# -- actions ---------------------------------------------------------------------------------------------
def _back(conversation_id: uuid.UUID, request: Request, anchor: str = "") -> RedirectResponse:
    query = request.query_params
    keep = {k: query[k] for k in FILTER_KEYS if query.get(k) and k != "before"}
    suffix = f"?{urlencode(keep)}" if keep else ""
    return RedirectResponse(f"/inbox/conversations/{conversation_id}{suffix}{anchor}", status_code=303)


def _after_change(session: Session, p: Principal, conversation: Conversation, request: Request) -> RedirectResponse:
    still = session.scalar(select(Conversation.id).where(Conversation.id == conversation.id,
                                                         conversations.visible_clause(p)))
    if still is None:  # handed to a colleague outside the staff member's teams
        return RedirectResponse("/inbox?saved=1", status_code=303)
    return _back(conversation.id, request)


def _refused(request: Request, session: Session, p: Principal, conversation: Conversation, exc: DomainError,
             values: dict) -> Response:
    session.refresh(conversation)  # the nested transaction undid the change; show what is stored
    flt, _ = _filter(request)
    errors = exc.errors if isinstance(exc, ValidationFailed) else {exc.field or "body": exc.message}
    return _page(request, session, p, flt, conversation=conversation, errors=errors, values=values,
                 status_code=exc.status)


@router.post("/inbox/conversations/{conversation_id}/reply")
def reply(conversation_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
          p: Principal = Depends(Require(Perm.INBOX_REPLY)), session: Session = Depends(db)) -> Response:
    """Send a reply (a '/shortcut' alone is replaced by the saved reply), an approved template, or a note."""
    conversation = get_conversation(session, p, conversation_id)
    template = form.get("template") or None
    params = [form.get(f"param_{i}", "") for i in range(1, 11)]
    try:
        with session.begin_nested():
            conversations.reply(session, p, conversation, text=form.get("body", ""), private=form.get("note") == "1",
                                template=template, params=params)
    except DomainError as exc:
        return _refused(request, session, p, conversation, exc, form)
    return _back(conversation.id, request, "#ib-end")


@router.post("/inbox/conversations/{conversation_id}/assign")
def assign(conversation_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
           p: Principal = Depends(Require(Perm.INBOX_REPLY)), session: Session = Depends(db)) -> Response:
    """Give the conversation to me, to a colleague or to nobody; optionally to a team."""
    conversation = get_conversation(session, p, conversation_id)
    try:
        with session.begin_nested():
            assignment.assign(session, p, conversation, assignee=form.get("assignee_id", ""),
                              team=form.get("team_id") if "team_id" in form else None)
    except DomainError as exc:
        return _refused(request, session, p, conversation, exc, form)
    return _after_change(session, p, conversation, request)


@router.post("/inbox/conversations/{conversation_id}/status")
def change_status(conversation_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.INBOX_REPLY)), session: Session = Depends(db)) -> Response:
    """Resolve, reopen or set pending."""
    conversation = get_conversation(session, p, conversation_id)
    try:
        with session.begin_nested():
            conversations.set_status(session, p, conversation, form.get("status", ""))
    except DomainError as exc:
        return _refused(request, session, p, conversation, exc, form)
    return _back(conversation.id, request)


@router.post("/inbox/conversations/{conversation_id}/labels")
def change_labels(conversation_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.INBOX_REPLY)), session: Session = Depends(db)) -> Response:
    """Set the conversation's labels (checkboxes)."""
    conversation = get_conversation(session, p, conversation_id)
    names = getattr(request.state, "form_lists", {}).get("labels", [])
    try:
        with session.begin_nested():
            conversations.set_labels(session, p, conversation, names)
    except DomainError as exc:
        return _refused(request, session, p, conversation, exc, form)
    return _back(conversation.id, request)


@router.post("/inbox/messages/{message_id}/retry")
def retry(message_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.INBOX_REPLY)),
          session: Session = Depends(db)) -> Response:
    """Send a failed message again."""
    message = conversations.retry(session, p, message_id)
    return _back(message.conversation_id, request, "#ib-end")


@router.get("/inbox/attachments/{attachment_id}")
def attachment(attachment_id: uuid.UUID, p: Principal = Depends(Require(Perm.INBOX_READ)),
               session: Session = Depends(db)) -> Response:
    """Download a message's attachment (decrypted now; the read is audited)."""
    found = conversations.download(session, p, attachment_id)
    if not isinstance(found.data, bytes):
        return Response(status_code=410, content=str(Msg("This file can no longer be read.")))
    name = found.filename if isinstance(found.filename, str) else "file"
    return Response(found.data, media_type=found.content_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.post("/inbox/availability")
def availability(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.INBOX_REPLY)),
                 session: Session = Depends(db)) -> Response:
    """The staff member's own toggle: take new conversations or not."""
    assignment.set_availability(session, p, p.user_id, form.get("available") == "1")
    target = form.get("next", "")
    return RedirectResponse(target if target.startswith("/inbox") and "//" not in target else "/inbox",
                            status_code=303)


# -- agent tools: saved replies, labels, agents, automatic assignment -------------------------------------
def _tools(request: Request, session: Session, p: Principal, errors: dict | None = None, values: dict | None = None,
           status_code: int = 200) -> Response:
    agents = assignment.reply_agents(session, p.tenant_id)
    return render(request, "inbox/tools.html", {
        "canned": canned.list_canned(session, p.tenant_id), "labels": conversations.list_labels(session, p.tenant_id),
        "agents": agents, "states": assignment.states(session, p.tenant_id),
        "open_counts": assignment.open_counts(session, p.tenant_id),
        "settings": assignment.settings_of(session, p.tenant_id), "errors": errors or {}, "values": values or {},
        "default_limit": assignment.DEFAULT_OPEN_LIMIT,
    }, status_code=status_code)


def _tool_action(request: Request, session: Session, p: Principal, form: dict, action) -> Response:
    try:
        with session.begin_nested():
            action()
    except ValidationFailed as exc:
        return _tools(request, session, p, exc.errors, form, status_code=422)
    return RedirectResponse("/inbox/tools?saved=1", status_code=303)


@router.get("/inbox/tools")
def tools(request: Request, p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
          session: Session = Depends(db)) -> Response:
    """Saved replies, labels, agents' availability and limits, automatic assignment."""
    return _tools(request, session, p)


@router.post("/inbox/tools/canned")
def canned_create(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
                  session: Session = Depends(db)) -> Response:
    """Save a new reply under a shortcut."""
    return _tool_action(request, session, p, form, lambda: canned.create_canned(session, p, form))


@router.post("/inbox/tools/canned/{canned_id}")
def canned_change(canned_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                  p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> Response:
    """Change (action=save) or delete (action=delete) a saved reply."""
    row = canned.get_canned(session, p.tenant_id, canned_id)
    if form.get("action") == "delete":
        return _tool_action(request, session, p, form, lambda: canned.delete_canned(session, p, row))
    return _tool_action(request, session, p, form, lambda: canned.update_canned(session, p, row, form))


@router.post("/inbox/tools/labels")
def label_create(request: Request, form: dict = Depends(form_data), p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
                 session: Session = Depends(db)) -> Response:
    """Define a label."""
    return _tool_action(request, session, p, form,
                        lambda: conversations.create_label(session, p, form.get("label_name", "")))


@router.post("/inbox/tools/labels/{label_id}")
def label_delete(label_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> Response:
    """Delete a label (it comes off every conversation)."""
    return _tool_action(request, session, p, form, lambda: conversations.delete_label(session, p, label_id))


@router.post("/inbox/tools/agents/{user_id}")
def agent_change(user_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> Response:
    """An agent's availability and open-conversation limit."""
    if session.get(User, (p.tenant_id, user_id)) is None:
        raise NotFound(Msg("No such staff member."))

    def change() -> None:
        assignment.set_limit(session, p, user_id, form.get("max_open", ""))
        assignment.set_availability(session, p, user_id, form.get("available") == "1")

    return _tool_action(request, session, p, form, change)


@router.post("/inbox/tools/assignment")
def assignment_change(request: Request, form: dict = Depends(form_data),
                      p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> Response:
    """Switch automatic assignment on or off."""
    return _tool_action(request, session, p, form,
                        lambda: assignment.set_auto_assign(session, p, form.get("auto_assign") == "1"))


# -- report ----------------------------------------------------------------------------------------------
@router.get("/inbox/reports")
def report_page(request: Request, p: Principal = Depends(Require(Perm.INBOX_REPORTS)),
                session: Session = Depends(db)) -> Response:
    """First response and resolution in business hours, and volumes, for a period (last 30 days by default)."""
    from niaga.crm.service_desk import sla_settings

    cal = sla_settings.tenant_calendar(session, p.tenant_id)
    today = cal.local_date(utcnow())
    since, until = request.query_params.get("since", "")[:10], request.query_params.get("until", "")[:10]
    errors: dict = {}
    try:
        start, end = reports.period(since, until, today)
    except ValidationFailed as exc:
        errors = exc.errors
        start, end = reports.period(None, None, today)
    report = reports.inbox_report(session, p, start, end)
    names = people(session, p.tenant_id, {_hex_id(r.key) for r in report.by_agent})
    return render(request, "inbox/reports.html", {
        "report": report, "errors": errors, "names": {u.id.hex: u.full_name for u in names.values()},
        "values": {"since": since, "until": until} if errors else {"since": start.isoformat(),
                                                                   "until": end.isoformat()},
    }, status_code=422 if errors else 200)


def _hex_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=value) if value else None
    except ValueError:
        return None

