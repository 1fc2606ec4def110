"""Staff management: invitations by single-use expiring link, roles, disabling accounts."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.db.base import utcnow
from niaga.identity.accounts import check_person, clean_email, email_taken
from niaga.identity.auth import revoke_all_sessions, token_digest
from niaga.identity.models import Invitation, User
from niaga.identity.passwords import Passwords, password_problem
from niaga.identity.permissions import Role, can_assign
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.privacy.policy import CURRENT_POLICY_VERSION
from niaga.privacy.vault import get_vault


class InvitationGone(DomainError):
    """The invitation link expired, was used or was revoked."""

    status = 410
    code = "invitation-gone"


def list_staff(session: Session, principal: Principal) -> list[User]:
    """Every staff member of the principal's tenant."""
    return list(session.scalars(select(User).where(User.tenant_id == principal.tenant_id).order_by(User.created_at)))


def list_invitations(session: Session, principal: Principal) -> list[Invitation]:
    """Open invitations (not accepted, not revoked, not expired)."""
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.tenant_id == principal.tenant_id, Invitation.accepted_at.is_(None),
                   Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
            .order_by(Invitation.created_at.desc())
        )
    )


def invite(session: Session, principal: Principal, email: str, role: str, settings: Settings) -> tuple[str, Invitation]:
    """Invite a person by email to a role; returns the link token (shown once) and the invitation."""
    cleaned = clean_email(email)
    errors: dict[str, str] = {}
    if cleaned is None:
        errors["email"] = Msg("Enter a valid email address.")
    elif email_taken(session, cleaned):
        errors["email"] = Msg("This email already has a niaga account.")
    if role not in {r.value for r in Role}:
        errors["role"] = Msg("Choose a role from the list.")
    elif not can_assign(principal.role.value, role):
        errors["role"] = Msg("You cannot give someone this role.")
    if errors:
        raise ValidationFailed(errors)
    token = secrets.token_urlsafe(32)
    subject = get_vault().new_subject(session, principal.tenant_id, "staff")
    row = Invitation(
        tenant_id=principal.tenant_id, subject=subject, email=cleaned, role=role, token_hash=token_digest(token),
        invited_by=principal.user_id, expires_at=utcnow() + timedelta(hours=settings.invite_ttl_hours),
    )
    session.add(row)
    session.flush()
    audit.record(session, principal.tenant_id, "staff.invited", principal.actor, target_type="invitation",
                 target_id=row.id, subject_id=subject.id, purpose="U1", details={"role": role})
    return token, row


def revoke_invitation(session: Session, principal: Principal, invitation_id: uuid.UUID) -> None:
    """Withdraw an open invitation."""
    row = session.get(Invitation, (principal.tenant_id, invitation_id))
    if row is None or row.accepted_at is not None or row.revoked_at is not None:
        raise NotFound(Msg("No such open invitation."))
    row.revoked_at = utcnow()
    audit.record(session, principal.tenant_id, "staff.invitation_revoked", principal.actor,
                 target_type="invitation", target_id=row.id)


def open_invitation(session: Session, token: str) -> Invitation:
    """The invitation for a link token, if it can still be accepted."""
    if not token or len(token) > 200:
        raise InvitationGone(Msg("This invitation link is not valid."))
    row = session.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if row is None:
        raise InvitationGone(Msg("This invitation link is not valid."))
    if row.accepted_at is not None:
        raise InvitationGone(Msg("This invitation has already been used. Sign in instead."))
    if row.revoked_at is not None:
        raise InvitationGone(Msg("This invitation was withdrawn. Ask the business owner for a new one."))
    if row.expires_at <= utcnow():
        raise InvitationGone(Msg("This invitation has expired. Ask the business owner for a new one."))
    return row


@dataclass
class AcceptForm:
    """What an invitee enters to create their account."""

    full_name: str
    position: str
    phone: str
    birth_date: str
    password: str
    accept_terms: bool


def accept_invitation(
    session: Session, token: str, form: AcceptForm, settings: Settings, passwords: Passwords, client_ref: str | None
) -> User:
    """Create the invitee's account under the invitation's subject key; the link stops working."""
    row = open_invitation(session, token)
    errors: dict[str, str] = {}
    name, e164, born = check_person(
        errors, full_name=form.full_name, phone=form.phone, birth_date=form.birth_date, min_age=settings.min_age
    )
    problem = password_problem(form.password, [name, str(row.email)])
    if problem:
        errors["password"] = problem
    if not form.accept_terms:
        errors["accept_terms"] = Msg("Please accept the terms and the privacy policy.")
    if errors:
        raise ValidationFailed(errors)
    user = User(
        tenant_id=row.tenant_id, subject=row.subject, email=row.email, full_name=name,
        position=" ".join(form.position.split())[:120], phone=e164, birth_date=born, role=row.role,
        password_hash=passwords.hash(form.password), accepted_policy_version=CURRENT_POLICY_VERSION,
        accepted_policy_at=utcnow(),
    )
    session.add(user)
    row.accepted_at = utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(Msg("This email already has a niaga account.")) from None
    audit.record(session, row.tenant_id, "staff.joined", Actor("user", user.id, client_ref), target_type="user",
                 target_id=user.id, subject_id=user.subject_id, purpose="U1",
                 details={"role": user.role, "invitation": row.id, "policy_version": CURRENT_POLICY_VERSION})
    return user


def _target(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = session.get(User, (principal.tenant_id, user_id))
    if user is None:
        raise NotFound(Msg("No such staff member."))
    if user.id == principal.user_id:
        raise Forbidden(Msg("You cannot change your own role or status."))
    if user.role == Role.OWNER.value:
        raise Forbidden(Msg("The owner's role and status cannot be changed."))
    if not can_assign(principal.role.value, user.role):
        raise Forbidden(Msg("You cannot manage a staff member with this role."))
    return user


def change_role(session: Session, principal: Principal, user_id: uuid.UUID, role: str) -> User:
    """Give a staff member another role; their sessions end so the new rights apply at once."""
    user = _target(session, principal, user_id)
    if role not in {r.value for r in Role} or not can_assign(principal.role.value, role):
        raise ValidationFailed({"role": Msg("You cannot give someone this role.")})
    old = user.role
    user.role = role
    revoke_all_sessions(session, user.tenant_id, user.id)
    audit.record(session, principal.tenant_id, "staff.role_changed", principal.actor, target_type="user",
                 target_id=user.id, details={"from": old, "to": role})
    return user


def set_status(session: Session, principal: Principal, user_id: uuid.UUID, active: bool) -> User:
    """Disable (ending every session) or re-enable a staff account."""
    user = _target(session, principal, user_id)
    user.status = "active" if active else "disabled"
    if not active:
        revoke_all_sessions(session, user.tenant_id, user.id)
    audit.record(session, principal.tenant_id, "staff.enabled" if active else "staff.disabled", principal.actor,
                 target_type="user", target_id=user.id)
    return user
