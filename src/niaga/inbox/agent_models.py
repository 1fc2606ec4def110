"""Tables of the agents' tools: canned responses, conversation labels, agent availability, assignment settings.

None of them holds a customer's personal data: canned responses and labels are the business's own wording,
and an agent's availability is a work setting of a staff member (no personal value).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKeyConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, Timestamped, UTCDateTime
from niaga.web.i18n import N_

MAX_SHORTCUT = 30
MAX_CANNED_TITLE = 80
MAX_CANNED_BODY = 4096
MAX_LABEL = 30
DEFAULT_OPEN_LIMIT = 10


class CannedResponse(TenantOwned, Timestamped, Base):
    """A saved reply an agent inserts by typing its /shortcut."""

    __tablename__ = "inbox_canned_responses"

    shortcut: Mapped[str] = mapped_column(String(MAX_SHORTCUT), info={"not_personal": N_(
        "A short word the business chooses to insert a saved reply, such as 'ongkir'")})
    title: Mapped[str] = mapped_column(String(MAX_CANNED_TITLE), default="", info={"not_personal": N_(
        "The business's own name for a saved reply")})
    body: Mapped[str] = mapped_column(String(MAX_CANNED_BODY), info={"not_personal": N_(
        "The business's own wording of a saved reply, written for every customer alike")})
    created_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "shortcut", name="uq_inbox_canned_responses_shortcut"),
        ForeignKeyConstraint(["tenant_id", "created_by"], ["users.tenant_id", "users.id"],
                             name="fk_inbox_canned_responses_created_by_users"),
    )


class ConversationLabel(TenantOwned, Base):
    """A label the business defines for sorting conversations (conversations keep the names they carry)."""

    __tablename__ = "inbox_labels"

    name: Mapped[str] = mapped_column(String(MAX_LABEL), info={"not_personal": N_(
        "A word the business uses to sort its conversations, such as 'komplain'")})
    color: Mapped[str] = mapped_column(String(7), default="#5b6b7a")

    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_inbox_labels_name"),)


class AgentState(TenantOwned, Base):
    """Whether a staff member takes new conversations now, and how many open ones they hold at most."""

    __tablename__ = "inbox_agent_states"

    user_id: Mapped[uuid.UUID]
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    max_open: Mapped[int] = mapped_column(Integer, default=DEFAULT_OPEN_LIMIT)
    # Round-robin turn: the agent assigned longest ago goes next.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", name="uq_inbox_agent_states_user"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE",
                             name="fk_inbox_agent_states_user_id_users"),
    )


class InboxSettings(TenantOwned, Base):
    """A business's inbox settings: automatic assignment on or off."""

    __tablename__ = "inbox_settings"

    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("tenant_id", name="uq_inbox_settings_tenant"),)
