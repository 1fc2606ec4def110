"""Who is acting: the authenticated principal and the tenant scope only authorization creates."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from niaga.identity.permissions import Perm, Role
from niaga.privacy.audit import Actor
from niaga.privacy.vault import get_vault


@dataclass(frozen=True)
class TenantScope:
    """The tenant a request may touch; repositories filter every query by it."""

    tenant_id: uuid.UUID


@dataclass(frozen=True)
class Principal:
    """A signed-in staff member (by session or API token) and what they may do."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    subject_id: uuid.UUID | None
    role: Role
    permissions: frozenset[Perm]
    via: str  # "session" | "token"
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    client_ref: str | None = None
    locale: str = "id"
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def scope(self) -> TenantScope:
        """The tenant scope for repositories."""
        return TenantScope(self.tenant_id)

    @property
    def actor(self) -> Actor:
        """This principal as an audit actor."""
        if self.via == "token":
            return Actor("token", self.token_id, self.client_ref)
        return Actor("user", self.user_id, self.client_ref)

    def can(self, perm: Perm) -> bool:
        """True when this principal holds the permission."""
        return perm in self.permissions


def client_ref(session: Session, address: str | None) -> str | None:
    """A keyed hash of a client address: lets lockouts and audits correlate without storing the address."""
    if not address:
        return None
    secret = get_vault().platform_secret(session, "client-ref")
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:32]
