"""Tenants, staff users, invitations, sessions, API tokens and login throttles."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from niaga.db.base import Base, TenantOwned, Timestamped, new_id, utcnow
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk

U1, U3, U5, U9, U10 = Purpose.U1, Purpose.U3, Purpose.U5, Purpose.U9, Purpose.U10


class Tenant(Timestamped, Base):
    """A business on the platform. Its fields describe the business, not a person."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    industry: Mapped[str] = mapped_column(String(40), default="retail")
    address: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Jakarta")
    is_pkp: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(5), default="id")
    # The privacy contact is published in the privacy policy (D4), so it is business contact data.
    privacy_contact_email: Mapped[str] = mapped_column(String(254), default="")
    dpo_name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")


class User(TenantOwned, SubjectOwned, Timestamped, Base):
    """A staff member. Their personal fields are encrypted under their own subject key."""

    __tablename__ = "users"

    email = personal(
        Category.CONTACT, [U1, U5, U9], retention=Retention.ACCOUNT, index="email", unique=True, scope="platform",
        description="Sign-in email and service notices",
    )
    full_name = personal(Category.IDENTITY, [U1], retention=Retention.ACCOUNT, index="words", description="Staff name")
    position = personal(Category.IDENTITY, [U1], retention=Retention.ACCOUNT, description="Job title")
    phone = personal(
        Category.CONTACT, [U1, U5], retention=Retention.ACCOUNT, index="phone", description="Mobile phone (E.164)"
    )
    birth_date = personal(
        Category.IDENTITY, [U1, U10], retention=Retention.ACCOUNT, python_type=date,
        description="Date of birth, to enforce the minimum age (H1)",
    )
    totp_secret = personal(
        Category.IDENTIFICATION, [U9], retention=Retention.ACCOUNT, description="Second-factor secret"
    )

    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | disabled
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id only, never the password
    locale: Mapped[str] = mapped_column(String(5), default="id")
    accepted_policy_version: Mapped[str | None] = mapped_column(String(40))
    accepted_policy_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]

    __table_args__ = (subject_fk(),)


class Invitation(TenantOwned, SubjectOwned, Base):
    """A single-use, expiring invitation; the invitee's email is theirs, under their own key."""

    __tablename__ = "invitations"

    email = personal(
        Category.CONTACT, [U1, U5], retention=Retention.ACCOUNT, index="email", description="Invitee email"
    )
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    invited_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "invited_by"], ["users.tenant_id", "users.id"]),
    )


class StaffSession(TenantOwned, SubjectOwned, Base):
    """A server-side login session; the cookie carries a random token whose hash is stored here."""

    __tablename__ = "staff_sessions"

    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    pending_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    user_agent = personal(
        Category.DEVICE, [U3, U9], retention=Retention.SESSION, description="Browser of the session"
    )
    ip_address = personal(
        Category.DEVICE, [U9], retention=Retention.SESSION, description="Address the session signed in from"
    )

    user: Mapped[User] = relationship(
        primaryjoin="and_(StaffSession.tenant_id == User.tenant_id, foreign(StaffSession.user_id) == User.id)",
        lazy="joined",
        viewonly=True,
    )

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )


class ApiToken(TenantOwned, Base):
    """A scoped API token: shown once, stored as a hash, revocable."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID]
    label: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(
        primaryjoin="and_(ApiToken.tenant_id == User.tenant_id, foreign(ApiToken.user_id) == User.id)",
        lazy="joined",
        viewonly=True,
    )

    __table_args__ = (ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),)


class Team(TenantOwned, Base):
    """A group of staff (e.g. "Sales Jogja"); agents see their teams' records."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class TeamMember(Base):
    """Membership of a staff member in a team."""

    __tablename__ = "team_members"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_team_members_user", "tenant_id", "user_id"),
    )


class LoginThrottle(Base):
    """Failed sign-in counter for one account or one client address (keys are keyed hashes, not values)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]

    __table_args__ = (Index("ix_login_throttles_locked_until", "locked_until"),)


__all__ = ["Tenant", "User", "Invitation", "StaffSession", "ApiToken", "Team", "TeamMember", "LoginThrottle"]
