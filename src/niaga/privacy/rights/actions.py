"""Carrying out what a person asked for (UU PDP Pasal 6, 8-11, 25; policies.md R2-R5, H2): services the
privacy-request flow calls once a request is verified.

Every function takes `(session, tenant_id, subject_id, *, actor, request_id, ...)`, works in the caller's
transaction (flushes, never commits), takes effect at once — the next `marketing_audience` already
skips the person — and appends one `privacy.right_fulfilled` audit event naming the right and the
request, next to the kernel's own events (consent withdrawn, restricted, subject erased). Audit details
hold field names and ids only, never values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.contacts import service as contacts
from niaga.crm.contacts.validation import ADDRESS_PARTS
from niaga.crm.models import Contact
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.logging import scrub
from niaga.kit.messages import Msg
from niaga.privacy import audit, consent
from niaga.privacy.audit import Actor
from niaga.privacy.consent import ConsentMethod, RestrictionKind
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import REGISTRY, is_readable
from niaga.privacy.models import DataSubject, ErasureRecord

# What a person may ask to correct, as the privacy center's form names it. `email` and `phone` replace
# the first (main) address or number and keep the others; `address`, `city`, `province` and
# `postal_code` change the first address on file (a shipping address when there is none).
CORRECTABLE = ("full_name", "email", "phone", "birth_date", "gender", "position", "address", "city", "province",
               "postal_code")
_ADDRESS_KEYS = {"address": "street", "city": "city", "province": "province", "postal_code": "postal_code"}


class CorrectionRefused(Conflict):
    """The correction would give this person data that belongs to someone else (policies R8)."""

    code = "correction-refused"


class NotAChild(Conflict):
    """A guardian's removal request for a person whose recorded birth date says they are not a child."""

    code = "not-a-child"


def _actor(actor: Any) -> Actor:
    return actor if isinstance(actor, Actor) else actor.actor


def _subject(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> DataSubject:
    subject = session.get(DataSubject, (tenant_id, subject_id))
    if subject is None:
        raise NotFound(Msg("No such person."))
    return subject


def _live_subject(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> DataSubject:
    subject = _subject(session, tenant_id, subject_id)
    if subject.is_erased:
        raise Conflict(Msg("This person's data has been erased."))
    return subject


def _reference(request_id: uuid.UUID | None) -> str | None:
    """The request id as an erasure reference (the log's label check refuses anything that looks personal)."""
    if request_id is None:
        return None
    text = str(request_id)
    return text if scrub(text) == text else request_id.hex


def _fulfilled(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, actor: Actor, right: str,
               request_id: uuid.UUID | None, **details: Any) -> None:
    audit.record(session, tenant_id, "privacy.right_fulfilled", actor, target_type="data_subject",
                 target_id=subject_id, subject_id=subject_id, purpose="U10",
                 details={"right": right, "request_id": request_id, **details})


# -- correction (Pasal 6) ---------------------------------------------------------------------------
def _contact_of(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> Contact:
    contact = session.scalar(select(Contact).where(Contact.tenant_id == tenant_id, Contact.subject_id == subject_id,
                                                   Contact.status == "active"))
    if contact is None:
        raise NotFound(Msg("This person is not a customer of the business; there is no contact to correct."))
    return contact


def _desk(tenant_id: uuid.UUID, actor: Actor) -> Principal:
    """The privacy desk acting through the contacts service: sees every contact, audits as the real actor."""
    return Principal(tenant_id=tenant_id, user_id=actor.id or uuid.UUID(int=0), subject_id=None, role=Role.OWNER,
                     permissions=ROLE_PERMISSIONS[Role.OWNER], via="session", client_ref=actor.client_ref)


def _replace_first(values: list[str], new: str) -> list[str]:
    return [new, *[v for v in values[1:] if v != new]]


def _contact_changes(contact: Contact, changes: dict[str, str]) -> dict[str, Any]:
    """The corrections as the contacts service's input (lists and addresses completed from what is on file)."""
    data: dict[str, Any] = {}
    for key in ("full_name", "birth_date", "gender", "position"):
        if key in changes:
            data[key] = changes[key]
    if "email" in changes:
        data["emails"] = _replace_first([str(r.email) for r in contact.emails if is_readable(r.email)],
                                        changes["email"].strip())
    if "phone" in changes:
        data["phones"] = _replace_first([str(r.phone) for r in contact.phones if is_readable(r.phone)],
                                        changes["phone"].strip())
    if _ADDRESS_KEYS.keys() & changes.keys():
        current = {kind: dict(value) for kind, value in contacts.first_addresses(contact).items()
                   if isinstance(value, dict)}
        kind = next(iter(current), "shipping")
        address = {part: current.get(kind, {}).get(part, "") for part in ADDRESS_PARTS}
        for key, part in _ADDRESS_KEYS.items():
            if key in changes:
                address[part] = changes[key]
        data["addresses"] = {**current, kind: address}
    return data


def apply_correction(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, changes: dict[str, str], *,
                     actor: Any, request_id: uuid.UUID | None) -> list[str]:
    """Correct a person's contact details through the contacts service; returns the fields that changed.

    Keys are those of `CORRECTABLE`. Values are checked as every other input path checks them (emails,
    E.164 phones, real birth dates). A value that already belongs to another person is refused
    (`CorrectionRefused`, R8), and nothing is written.
    """
    who = _actor(actor)
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed({"changes": Msg("Say what should be corrected.")})
    unknown = sorted(k for k in changes if k not in CORRECTABLE)
    if unknown or not all(isinstance(v, str) for v in changes.values()):
        raise ValidationFailed({"changes": Msg("Only name, email, phone, date of birth, gender, position and "
                                               "address can be corrected here.")})
    _live_subject(session, tenant_id, subject_id)
    contact = _contact_of(session, tenant_id, subject_id)
    desk = _desk(tenant_id, who)
    try:
        _, changed = contacts.change_contact(session, desk, contact.id, _contact_changes(contact, changes),
                                             audit_event=False, loaded=contact)
    except contacts.DuplicateContact as exc:
        raise CorrectionRefused(_REFUSALS.get(exc.field or "", _REFUSALS[""]), field=exc.field) from None
    if changed:
        _fulfilled(session, tenant_id, subject_id, who, "correction", request_id, fields=sorted(changed))
    return sorted(changed)


_REFUSALS = {
    "emails": Msg("This email address belongs to another person's record, so it cannot be given to this person. "
                  "Nothing was changed."),
    "phones": Msg("This phone number belongs to another person's record, so it cannot be given to this person. "
                  "Nothing was changed."),
    "": Msg("This value belongs to another person's record, so it cannot be given to this person. "
            "Nothing was changed."),
}


# -- consent, restriction, objection (Pasal 9-11) ---------------------------------------------------
def withdraw_all_consents(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                          request_id: uuid.UUID | None, channel: str = "") -> int:
    """Withdraw every consent the person has given (R4); returns how many purposes were withdrawn."""
    who = _actor(actor)
    subject = _live_subject(session, tenant_id, subject_id)
    count = consent.withdraw_all(session, subject, who, ConsentMethod.REQUEST, channel=channel)
    _fulfilled(session, tenant_id, subject_id, who, "withdraw_consent", request_id, withdrawn=count)
    return count


def _restrict(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, kind: RestrictionKind, actor: Any,
              request_id: uuid.UUID | None, right: str) -> consent.ProcessingRestriction:
    who = _actor(actor)
    subject = _live_subject(session, tenant_id, subject_id)
    row = consent.restrict(session, subject, kind, who, reason="request")
    _fulfilled(session, tenant_id, subject_id, who, right, request_id, restriction_id=row.id)
    return row


def restrict_person(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                    request_id: uuid.UUID | None) -> consent.ProcessingRestriction:
    """Suspend processing beyond storage (Pasal 11): no marketing, segments or automated decisions."""
    return _restrict(session, tenant_id, subject_id, RestrictionKind.RESTRICT, actor, request_id, "restrict")


def object_to_automated(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                        request_id: uuid.UUID | None) -> consent.ProcessingRestriction:
    """Record an objection to decisions based solely on automated processing, profiling included (Pasal 10)."""
    return _restrict(session, tenant_id, subject_id, RestrictionKind.OBJECT_AUTOMATED, actor, request_id,
                     "object_automated")


def object_to_marketing(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                        request_id: uuid.UUID | None) -> consent.ProcessingRestriction:
    """Record an objection to marketing on every channel (R5), whatever consents say."""
    return _restrict(session, tenant_id, subject_id, RestrictionKind.OBJECT_MARKETING, actor, request_id,
                     "object_marketing")


def lift_restriction(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                     request_id: uuid.UUID | None, kind: RestrictionKind = RestrictionKind.RESTRICT) -> int:
    """End a restriction or objection at the person's request; returns how many were lifted."""
    who = _actor(actor)
    subject = _live_subject(session, tenant_id, subject_id)
    lifted = consent.lift(session, subject, kind, who)
    _fulfilled(session, tenant_id, subject_id, who, "lift_restriction", request_id, kind=kind.value, lifted=lifted)
    return lifted


# -- deletion (Pasal 8) and a guardian's removal request (H2) ---------------------------------------
def _erase(session: Session, subject: DataSubject, who: Actor, request_id: uuid.UUID | None, right: str,
           reason: str) -> ErasureRecord:
    tenant_id, subject_id = subject.tenant_id, subject.id
    if not subject.is_erased:
        consent.withdraw_all(session, subject, who, ConsentMethod.REQUEST)
    erase_subject(session, tenant_id, subject_id, who, reason, reference=_reference(request_id))
    _fulfilled(session, tenant_id, subject_id, who, right, request_id)
    return session.get(ErasureRecord, (tenant_id, subject_id))


def delete_person(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                  request_id: uuid.UUID | None, notify: Callable[[], None] | None) -> ErasureRecord:
    """Erase a person at their request: tell them first (`notify`, while their address still reads), end
    every consent, then crypto-shred. Rows the law says to keep (won deals today, tax records later) stay,
    without identity. Erasing an erased person only records the request."""
    who = _actor(actor)
    subject = _subject(session, tenant_id, subject_id)
    if notify is not None:
        notify()
    return _erase(session, subject, who, request_id, "erasure", "subject-request")


def birth_date_of(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> date | None:
    """The person's recorded birth date, from any record declaring one (contact, staff account)."""
    for spec in REGISTRY:
        if spec.column != "birth_date" or not hasattr(spec.model, "subject_id"):
            continue
        model = spec.model
        for row in session.scalars(select(model).where(model.tenant_id == tenant_id, model.subject_id == subject_id)):
            value = row.birth_date
            if isinstance(value, date):
                return value
    return None


def guardian_removal(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                     request_id: uuid.UUID | None, notify: Callable[[], None] | None,
                     guardian: dict[str, str] | None = None) -> ErasureRecord:
    """A parent or guardian has a child's data removed and subscriptions ended (H2).

    The person must be under 18 by their recorded birth date (`NotAChild` otherwise). Every marketing
    consent in force is withdrawn with the guardian method (and the guardian's name and relation, when
    given, as sealed evidence), then the child is erased as `delete_person` does.
    """
    who = _actor(actor)
    subject = _live_subject(session, tenant_id, subject_id)
    if not consent.is_child(birth_date_of(session, tenant_id, subject_id)):
        raise NotAChild(Msg("By the date of birth on record this person is not a child, so a guardian cannot ask "
                            "for the removal. The person can ask for it themselves."))
    if notify is not None:
        notify()
    ended = 0
    for state in consent.current_consents(session, tenant_id, subject_id).values():
        if state.granted and state.purpose.is_marketing:
            consent.record_consent(session, subject, state.purpose, False, method=ConsentMethod.GUARDIAN,
                                   actor=who, guardian=guardian)
            ended += 1
    _fulfilled(session, tenant_id, subject_id, who, "guardian_withdrawal", request_id, withdrawn=ended)
    return _erase(session, subject, who, request_id, "guardian_erasure", "guardian-request")

