"""API shapes for identity: staff, tenant, tokens, invitations, audit events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from niaga.privacy.fields import Unreadable


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


# A personal value: the erased / unreadable marker reads as "[erased]" / "[unreadable]".
PersonalStr = Annotated[str | None, BeforeValidator(_personal)]
PersonalDate = Annotated[date | str | None, BeforeValidator(_personal)]


class StaffRead(BaseModel):
    """A staff member as the API shows them."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: PersonalStr
    full_name: PersonalStr
    position: PersonalStr
    phone: PersonalStr
    role: str
    status: str
    locale: str
    last_login_at: datetime | None
    created_at: datetime


class MeRead(StaffRead):
    """The signed-in staff member, with the fields only they see."""

    birth_date: PersonalDate
    accepted_policy_version: str | None
    second_factor: bool
    tenant_id: uuid.UUID


class ProfileUpdate(BaseModel):
    """Fields a staff member may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(max_length=200)
    position: str = Field("", max_length=200)
    phone: str = Field(max_length=40)
    locale: Literal["id", "en"] = "id"


class TenantRead(BaseModel):
    """The business's settings."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    industry: str
    address: str
    timezone: str
    is_pkp: bool
    locale: str
    privacy_contact_email: str
    dpo_name: str


class TenantUpdate(BaseModel):
    """Changeable business settings (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    industry: str | None = Field(None, max_length=40)
    address: str | None = Field(None, max_length=400)
    timezone: str | None = Field(None, max_length=40)
    is_pkp: bool | None = None
    locale: str | None = Field(None, max_length=5)
    privacy_contact_email: str | None = Field(None, max_length=254)
    dpo_name: str | None = Field(None, max_length=200)


class InvitationCreate(BaseModel):
    """Invite someone by email to a role."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    role: str = Field(max_length=20)


class InvitationRead(BaseModel):
    """An open invitation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: PersonalStr
    role: str
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    """A new invitation with its link (shown only now)."""

    link: str


class StaffUpdate(BaseModel):
    """Change a staff member's role or status."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(None, max_length=20)
    status: Literal["active", "disabled"] | None = None


class TokenCreate(BaseModel):
    """A new API token."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    expires_days: int | None = None


class TokenRead(BaseModel):
    """An API token without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    label: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    """A new token with its secret (shown only now)."""

    token: str


class AuditEventRead(BaseModel):
    """One audit event (no personal values by construction)."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    subject_id: uuid.UUID | None
    purpose: str | None
    details: dict
    hash: str


class Page(BaseModel):
    """A page of results with the cursor for the next one."""

    items: list[Any]
    next_cursor: str | None = None


class TeamWrite(BaseModel):
    """Create or rename a team."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)


class TeamMembers(BaseModel):
    """The full member list of a team."""

    model_config = ConfigDict(extra="forbid")

    members: list[uuid.UUID] = Field(max_length=500)


class TeamRead(BaseModel):
    """A team and its member ids."""

    id: uuid.UUID
    name: str
    members: list[uuid.UUID]
