"""The staff side of data-subject requests: the queue, assignment, notes, logging a request that came by
email, WhatsApp, letter or phone, and the decision (approve and fulfil, or refuse on a fixed ground).

The 72-hour clock (UU PDP Pasal 30-32, 40-41) starts when the person's identity is verified: by the code in
the privacy center, or — for a request staff log — when the staff member marks it verified.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.models import Tenant, User
from niaga.identity.permissions import Perm, has_permission
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.mail import MailError
from niaga.kit.messages import Msg
from niaga.privacy.audit import Actor
from niaga.privacy.requests import fulfil, notices, otp
from niaga.privacy.requests.models import (
    ACTIVE_STATUSES, DenialGround, PrivacyRequest, PrivacyRequestEvent, RequestChannel, RequestKind, RequestStatus,
)
from niaga.privacy.requests.notices import Mailer
from niaga.privacy.requests.service import add_event, audit_request, next_number, notice_email

MAX_NOTE = 2000
STATUS_FILTERS = ("active", "all", *(s.value for s in RequestStatus))
DUE_SOON_HOURS = 24


@dataclass(frozen=True)
class Clock:
    """Time left on a request: whole hours (negative once overdue)."""

    due_at: datetime | None
    hours_left: int | None
    overdue: bool
    due_soon: bool


def clock(request: PrivacyRequest, now: datetime) -> Clock:
    """The deadline view of a request (only active requests can be overdue)."""
    if request.due_at is None:
        return Clock(None, None, False, False)
    seconds = (request.due_at - now).total_seconds()
    hours = math.floor(seconds / 3600) if seconds < 0 else math.ceil(seconds / 3600)
    active = request.status in {s.value for s in ACTIVE_STATUSES}
    return Clock(request.due_at, hours, active and seconds < 0, active and 0 <= seconds <= DUE_SOON_HOURS * 3600)


def list_requests(session: Session, principal: Principal, status: str = "active", limit: int = 200) -> list[PrivacyRequest]:
    """Verified requests of the tenant (active ones by deadline); 'awaiting_verification' and 'expired' on ask."""
    if status not in STATUS_FILTERS:
        raise ValidationFailed({"status": Msg("Choose a status from the list.")})
    query = select(PrivacyRequest).where(PrivacyRequest.tenant_id == principal.tenant_id)
    if status == "active":
        query = query.where(PrivacyRequest.status.in_([s.value for s in ACTIVE_STATUSES]))
        query = query.order_by(PrivacyRequest.due_at, PrivacyRequest.number)
    else:
        if status == "all":
            # Unverified requests are noise (and may name nobody): they show only when asked for by status.
            query = query.where(PrivacyRequest.verified_at.is_not(None))
        else:
            query = query.where(PrivacyRequest.status == status)
        query = query.order_by(PrivacyRequest.number.desc())
    return list(session.scalars(query.limit(limit)))


def get_request(session: Session, principal: Principal, request_id: uuid.UUID | str) -> PrivacyRequest:
    """One request of the principal's tenant (another tenant's id is simply not found)."""
    try:
        key = request_id if isinstance(request_id, uuid.UUID) else uuid.UUID(str(request_id))
    except ValueError:
        raise NotFound(Msg("No such request.")) from None
    request = session.get(PrivacyRequest, (principal.tenant_id, key))
    if request is None:
        raise NotFound(Msg("No such request."))
    return request


def view_request(session: Session, principal: Principal, request_id: uuid.UUID | str) -> PrivacyRequest:
    """A request opened by staff to read it (its details are personal data): audited as a read."""
    request = get_request(session, principal, request_id)
    audit_request(session, request, "viewed", principal.actor)
    return request


def trail(session: Session, request: PrivacyRequest) -> list[PrivacyRequestEvent]:
    """The request's steps, oldest first."""
    return list(session.scalars(select(PrivacyRequestEvent).where(
        PrivacyRequestEvent.tenant_id == request.tenant_id, PrivacyRequestEvent.request_id == request.id)
        .order_by(PrivacyRequestEvent.at, PrivacyRequestEvent.id)))


def handlers(session: Session, tenant_id: uuid.UUID) -> list[User]:
    """Active staff who may handle requests."""
    users = session.scalars(select(User).where(User.tenant_id == tenant_id, User.status == "active"))
    return [u for u in users if has_permission(u.role, Perm.PRIVACY_REQUESTS_HANDLE)]


def _active(request: PrivacyRequest) -> None:
    if request.status == RequestStatus.AWAITING_VERIFICATION.value:
        raise Conflict(Msg("This request is not verified yet; nothing can be decided on it."))
    if request.status not in {s.value for s in ACTIVE_STATUSES}:
        raise Conflict(Msg("This request is already closed."))


def _note(raw: str | None) -> str | None:
    note = (raw or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed({"note": Msg("Keep the note under {n} characters.", n=MAX_NOTE)})
    return note or None


def assign(session: Session, principal: Principal, request: PrivacyRequest, handler_id: str | uuid.UUID | None) -> None:
    """Give the request to a staff member who may handle requests (it is then in progress)."""
    _active(request)
    try:
        key = handler_id if isinstance(handler_id, uuid.UUID) else uuid.UUID(str(handler_id))
    except ValueError:
        raise ValidationFailed({"handler_id": Msg("Choose a staff member from the list.")}) from None
    if key not in {u.id for u in handlers(session, principal.tenant_id)}:
        raise ValidationFailed({"handler_id": Msg("Choose a staff member from the list.")})
    request.handler_id = key
    if request.status == RequestStatus.OPEN.value:
        request.status = RequestStatus.IN_PROGRESS.value
    add_event(session, request, "assigned", principal.actor)
    audit_request(session, request, "assigned", principal.actor, handler_id=key)


def add_note(session: Session, principal: Principal, request: PrivacyRequest, note: str) -> None:
    """A note on the trail."""
    text = _note(note)
    if text is None:
        raise ValidationFailed({"note": Msg("Write the note first.")})
    if request.subject is not None and request.subject.is_erased:
        raise Conflict(Msg("This person's data has been erased; notes can no longer be added."))
    add_event(session, request, "note", principal.actor, note=text)
    audit_request(session, request, "noted", principal.actor)


@dataclass(frozen=True)
class Decision:
    """What a decision did: the request, and whether the person was told by email."""

    request: PrivacyRequest
    told: bool
    reason_untold: str | None = None  # "no-email" | "mail-failed" | "erased"


def _tell(session: Session, tenant: Tenant, request: PrivacyRequest, message: tuple[str, str],
          mailer: Mailer) -> Decision:
    to = notice_email(session, request)
    if not to:
        reason = "erased" if request.subject is not None and request.subject.is_erased else "no-email"
        return Decision(request, False, reason)
    try:
        mailer.send(tenant, to, *message)
    except MailError:
        add_event(session, request, "notice_failed", Actor.system())
        audit_request(session, request, "notice_failed", Actor.system(), outcome="failed")
        return Decision(request, False, "mail-failed")
    add_event(session, request, "notice_sent", Actor.system())
    return Decision(request, True)


def deny(session: Session, principal: Principal, request: PrivacyRequest, ground: str, note: str | None,
         mailer: Mailer) -> Decision:
    """Refuse a request on one of the fixed grounds, and tell the person why and where to complain."""
    _active(request)
    if ground not in {g.value for g in DenialGround}:
        raise ValidationFailed({"ground": Msg("Choose the ground for refusing (UU PDP Pasal 33).")})
    text = _note(note)
    now = utcnow()
    request.status = RequestStatus.DENIED.value
    request.decision_ground = ground
    request.closed_at = now
    request.handler_id = request.handler_id or principal.user_id
    add_event(session, request, "denied", principal.actor, note=text, at=now)
    audit_request(session, request, "denied", principal.actor, ground=ground)
    tenant = session.get(Tenant, request.tenant_id)
    return _tell(session, tenant, request, notices.denied_email(tenant, request.kind, ground, request.language),
                 mailer)


def approve(session: Session, principal: Principal, request: PrivacyRequest, *, mailer: Mailer, settings,  # noqa: ANN001
            changes: dict[str, str] | None = None, note: str | None = None) -> Decision:
    """Carry the request out through the rights services, close it, and tell the person."""
    _active(request)
    if request.contact_id is None:
        raise Conflict(Msg("This request names nobody the business knows; refuse it instead."))
    text = _note(note)
    tenant = session.get(Tenant, request.tenant_id)
    request.handler_id = request.handler_id or principal.user_id
    request.status = RequestStatus.IN_PROGRESS.value
    add_event(session, request, "approved", principal.actor, note=text)
    audit_request(session, request, "approved", principal.actor)
    result = fulfil.carry_out(session, tenant, request, principal, mailer=mailer, settings=settings,
                              changes=changes or {})
    now = utcnow()
    request.status = RequestStatus.COMPLETED.value
    request.closed_at = now
    add_event(session, request, "completed", principal.actor, at=now)
    audit_request(session, request, "completed", principal.actor)
    if result.erased:
        return Decision(request, result.told_before_erasure, None if result.told_before_erasure else "erased")
    message = notices.completed_email(tenant, request.kind, request.language, result.download_link,
                                      settings.access_link_hours if result.download_link else None)
    return _tell(session, tenant, request, message, mailer)


@dataclass(frozen=True)
class Logged:
    """A request staff logged: the record, its private status token, and whether the person was told."""

    request: PrivacyRequest
    token: str
    told: bool


def log_request(session: Session, principal: Principal, *, contact_id: str | uuid.UUID | None, kind: str,
                channel: str, details: str | None, identity_verified: bool, language: str | None,
                mailer: Mailer, received_at: datetime | None = None) -> Logged:
    """Record a request that arrived by email, WhatsApp, letter, phone or in person; the clock starts now,
    when staff confirm the person's identity."""
    errors: dict[str, str] = {}
    contact = None
    try:
        key = contact_id if isinstance(contact_id, uuid.UUID) else uuid.UUID(str(contact_id))
        contact = session.get(Contact, (principal.tenant_id, key))
    except ValueError:
        pass
    if contact is None or contact.status != "active":
        errors["contact_id"] = Msg("Choose the customer the request is about.")
    elif contact.subject.is_erased:
        errors["contact_id"] = Msg("This person's data has been erased.")
    if kind not in {k.value for k in RequestKind}:
        errors["kind"] = Msg("Choose what the person asks for.")
    if channel not in {c.value for c in RequestChannel} or channel == RequestChannel.PRIVACY_CENTER.value:
        errors["channel"] = Msg("Choose how the request arrived.")
    if not identity_verified:
        errors["identity_verified"] = Msg("Confirm that you checked the person's identity; the 72 hours start then.")
    try:
        text = _note(details)
    except ValidationFailed:
        errors["details"] = Msg("Keep the details under {n} characters.", n=MAX_NOTE)
        text = None
    now = utcnow()
    if received_at is not None and received_at > now:
        errors["received_at"] = Msg("The date received cannot be in the future.")
    if errors:
        raise ValidationFailed(errors)
    tenant = session.get(Tenant, principal.tenant_id)
    token = otp.new_token()
    request = PrivacyRequest(
        tenant_id=principal.tenant_id, subject=contact.subject, number=next_number(session, principal.tenant_id),
        kind=kind, status=RequestStatus.OPEN.value, channel=channel,
        language=language if language in ("id", "en") else tenant.locale if tenant.locale in ("id", "en") else "id",
        contact_id=contact.id, address_kind="email", contact_detail=None, details=text,
        received_at=received_at or now, verified_at=now, verified_by="staff", due_at=now + otp.RESPONSE_DEADLINE,
        logged_by_id=principal.user_id, status_token_hash=otp.token_digest(session, token), attempts_left=0,
    )
    session.add(request)
    session.flush()
    add_event(session, request, "logged", principal.actor, at=now)
    audit_request(session, request, "logged", principal.actor, verified_by="staff")
    link = mailer.link(f"/privacy-center/{tenant.slug}/requests/{token}")
    decision = _tell(session, tenant, request,
                     notices.received_email(tenant, kind, request.due_at, link, request.language), mailer)
    return Logged(request, token, decision.told)
