"""Service desk tables: tickets with their thread and history, SLA settings, activities.

A ticket, its comments and the activities about a contact are records *about that contact*: their
personal fields are sealed under the contact's subject key, so erasing the contact shreds them too.
Ticket history rows and SLA settings hold no personal values (ids, statuses, numbers, dates).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean, CheckConstraint, Date, ForeignKeyConstraint, Index, Integer, String, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, synonym

from niaga.db.base import Base, TenantOwned, Timestamped, utcnow
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk
from niaga.web.i18n import N_

U1, U2, U5 = Purpose.U1, Purpose.U2, Purpose.U5
REL = Retention.RELATIONSHIP

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "resolved", "closed")
CHANNELS = ("manual", "email", "whatsapp", "instagram", "telegram", "line", "webchat", "phone")
ACTIVITY_KINDS = ("note", "call", "meeting", "task")
AUTHOR_KINDS = ("staff", "customer")


def _within(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _user_fk(table: str, column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], ["users.tenant_id", "users.id"],
                                name=f"fk_{table}_{column}_users")


class Ticket(TenantOwned, SubjectOwned, Timestamped, Base):
    """A customer's request to the business, numbered per tenant (#1001, #1002, ...).

    `owner_id` is the assignee: visibility (crm/visibility.py) lets an agent see the tickets assigned to
    them and to their teams. Each SLA clock (first response, resolution) is stored as its target, the
    business seconds used in finished spans, the start of the running span, and the derived deadline and
    at-risk moment, so lists can filter on "at risk" and "breached" in SQL.
    """

    __tablename__ = "tickets"

    number: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[uuid.UUID]
    title = personal(Category.COMMUNICATION, [U1, U2], retention=REL,
                     description="Subject of a customer's support ticket")
    description = personal(Category.COMMUNICATION, [U1, U2], retention=REL,
                           description="What the customer asked for in a support ticket")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="new")
    channel: Mapped[str] = mapped_column(String(12), default="manual")
    owner_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    response_target_minutes: Mapped[int | None]
    response_used_seconds: Mapped[int] = mapped_column(default=0)
    response_running_since: Mapped[datetime | None]
    response_due_at: Mapped[datetime | None]
    response_warn_at: Mapped[datetime | None]
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_target_minutes: Mapped[int | None]
    resolution_used_seconds: Mapped[int] = mapped_column(default=0)
    resolution_running_since: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    resolution_warn_at: Mapped[datetime | None]
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)

    assignee_id = synonym("owner_id")

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE",
                             name="fk_tickets_contact_contacts"),
        _user_fk("tickets", "owner_id"),
        _user_fk("tickets", "created_by"),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], name="fk_tickets_team_teams"),
        UniqueConstraint("tenant_id", "number", name="uq_tickets_number"),
        CheckConstraint(_within("priority", PRIORITIES), name="priority"),
        CheckConstraint(_within("status", STATUSES), name="status"),
        CheckConstraint(_within("channel", CHANNELS), name="channel"),
        Index("ix_tickets_status", "tenant_id", "status"),
        Index("ix_tickets_owner", "tenant_id", "owner_id"),
        Index("ix_tickets_contact", "tenant_id", "contact_id"),
        Index("ix_tickets_created", "tenant_id", "created_at"),
    )


class TicketComment(TenantOwned, SubjectOwned, Base):
    """A reply to the customer (public), an internal note, or the customer's own message on a ticket."""

    __tablename__ = "ticket_comments"

    ticket_id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID | None]
    author_kind: Mapped[str] = mapped_column(String(10), default="staff")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    body = personal(Category.COMMUNICATION, [U1, U2, U5], retention=REL,
                    description="Replies, notes and customer messages on a support ticket")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE",
                             name="fk_ticket_comments_ticket_tickets"),
        _user_fk("ticket_comments", "author_id"),
        CheckConstraint(_within("author_kind", AUTHOR_KINDS), name="author_kind"),
        Index("ix_ticket_comments_ticket", "tenant_id", "ticket_id", "created_at"),
    )


class TicketEvent(TenantOwned, Base):
    """One change of a ticket's status, priority, assignee or team (ids and values, never text)."""

    __tablename__ = "ticket_events"

    ticket_id: Mapped[uuid.UUID]
    actor_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(12))  # status | priority | assignee | team
    old_value: Mapped[str | None] = mapped_column(String(40))
    new_value: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE",
                             name="fk_ticket_events_ticket_tickets"),
        _user_fk("ticket_events", "actor_id"),
        Index("ix_ticket_events_ticket", "tenant_id", "ticket_id", "at"),
    )


class BusinessHours(TenantOwned, Base):
    """When the business answers customers on one weekday (0 = Monday), in minutes after local midnight.

    A tenant without rows uses the default week (service_desk.calendar.DEFAULT_WEEK).
    """

    __tablename__ = "business_hours"

    weekday: Mapped[int] = mapped_column(Integer)
    opens_minute: Mapped[int] = mapped_column(Integer)
    closes_minute: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("tenant_id", "weekday", name="uq_business_hours_weekday"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440",
                        name="opening"),
    )


class Holiday(TenantOwned, Base):
    """A local date the business is closed (national holidays, collective leave)."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(80), default="", info={"not_personal": N_(
        "The name of a public holiday ('Idul Fitri')")})

    __table_args__ = (UniqueConstraint("tenant_id", "day", name="uq_holidays_day"),)


class SlaPolicy(TenantOwned, Timestamped, Base):
    """First-response and resolution targets (business minutes) for a priority, optionally for one contact.

    A contact's own policy for a priority overrides the tenant's default for that priority.
    """

    __tablename__ = "sla_policies"

    priority: Mapped[str] = mapped_column(String(10))
    contact_id: Mapped[uuid.UUID | None]
    first_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE",
                             name="fk_sla_policies_contact_contacts"),
        CheckConstraint(_within("priority", PRIORITIES), name="priority"),
        UniqueConstraint("tenant_id", "contact_id", "priority", name="uq_sla_policies_contact_priority"),
        # NULL contact ids never clash in a unique constraint: the tenant default gets its own index.
        Index("uq_sla_policies_default", "tenant_id", "priority", unique=True,
              sqlite_where=text("contact_id IS NULL"), postgresql_where=text("contact_id IS NULL")),
    )


class Activity(TenantOwned, SubjectOwned, Timestamped, Base):
    """A note, call, meeting or task about a contact, optionally about one of their deals or tickets.

    `owner_id` is who the activity belongs to (the task's assignee); `due_at` is a task's due time or a
    meeting's start; `done_at` marks a task done.
    """

    __tablename__ = "activities"

    kind: Mapped[str] = mapped_column(String(10))
    contact_id: Mapped[uuid.UUID]
    deal_id: Mapped[uuid.UUID | None]
    ticket_id: Mapped[uuid.UUID | None]
    body = personal(Category.COMMUNICATION, [U1, U2], retention=REL,
                    description="Notes, call and meeting notes and tasks about a customer")
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    duration_minutes: Mapped[int | None]
    owner_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE",
                             name="fk_activities_contact_contacts"),
        ForeignKeyConstraint(["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"],
                             name="fk_activities_ticket_tickets"),
        ForeignKeyConstraint(["tenant_id", "deal_id"], ["deals.tenant_id", "deals.id"],
                             name="fk_activities_deal_deals"),
        _user_fk("activities", "owner_id"),
        _user_fk("activities", "created_by"),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"],
                             name="fk_activities_team_teams"),
        CheckConstraint(_within("kind", ACTIVITY_KINDS), name="kind"),
        Index("ix_activities_contact", "tenant_id", "contact_id", "created_at"),
        Index("ix_activities_owner_due", "tenant_id", "owner_id", "due_at"),
        Index("ix_activities_ticket", "tenant_id", "ticket_id"),
        Index("ix_activities_deal", "tenant_id", "deal_id"),
    )


__all__ = ["Ticket", "TicketComment", "TicketEvent", "BusinessHours", "Holiday", "SlaPolicy", "Activity",
           "PRIORITIES", "STATUSES", "CHANNELS", "ACTIVITY_KINDS"]
