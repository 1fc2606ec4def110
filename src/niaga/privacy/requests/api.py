"""JSON API of data-subject requests: /api/v1/privacy/requests (list, get, log, assign, decide)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.privacy.fields import Unreadable
from niaga.privacy.requests import staff
from niaga.privacy.requests.models import PrivacyRequest
from niaga.privacy.requests.public_pages import mailer
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(prefix="/privacy/requests", tags=["privacy"], route_class=TransactionalRoute)


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


PersonalStr = Annotated[str | None, BeforeValidator(_personal)]
Word = Annotated[str, Field(max_length=40)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestLog(_Input):
    """A request that came by email, WhatsApp, letter, phone or in person; `identity_verified` must be true
    (the 72 hours start now)."""

    contact_id: uuid.UUID
    kind: Word
    channel: Word
    identity_verified: bool
    details: Annotated[str, Field(max_length=2000)] | None = None
    language: Literal["id", "en"] | None = None
    received_at: datetime | None = None


class RequestAssign(_Input):
    """Give the request to a handler."""

    handler_id: uuid.UUID


class RequestDecision(_Input):
    """Approve (carry out) or deny (with a Pasal 33 ground); `changes` for corrections."""

    decision: Literal["approve", "deny"]
    ground: Word | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None
    changes: Annotated[dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=500)]],
                       Field(max_length=20)] | None = None


class RequestRead(BaseModel):
    """A request as staff see it."""

    id: uuid.UUID
    number: int
    kind: str
    status: str
    channel: str
    language: str
    contact_id: uuid.UUID | None
    received_at: datetime
    verified_at: datetime | None
    verified_by: str
    due_at: datetime | None
    hours_left: int | None
    overdue: bool
    closed_at: datetime | None
    handler_id: uuid.UUID | None
    decision_ground: str | None
    details: PersonalStr = None


class EventRead(BaseModel):
    """One step of the trail."""

    at: datetime
    action: str
    status: str | None
    actor_type: str
    actor_id: uuid.UUID | None
    note: PersonalStr = None


class RequestDetail(RequestRead):
    """A request with its trail."""

    events: list[EventRead]


class RequestPage(BaseModel):
    """A list of requests."""

    items: list[RequestRead]


class DecisionRead(BaseModel):
    """The request after a decision, and whether the person was told by email."""

    request: RequestRead
    told: bool
    untold_reason: str | None


def _read(req: PrivacyRequest, now: datetime) -> dict[str, Any]:
    view = staff.clock(req, now)
    fields = {name: getattr(req, name) for name in RequestRead.model_fields if hasattr(req, name)}
    fields.update(hours_left=view.hours_left, overdue=view.overdue)
    return fields


@router.get("", response_model=RequestPage)
def list_requests(p: Principal = Depends(Require(Perm.PRIVACY_REQUESTS_READ)), session: Session = Depends(db),
                  status: str = Query("active", max_length=30)) -> RequestPage:
    """Requests by status: 'active' (default, by deadline), 'all' verified, or one status."""
    now = utcnow()
    return RequestPage(items=[RequestRead(**_read(r, now)) for r in staff.list_requests(session, p, status)])


@router.get("/{request_id}", response_model=RequestDetail)
def get_request(request_id: str, p: Principal = Depends(Require(Perm.PRIVACY_REQUESTS_READ)),
                session: Session = Depends(db)) -> RequestDetail:
    """One request with its trail (audited as a read)."""
    req = staff.view_request(session, p, request_id)
    events = [EventRead(at=e.at, action=e.action, status=e.status, actor_type=e.actor_type, actor_id=e.actor_id,
                        note=e.note) for e in staff.trail(session, req)]
    return RequestDetail(**_read(req, utcnow()), events=events)


@router.post("", response_model=RequestRead, status_code=201)
def log_request(body: RequestLog, request: Request, p: Principal = Depends(Require(Perm.PRIVACY_REQUESTS_HANDLE)),
                session: Session = Depends(db)) -> RequestRead:
    """Log a request that arrived another way; the person is emailed its status link when on file."""
    with session.begin_nested():
        logged = staff.log_request(session, p, contact_id=body.contact_id, kind=body.kind, channel=body.channel,
                                   details=body.details, identity_verified=body.identity_verified,
                                   language=body.language, mailer=mailer(request), received_at=body.received_at)
    return RequestRead(**_read(logged.request, utcnow()))


@router.post("/{request_id}/assign", response_model=RequestRead)
def assign(request_id: str, body: RequestAssign, p: Principal = Depends(Require(Perm.PRIVACY_REQUESTS_HANDLE)),
           session: Session = Depends(db)) -> RequestRead:
    """Give the request to a handler."""
    req = staff.get_request(session, p, request_id)
    with session.begin_nested():
        staff.assign(session, p, req, body.handler_id)
    return RequestRead(**_read(req, utcnow()))


@router.post("/{request_id}/decision", response_model=DecisionRead)
def decide(request_id: str, body: RequestDecision, request: Request,
           p: Principal = Depends(Require(Perm.PRIVACY_REQUESTS_HANDLE)), session: Session = Depends(db)) -> DecisionRead:
    """Approve (carry out through the rights services) or deny on a fixed ground; the person is told."""
    req = staff.get_request(session, p, request_id)
    with session.begin_nested():
        if body.decision == "deny":
            result = staff.deny(session, p, req, body.ground or "", body.note, mailer(request))
        else:
            result = staff.approve(session, p, req, mailer=mailer(request), settings=request.app.state.settings,
                                   changes=body.changes, note=body.note)
    return DecisionRead(request=RequestRead(**_read(req, utcnow())), told=result.told,
                        untold_reason=result.reason_untold)
