"""Tables of data-subject requests (UU PDP Pasal 6-11, 30-33, 40-44; policies.md R1-R9, H2).

Whose key seals a request (decision)
------------------------------------
A request is `SubjectOwned`. When the address given in the privacy center (or the contact staff picked)
belongs to a contact, the request is sealed under **that contact's data subject**: erasing the person
(crypto-shredding their key) makes the request's address, details and download link unreadable too,
while its kind, status and dates stay for the record. When nobody matches, the request is sealed under
a fresh data subject of kind `requester` that holds only what the visitor typed; such a request can never
be verified, no message is sent, and when it expires the requester subject is erased.
`contact_id` names the matched contact (None for an unknown person), which is what staff act on.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from niaga.db.base import Base, TenantOwned, utcnow
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk
from niaga.web.i18n import N_

REQUESTER_KIND = "requester"


class RequestKind(str, enum.Enum):
    """What the person asks for (policies.md R1-R6, H2)."""

    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    WITHDRAW_CONSENT = "withdraw_consent"
    RESTRICT = "restrict"
    PORTABLE_COPY = "portable_copy"
    OBJECT_AUTOMATED = "object_automated"
    GUARDIAN_REMOVAL = "guardian_removal"


class RequestStatus(str, enum.Enum):
    """Where a request stands."""

    AWAITING_VERIFICATION = "awaiting_verification"
    OPEN = "open"  # identity verified; the 72-hour clock runs
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DENIED = "denied"
    EXPIRED = "expired"  # never verified (code guessed, expired or abandoned)


ACTIVE_STATUSES = (RequestStatus.OPEN, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.DENIED, RequestStatus.EXPIRED)


class RequestChannel(str, enum.Enum):
    """How the request reached the business."""

    PRIVACY_CENTER = "privacy_center"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"


class DenialGround(str, enum.Enum):
    """Why a request may be refused: UU PDP Pasal 33 and the two procedural grounds."""

    ENDANGERS_OTHERS = "endangers_others"  # Pasal 33 a: danger to the safety or health of others
    OTHERS_DATA = "others_data"  # Pasal 33 b: would disclose another person's personal data
    NATIONAL_SECURITY = "national_security"  # Pasal 33 c: national defence and security interest
    LAW_ENFORCEMENT = "law_enforcement"  # ongoing law-enforcement process
    IDENTITY_UNVERIFIED = "identity_unverified"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"  # manifestly unfounded or repeated


class PrivacyRequest(TenantOwned, SubjectOwned, Base):
    """One data-subject request; personal values are sealed under the person's (or requester's) key."""

    __tablename__ = "privacy_requests"

    number: Mapped[int] = mapped_column(Integer)  # per tenant, shown to staff as DSR-12
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), default=RequestStatus.AWAITING_VERIFICATION.value)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5), default="id")
    contact_id: Mapped[uuid.UUID | None]
    address_kind: Mapped[str] = mapped_column(String(10), default="email", info={"not_personal": N_(
        "Whether the person identified themselves by email or by phone, not the value itself")})
    contact_detail = personal(Category.CONTACT, [Purpose.U10], retention=Retention.RELATIONSHIP,
                              description="The email or phone a data-subject request was made with")
    details = personal(Category.COMMUNICATION, [Purpose.U10], retention=Retention.RELATIONSHIP,
                       description="What the person wrote in their data-subject request")
    download_link = personal(Category.COMMUNICATION, [Purpose.U10], retention=Retention.RELATIONSHIP,
                             description="The secret download link of the person's access package")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str] = mapped_column(String(20), default="")  # "code" | "staff"
    due_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    handler_id: Mapped[uuid.UUID | None]
    logged_by_id: Mapped[uuid.UUID | None]
    decision_ground: Mapped[str | None] = mapped_column(String(30))
    status_token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    code_expires_at: Mapped[datetime | None]
    attempts_left: Mapped[int] = mapped_column(Integer, default=5)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)

    events: Mapped[list["PrivacyRequestEvent"]] = relationship(
        primaryjoin="and_(PrivacyRequest.tenant_id == PrivacyRequestEvent.tenant_id, "
                    "PrivacyRequest.id == foreign(PrivacyRequestEvent.request_id))",
        order_by="PrivacyRequestEvent.at, PrivacyRequestEvent.id", lazy="select", viewonly=True,
    )

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        ForeignKeyConstraint(["tenant_id", "handler_id"], ["users.tenant_id", "users.id"]),
        ForeignKeyConstraint(["tenant_id", "logged_by_id"], ["users.tenant_id", "users.id"]),
        Index("ix_privacy_requests_token", "status_token_hash", unique=True),
        Index("ix_privacy_requests_queue", "tenant_id", "status", "due_at"),
        Index("ix_privacy_requests_number", "tenant_id", "number", unique=True),
    )


class PrivacyRequestEvent(TenantOwned, SubjectOwned, Base):
    """One step of a request's trail: a status change, an assignment, a note."""

    __tablename__ = "privacy_request_events"

    request_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(30))  # received, code_sent, verified, assigned, approved, …
    status: Mapped[str | None] = mapped_column(String(30))  # the status after this step
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    note = personal(Category.COMMUNICATION, [Purpose.U10], retention=Retention.RELATIONSHIP,
                    description="A staff note on a data-subject request")

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "request_id"], ["privacy_requests.tenant_id", "privacy_requests.id"],
                             ondelete="CASCADE"),
        Index("ix_privacy_request_events_request", "tenant_id", "request_id", "at"),
    )


__all__ = ["PrivacyRequest", "PrivacyRequestEvent", "RequestKind", "RequestStatus", "RequestChannel",
           "DenialGround", "REQUESTER_KIND", "ACTIVE_STATUSES", "CLOSED_STATUSES"]
