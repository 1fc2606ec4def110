"""API shapes for the service desk: tickets, comments, activities, SLA settings and the report.

Inputs accept plain strings and leave the checks (and their translated messages) to the services, so the
API and the pages refuse the same things with the same words. Sizes are capped here too, so a huge body
is refused before any work.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from niaga.privacy.fields import Unreadable


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


PersonalStr = Annotated[str | None, BeforeValidator(_personal)]
Text = Annotated[str, Field(max_length=20_000)]
Short = Annotated[str, Field(max_length=200)]
Word = Annotated[str, Field(max_length=20)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(_Input):
    """A new ticket. Without `assignee_id` it is assigned to the caller; without `team_id` it gets the
    contact's team."""

    contact_id: uuid.UUID
    title: Short
    description: Text | None = None
    priority: Word = "normal"
    channel: Word = "manual"
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


class TicketUpdate(_Input):
    """Changes to a ticket; only the fields sent change (null clears assignee or team)."""

    status: Word | None = None
    priority: Word | None = None
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    title: Short | None = None
    description: Text | None = None


class ClockRead(BaseModel):
    """One SLA clock: state is none | running | paused | met | breached; minutes are business minutes."""

    state: str
    target_minutes: int | None
    used_minutes: int
    remaining_minutes: int | None
    percent_used: int | None
    due_at: datetime | None
    at_risk: bool
    breached: bool


class SlaRead(BaseModel):
    """Both clocks of a ticket."""

    first_response: ClockRead
    resolution: ClockRead


class TicketSummary(BaseModel):
    """A ticket in a list."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    contact_id: uuid.UUID
    title: PersonalStr
    priority: str
    status: str
    channel: str
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla: SlaRead


class TicketRead(TicketSummary):
    """A ticket with its description."""

    description: PersonalStr
    created_by: uuid.UUID | None


class TicketPage(BaseModel):
    """A page of tickets, newest first; pass `next_cursor` as `before` for the next page."""

    items: list[TicketSummary]
    next_cursor: str | None = None


class CommentCreate(_Input):
    """A public reply (default), an internal note (`public: false`), or the customer's own message."""

    body: Text
    public: bool = True
    from_customer: bool = False


class CommentRead(BaseModel):
    """A comment on a ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: uuid.UUID | None
    author_kind: str
    public: bool
    body: PersonalStr
    created_at: datetime


class ActivityCreate(_Input):
    """A note, call, meeting or task about a contact. A time without an offset is in the business's zone."""

    contact_id: uuid.UUID
    kind: Word
    body: Text
    due_at: datetime | None = None
    duration_minutes: int | None = None
    deal_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


class ActivityUpdate(_Input):
    """Changes to an activity; `done` marks a task done or open again."""

    body: Text | None = None
    due_at: datetime | None = None
    duration_minutes: int | None = None
    owner_id: uuid.UUID | None = None
    done: bool | None = None


class ActivityRead(BaseModel):
    """An activity."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    contact_id: uuid.UUID
    deal_id: uuid.UUID | None
    ticket_id: uuid.UUID | None
    body: PersonalStr
    due_at: datetime | None
    done_at: datetime | None
    overdue: bool = False
    duration_minutes: int | None
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime


class OpeningRead(BaseModel):
    """Opening hours of one weekday (0 = Monday), local time."""

    weekday: int
    opens: str
    closes: str


class OpeningWrite(_Input):
    """Opening hours of one weekday; weekdays not listed are closed."""

    weekday: int = Field(ge=0, le=6)
    opens: Word
    closes: Word


class HoursWrite(_Input):
    """The whole week's opening hours."""

    hours: list[OpeningWrite] = Field(max_length=7)


class HolidayCreate(_Input):
    """A closed date."""

    day: Word
    name: Annotated[str, Field(max_length=200)] = ""


class HolidayRead(BaseModel):
    """A closed date."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    day: date
    name: str


class Targets(_Input):
    """Targets in business minutes (null: no target)."""

    first_response_minutes: int | None = None
    resolution_minutes: int | None = None


class PoliciesWrite(_Input):
    """Default targets per priority (low, normal, high, urgent)."""

    policies: dict[Word, Targets] = Field(max_length=4)


class ContactPolicyWrite(Targets):
    """A contact's own targets for a priority."""

    contact_id: uuid.UUID
    priority: Word


class PolicyRead(BaseModel):
    """A policy: the default for a priority (contact_id null) or a contact's override."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    priority: str
    contact_id: uuid.UUID | None
    first_response_minutes: int | None
    resolution_minutes: int | None


class SlaSettingsRead(BaseModel):
    """Everything the SLA is measured by."""

    timezone: str
    hours: list[OpeningRead]
    holidays: list[HolidayRead]
    policies: list[PolicyRead]


class ReportRowRead(BaseModel):
    """Counts for a priority or an agent (key: priority, assignee id, or "" for unassigned)."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    tickets: int
    met: int
    breached: int
    open: int
    no_target: int
    met_percent: int | None
    median_first_response_minutes: int | None


class SlaReportRead(BaseModel):
    """The SLA report for a period of local dates."""

    model_config = ConfigDict(from_attributes=True)

    since: date
    until: date
    total: ReportRowRead
    by_priority: list[ReportRowRead]
    by_agent: list[ReportRowRead]
