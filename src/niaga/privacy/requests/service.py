"""Receiving and verifying data-subject requests from the public privacy center. Services flush, never commit.

The visitor sees the same thing whether or not the address belongs to someone: a request record is made
either way (see models.py for whose key seals it), the same page follows, and codes are counted, expired
and refused the same way. Only a matched contact's request gets a code that can ever match, and only
they are sent anything. Every step is audited with ids and codes (never the address or the details).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.crm.contacts import repository as contacts_repo
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.accounts import clean_email
from niaga.identity.models import Tenant
from niaga.kit.errors import ValidationFailed
from niaga.kit.logging import get_logger
from niaga.kit.mail import MailError
from niaga.kit.messages import Msg
from niaga.kit.phone import normalize_phone
from niaga.privacy import audit, erasure
from niaga.privacy.audit import Actor
from niaga.privacy.fields import is_readable
from niaga.privacy.requests import notices, otp
from niaga.privacy.requests.models import (
    REQUESTER_KIND, PrivacyRequest, PrivacyRequestEvent, RequestChannel, RequestKind, RequestStatus,
)
from niaga.privacy.requests.notices import Mailer
from niaga.privacy.vault import get_vault

log = get_logger(__name__)
MAX_DETAILS = 2000
MAX_ADDRESS = 254


@dataclass(frozen=True)
class Submission:
    """A new public request, its private token (for the link) and the code's delivery (run after commit)."""

    request: PrivacyRequest
    token: str
    delivery: otp.CodeDelivery


@dataclass(frozen=True)
class Outcome:
    """The answer to a code or resend: a message for the page (None: success) and a send to run afterwards."""

    request: PrivacyRequest
    error: Msg | None = None
    notice: Msg | None = None
    send: Callable[[], None] | None = None


# -- lookups -----------------------------------------------------------------------------------------
def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    """An active business by its public slug."""
    if not slug or len(slug) > 60:
        return None
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    return tenant if tenant is not None and tenant.status == "active" else None


def by_token(session: Session, tenant_id: uuid.UUID, token: str) -> PrivacyRequest | None:
    """The tenant's request whose private link carries this token (another tenant's token finds nothing)."""
    if not token or len(token) > 100:
        return None
    return session.scalar(select(PrivacyRequest).where(
        PrivacyRequest.tenant_id == tenant_id, PrivacyRequest.status_token_hash == otp.token_digest(session, token)))


def clean_address(raw: str) -> tuple[str, str] | None:
    """('email', normalised) or ('phone', E.164) for what a visitor typed, or None."""
    raw = (raw or "").strip()[:MAX_ADDRESS]
    if not raw:
        return None
    if "@" in raw:
        email = clean_email(raw)
        return ("email", email) if email else None
    phone = normalize_phone(raw)
    return ("phone", phone) if phone else None


def find_contact(session: Session, tenant_id: uuid.UUID, address_kind: str, value: str) -> Contact | None:
    """The active contact holding this email or phone, found through the blind index."""
    lookup = contacts_repo.contacts_with_email if address_kind == "email" else contacts_repo.contacts_with_phone
    query = lookup(session, tenant_id, value)
    if query is None:
        return None
    for contact_id in session.scalars(query):
        contact = session.get(Contact, (tenant_id, contact_id))
        if contact is not None and contact.status == "active" and not contact.subject.is_erased:
            return contact
    return None


def notice_email(session: Session, request: PrivacyRequest) -> str | None:
    """Where notices about a request go: the email it was made with, else the contact's first email on file."""
    if request.address_kind == "email" and isinstance(request.contact_detail, str) and request.contact_id:
        return request.contact_detail
    if request.contact_id is None:
        return None
    contact = session.get(Contact, (request.tenant_id, request.contact_id))
    if contact is None:
        return None
    for row in contact.emails:
        if is_readable(row.email) and row.email:
            return row.email
    return None


def next_number(session: Session, tenant_id: uuid.UUID) -> int:
    """The tenant's next request number."""
    top = session.scalar(select(func.max(PrivacyRequest.number)).where(PrivacyRequest.tenant_id == tenant_id))
    return (top or 0) + 1


def add_event(session: Session, request: PrivacyRequest, action: str, actor: Actor, note: str | None = None,
              at: datetime | None = None) -> PrivacyRequestEvent:
    """Append a step to the request's trail (the note is sealed like the request)."""
    event = PrivacyRequestEvent(tenant_id=request.tenant_id, subject_id=request.subject_id, request_id=request.id,
                                at=at or utcnow(), action=action, status=request.status, actor_type=actor.type,
                                actor_id=actor.id, note=note or None)
    session.add(event)
    session.flush()
    return event


def audit_request(session: Session, request: PrivacyRequest, action: str, actor: Actor, *, outcome: str = "ok",
                  **details: object) -> None:
    """Audit one step: ids, kind, status and channel only."""
    audit.record(session, request.tenant_id, f"privacy_request.{action}", actor, outcome=outcome,
                 target_type="privacy_request", target_id=request.id, subject_id=request.subject_id, purpose="U10",
                 details={"kind": request.kind, "status": request.status, "channel": request.channel,
                          "number": request.number, **details})


# -- the code ----------------------------------------------------------------------------------------
def _email_code(mailer: Mailer, tenant: Tenant) -> Callable[[Session, object, str, str], otp.CodeDelivery | None]:
    def send(session: Session, request: object, code: str, language: str) -> otp.CodeDelivery | None:
        to = notice_email(session, request)  # type: ignore[arg-type]
        if not to:
            return None
        subject, text = notices.code_email(tenant, code, language)
        return otp.CodeDelivery("email", mailer.prepare(tenant, to, subject, text))

    return send


def _issue_code(session: Session, tenant: Tenant, request: PrivacyRequest, mailer: Mailer,
                now: datetime) -> otp.CodeDelivery:
    """A fresh code for the request (the previous one stops working); only a matched person is sent one."""
    code = otp.new_code()
    request.codes_sent += 1
    request.code_expires_at = now + otp.CODE_TTL
    if request.contact_id is None:
        request.code_hash = otp.unusable_code_digest()
        return otp.CodeDelivery("none", None)
    request.code_hash = otp.code_digest(session, request.id, code)
    return otp.deliver_code(session, request, code, request.language, _email_code(mailer, tenant))


def run_after_response(send: Callable[[], None] | None) -> None:
    """Run a prepared send after the response left; a failure is logged without addresses, never raised."""
    if send is None:
        return
    try:
        send()
    except MailError:
        log.warning("privacy_request.notice_not_delivered")


# -- public flow -------------------------------------------------------------------------------------
def submit(session: Session, tenant: Tenant, *, kind: str, address: str, details: str, language: str,
           client: str | None, mailer: Mailer, now: datetime | None = None) -> Submission:
    """Record a request from the privacy center and send its code when the address is on file."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    if kind not in {k.value for k in RequestKind}:
        errors["kind"] = Msg("Choose what you would like us to do.")
    cleaned = clean_address(address)
    if cleaned is None:
        errors["address"] = Msg("Give the email address or phone number you use with this business.")
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        errors["details"] = Msg("Keep the details under {n} characters.", n=MAX_DETAILS)
    if errors:
        raise ValidationFailed(errors)
    address_kind, value = cleaned  # type: ignore[misc]
    per_address = otp.address_key(tenant.id, address_kind, value)
    otp.check_limit(session, otp.CLIENT_LIMIT, client, now)
    otp.check_limit(session, otp.ADDRESS_LIMIT, per_address, now)
    otp.count(session, otp.CLIENT_LIMIT, client, now)
    otp.count(session, otp.ADDRESS_LIMIT, per_address, now)

    contact = find_contact(session, tenant.id, address_kind, value)
    subject = contact.subject if contact is not None else get_vault().new_subject(session, tenant.id, REQUESTER_KIND)
    token = otp.new_token()
    request = PrivacyRequest(
        tenant_id=tenant.id, subject=subject, number=next_number(session, tenant.id), kind=kind,
        status=RequestStatus.AWAITING_VERIFICATION.value, channel=RequestChannel.PRIVACY_CENTER.value,
        language=language if language in ("id", "en") else "id", contact_id=contact.id if contact else None,
        address_kind=address_kind, contact_detail=value, details=details or None, received_at=now,
        status_token_hash=otp.token_digest(session, token), attempts_left=otp.MAX_ATTEMPTS, codes_sent=0,
    )
    session.add(request)
    session.flush()
    actor = Actor("anonymous", None, client)
    add_event(session, request, "received", actor, at=now)
    delivery = _issue_code(session, tenant, request, mailer, now)
    audit_request(session, request, "received", actor)
    return Submission(request, token, delivery)


def expire_if_stale(session: Session, request: PrivacyRequest, now: datetime | None = None) -> bool:
    """Close a request left unverified too long; True when it was closed now."""
    now = now or utcnow()
    if request.status != RequestStatus.AWAITING_VERIFICATION.value or request.received_at + otp.UNVERIFIED_TTL > now:
        return False
    expire(session, request, Actor.system(), reason="unverified", now=now)
    return True


def expire(session: Session, request: PrivacyRequest, actor: Actor, *, reason: str,
           now: datetime | None = None) -> None:
    """Close an unverified request; an unknown person's typed details are erased with their requester key."""
    now = now or utcnow()
    request.status = RequestStatus.EXPIRED.value
    request.closed_at = now
    request.code_hash = None
    request.code_expires_at = None
    add_event(session, request, "expired", actor, at=now)
    audit_request(session, request, "expired", actor, reason=reason)
    subject = request.subject
    if request.contact_id is None and subject is not None and subject.kind == REQUESTER_KIND:
        erasure.erase_subject(session, request.tenant_id, subject.id, Actor.system(), "request-expired",
                              reference=f"DSR-{request.number}")


def verify(session: Session, tenant: Tenant, request: PrivacyRequest, code: str, *, client: str | None,
           mailer: Mailer, status_link: str, now: datetime | None = None) -> Outcome:
    """Check a typed code; wrong codes use up attempts (none left: the request expires). Never raises for a
    wrong code, so the used attempt is committed with the answer."""
    now = now or utcnow()
    actor = Actor("anonymous", None, client)
    if expire_if_stale(session, request, now) or request.status == RequestStatus.EXPIRED.value:
        audit_request(session, request, "code_refused", actor, outcome="denied", reason="closed")
        return Outcome(request, error=Msg("This request was closed. Start a new request if you still need one."))
    if request.status != RequestStatus.AWAITING_VERIFICATION.value:
        audit_request(session, request, "code_refused", actor, outcome="denied", reason="already-verified")
        return Outcome(request, error=Msg("This request is already verified; the code cannot be used again."))
    typed = otp.clean_code(code)
    if typed is None:
        return Outcome(request, error=Msg("Enter the 6-digit code from the message."))
    otp.check_limit(session, otp.GUESS_LIMIT, client, now)
    if request.code_expires_at is None or request.code_expires_at <= now:
        audit_request(session, request, "code_refused", actor, outcome="denied", reason="expired")
        return Outcome(request, error=Msg("This code has expired. Ask for a new code."))
    if not otp.code_matches(session, request.id, request.code_hash, typed):
        request.attempts_left = max(0, request.attempts_left - 1)
        otp.count(session, otp.GUESS_LIMIT, client, now)
        audit_request(session, request, "code_refused", actor, outcome="denied", reason="wrong",
                      attempts_left=request.attempts_left)
        if request.attempts_left <= 0:
            expire(session, request, actor, reason="attempts", now=now)
            return Outcome(request, error=Msg("Too many wrong codes. For your safety this request was closed; "
                                              "start a new request if you still need one."))
        return Outcome(request, error=Msg("That code is not right. {n} attempts left.", n=request.attempts_left))
    request.status = RequestStatus.OPEN.value
    request.verified_at = now
    request.verified_by = "code"
    request.due_at = now + otp.RESPONSE_DEADLINE
    request.code_hash = None
    request.code_expires_at = None
    add_event(session, request, "verified", actor, at=now)
    audit_request(session, request, "verified", actor)
    send = None
    to = notice_email(session, request)
    if to:
        subject, text = notices.received_email(tenant, request.kind, request.due_at, status_link, request.language)
        send = mailer.prepare(tenant, to, subject, text)
    return Outcome(request, send=send)


def resend(session: Session, tenant: Tenant, request: PrivacyRequest, *, client: str | None, mailer: Mailer,
           now: datetime | None = None) -> Outcome:
    """A new code (the old one stops working), within the resend and client limits."""
    now = now or utcnow()
    actor = Actor("anonymous", None, client)
    if expire_if_stale(session, request, now) or request.status != RequestStatus.AWAITING_VERIFICATION.value:
        audit_request(session, request, "resend_refused", actor, outcome="denied", reason=request.status)
        return Outcome(request, error=Msg("This request no longer needs a code."))
    if request.codes_sent >= otp.MAX_CODES:
        audit_request(session, request, "resend_refused", actor, outcome="denied", reason="limit")
        return Outcome(request, error=Msg("No more codes can be sent for this request. Start a new request if "
                                          "the code did not arrive."))
    otp.check_limit(session, otp.CLIENT_LIMIT, client, now)
    otp.count(session, otp.CLIENT_LIMIT, client, now)
    delivery = _issue_code(session, tenant, request, mailer, now)
    add_event(session, request, "code_resent", actor, at=now)
    audit_request(session, request, "code_resent", actor)
    return Outcome(request, notice=Msg("If the details match our records, a new code is on its way. Earlier codes "
                                       "no longer work."), send=delivery.send)
