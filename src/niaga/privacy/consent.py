"""The consent ledger (UU PDP Pasal 20-25; policies.md U6, R4, R5, H3, W1).

Every grant and withdrawal is an append-only event with its time, method, the policy version the
person was shown, and evidence, so the business can prove consent. The current state of a purpose is
the newest event. A customer under 18 is a child (PP 17/2025): marketing consent for them counts only
when a parent or guardian gave it, and is recorded as such.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from niaga.db.base import Base, TenantOwned, utcnow
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk
from niaga.privacy.models import DataSubject
from niaga.privacy.policy import CURRENT_POLICY_VERSION

CHILD_AGE = 18


class ConsentPurpose(str, enum.Enum):
    """What a person can consent to (each needs its own, unbundled consent)."""

    MARKETING_WHATSAPP = "marketing.whatsapp"
    MARKETING_EMAIL = "marketing.email"
    MARKETING_SMS = "marketing.sms"
    MARKETING_TELEGRAM = "marketing.telegram"
    MARKETING_LINE = "marketing.line"
    MARKETING_INSTAGRAM = "marketing.instagram"
    ANALYTICS = "analytics"
    SHARING = "sharing"
    RESEARCH = "research"
    CROSS_BORDER = "cross_border"

    @property
    def is_marketing(self) -> bool:
        """True for the marketing purposes (the ones children need a guardian for)."""
        return self.value.startswith("marketing.")


class ConsentMethod(str, enum.Enum):
    """How the consent or withdrawal was given."""

    FORM = "form"
    CHECKBOX = "checkbox"
    CHAT_KEYWORD = "chat_keyword"
    API = "api"
    IMPORT = "import"
    GUARDIAN = "guardian"
    GPC = "gpc"  # Global Privacy Control signal
    STAFF = "staff"  # recorded by staff from a letter, call or message
    REQUEST = "request"  # a data-subject request (withdrawal, erasure)


class ConsentEvent(TenantOwned, SubjectOwned, Base):
    """One grant or withdrawal; never updated or deleted while the person exists."""

    __tablename__ = "consent_events"

    purpose: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    method: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20), default="")  # where it happened: web, whatsapp, pos, …
    policy_version: Mapped[str] = mapped_column(String(40))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    by_guardian: Mapped[bool] = mapped_column(default=False)
    evidence = personal(Category.COMMUNICATION, [Purpose.U6, Purpose.U10], retention=Retention.RELATIONSHIP,
                        python_type=dict, description="Proof of consent: what was shown and answered, guardian")

    __table_args__ = (subject_fk(), Index("ix_consent_events_subject", "tenant_id", "subject_id", "purpose", "at"))


@dataclass(frozen=True)
class ConsentState:
    """The current answer for one purpose."""

    purpose: ConsentPurpose
    granted: bool
    at: datetime | None
    method: str | None
    by_guardian: bool


def is_child(birth_date: date | None, today: date | None = None) -> bool:
    """True when the person is under 18 (unknown birth dates are treated as adults)."""
    if not isinstance(birth_date, date):
        return False
    today = today or utcnow().date()
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    return age < CHILD_AGE


def record_consent(
    session: Session, subject: DataSubject, purpose: ConsentPurpose, granted: bool, *, method: ConsentMethod,
    actor: Actor, channel: str = "", evidence: dict | None = None, birth_date: date | None = None,
    guardian: dict | None = None, policy_version: str = CURRENT_POLICY_VERSION,
) -> ConsentEvent:
    """Append a grant or withdrawal; a child's marketing grant needs a guardian (recorded as such)."""
    if subject.is_erased:
        raise ValidationFailed({"subject": Msg("This person's data has been erased.")})
    if granted and purpose.is_marketing and is_child(birth_date) and not guardian:
        raise ValidationFailed({"guardian": Msg("A customer under 18 needs a parent's or guardian's consent.")})
    if guardian is not None and not (guardian.get("name") and guardian.get("relation")):
        raise ValidationFailed({"guardian": Msg("Give the guardian's name and relation to the child.")})
    proof = dict(evidence or {})
    if guardian:
        proof["guardian"] = {"name": guardian["name"], "relation": guardian["relation"]}
    event = ConsentEvent(
        tenant_id=subject.tenant_id, subject=subject, purpose=purpose.value, granted=granted,
        method=(ConsentMethod.GUARDIAN if guardian else method).value, channel=channel,
        policy_version=policy_version, actor_type=actor.type, actor_id=actor.id, by_guardian=bool(guardian),
        evidence=proof or None,
    )
    session.add(event)
    session.flush()
    audit.record(session, subject.tenant_id, "consent.granted" if granted else "consent.withdrawn", actor,
                 target_type="consent", target_id=event.id, subject_id=subject.id, purpose="U6",
                 details={"purpose": purpose.value, "method": event.method, "by_guardian": event.by_guardian})
    return event


def current_consents(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> dict[ConsentPurpose, ConsentState]:
    """The newest answer per purpose (purposes never answered read as not granted)."""
    states = {p: ConsentState(p, False, None, None, False) for p in ConsentPurpose}
    rows = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.tenant_id == tenant_id, ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    for row in rows:
        try:
            purpose = ConsentPurpose(row.purpose)
        except ValueError:
            continue
        states[purpose] = ConsentState(purpose, row.granted, row.at, row.method, row.by_guardian)
    return states


def has_consent(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, purpose: ConsentPurpose) -> bool:
    """True when the newest answer for the purpose is a grant."""
    row = session.scalar(
        select(ConsentEvent.granted)
        .where(ConsentEvent.tenant_id == tenant_id, ConsentEvent.subject_id == subject_id,
               ConsentEvent.purpose == purpose.value)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )
    return bool(row)


def consenting_subjects(session: Session, tenant_id: uuid.UUID, purpose: ConsentPurpose,
                        subject_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Of the given subjects, those whose newest answer for the purpose is a grant (for broadcasts)."""
    if not subject_ids:
        return set()
    latest: dict[uuid.UUID, bool] = {}
    rows = session.execute(
        select(ConsentEvent.subject_id, ConsentEvent.granted)
        .where(ConsentEvent.tenant_id == tenant_id, ConsentEvent.purpose == purpose.value,
               ConsentEvent.subject_id.in_(subject_ids))
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    for subject_id, granted in rows:
        latest[subject_id] = granted
    return {s for s, granted in latest.items() if granted}


def withdraw_all(session: Session, subject: DataSubject, actor: Actor, method: ConsentMethod,
                 channel: str = "") -> int:
    """Withdraw every purpose currently granted (erasure, or a person withdrawing everything)."""
    count = 0
    for state in current_consents(session, subject.tenant_id, subject.id).values():
        if state.granted:
            record_consent(session, subject, state.purpose, False, method=method, actor=actor, channel=channel)
            count += 1
    return count


def proof_of_consent(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> list[dict]:
    """Every consent event of a person, oldest first, as plain data for an export."""
    rows = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.tenant_id == tenant_id, ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    return [
        {"purpose": r.purpose, "granted": r.granted, "at": r.at.isoformat(), "method": r.method,
         "channel": r.channel, "policy_version": r.policy_version, "by_guardian": r.by_guardian,
         "recorded_by": r.actor_type, "evidence": r.evidence if isinstance(r.evidence, dict) else str(r.evidence)}
        for r in rows
    ]


class RestrictionKind(str, enum.Enum):
    """Limits a person can put on processing (UU PDP Pasal 10-11; policies.md R5)."""

    RESTRICT = "restrict"  # suspend processing beyond storage: no marketing, segments or automated decisions
    OBJECT_AUTOMATED = "object_automated"  # no decisions based solely on automated processing
    OBJECT_MARKETING = "object_marketing"  # no marketing on any channel


class ProcessingRestriction(TenantOwned, Base):
    """A restriction or objection in force for a person until `lifted_at`."""

    __tablename__ = "processing_restrictions"

    subject_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(40), default="request")  # a code, never free text

    __table_args__ = (subject_fk(), Index("ix_processing_restrictions_subject", "tenant_id", "subject_id"))


def restrict(session: Session, subject: DataSubject, kind: RestrictionKind, actor: Actor,
             reason: str = "request") -> ProcessingRestriction:
    """Put a restriction in force (idempotent: an active one of the same kind is returned)."""
    active = active_restrictions(session, subject.tenant_id, [subject.id]).get(subject.id, set())
    if kind in active:
        return session.scalar(select(ProcessingRestriction).where(
            ProcessingRestriction.tenant_id == subject.tenant_id, ProcessingRestriction.subject_id == subject.id,
            ProcessingRestriction.kind == kind.value, ProcessingRestriction.lifted_at.is_(None)))
    row = ProcessingRestriction(tenant_id=subject.tenant_id, subject_id=subject.id, kind=kind.value, reason=reason)
    session.add(row)
    session.flush()
    audit.record(session, subject.tenant_id, "privacy.restricted", actor, target_type="restriction",
                 target_id=row.id, subject_id=subject.id, details={"kind": kind.value, "reason": reason})
    return row


def lift(session: Session, subject: DataSubject, kind: RestrictionKind, actor: Actor) -> int:
    """End a restriction; returns how many were lifted."""
    rows = list(session.scalars(select(ProcessingRestriction).where(
        ProcessingRestriction.tenant_id == subject.tenant_id, ProcessingRestriction.subject_id == subject.id,
        ProcessingRestriction.kind == kind.value, ProcessingRestriction.lifted_at.is_(None))))
    for row in rows:
        row.lifted_at = utcnow()
        audit.record(session, subject.tenant_id, "privacy.restriction_lifted", actor, target_type="restriction",
                     target_id=row.id, subject_id=subject.id, details={"kind": kind.value})
    return len(rows)


def active_restrictions(session: Session, tenant_id: uuid.UUID,
                        subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[RestrictionKind]]:
    """Restrictions in force, per subject."""
    found: dict[uuid.UUID, set[RestrictionKind]] = {}
    if not subject_ids:
        return found
    rows = session.execute(select(ProcessingRestriction.subject_id, ProcessingRestriction.kind).where(
        ProcessingRestriction.tenant_id == tenant_id, ProcessingRestriction.subject_id.in_(subject_ids),
        ProcessingRestriction.lifted_at.is_(None)))
    for subject_id, kind in rows:
        found.setdefault(subject_id, set()).add(RestrictionKind(kind))
    return found


@dataclass(frozen=True)
class MarketingDecision:
    """Whether one person may receive marketing on a channel, and why not."""

    subject_id: uuid.UUID
    allowed: bool
    reason: str  # "ok" | "no-consent" | "withdrawn" | "restricted" | "objected" | "erased"


def marketing_audience(session: Session, tenant_id: uuid.UUID, purpose: ConsentPurpose,
                       subject_ids: list[uuid.UUID]) -> list[MarketingDecision]:
    """For a broadcast: who may be messaged for this purpose, and the reason for everyone skipped."""
    granted = consenting_subjects(session, tenant_id, purpose, subject_ids)
    restrictions = active_restrictions(session, tenant_id, subject_ids)
    erased = set(session.scalars(select(DataSubject.id).where(
        DataSubject.tenant_id == tenant_id, DataSubject.id.in_(subject_ids), DataSubject.key_wrapped.is_(None))))
    answered = set(session.scalars(select(ConsentEvent.subject_id).where(
        ConsentEvent.tenant_id == tenant_id, ConsentEvent.purpose == purpose.value,
        ConsentEvent.subject_id.in_(subject_ids)).distinct()))
    decisions = []
    for subject_id in subject_ids:
        kinds = restrictions.get(subject_id, set())
        if subject_id in erased:
            reason = "erased"
        elif RestrictionKind.RESTRICT in kinds:
            reason = "restricted"
        elif RestrictionKind.OBJECT_MARKETING in kinds:
            reason = "objected"
        elif subject_id in granted:
            reason = "ok"
        else:
            reason = "withdrawn" if subject_id in answered else "no-consent"
        decisions.append(MarketingDecision(subject_id, reason == "ok", reason))
    return decisions
