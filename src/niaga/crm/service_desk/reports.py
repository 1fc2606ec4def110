"""The SLA report: per priority and per agent, how many tickets met or breached their targets.

A ticket counts in the period of the local date it was opened (tenant's zone). Its outcome:
- breached: a clock (first response or resolution) passed its deadline;
- met: every clock with a target reached its goal in time;
- open: still running or paused within its targets;
- no target: no policy applied to it.
The median first response is in business minutes, over the tickets that got a public reply.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.service_desk import clocks, sla_settings
from niaga.crm.service_desk.models import PRIORITIES, Ticket
from niaga.crm.visibility import visible
from niaga.db.base import utcnow
from niaga.identity.principal import Principal
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg

MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass
class ReportRow:
    """Counts for one priority or one agent."""

    key: str
    tickets: int = 0
    met: int = 0
    breached: int = 0
    open: int = 0
    no_target: int = 0
    response_minutes: list[int] = field(default_factory=list, repr=False)

    @property
    def median_first_response_minutes(self) -> int | None:
        """Median business minutes to the first reply (None when nobody was answered yet)."""
        if not self.response_minutes:
            return None
        return round(statistics.median(self.response_minutes))

    @property
    def met_percent(self) -> int | None:
        """Share met among the tickets decided (met or breached)."""
        decided = self.met + self.breached
        return None if decided == 0 else round(self.met * 100 / decided)


@dataclass
class SlaReport:
    """The report for a period."""

    since: date
    until: date
    total: ReportRow
    by_priority: list[ReportRow]
    by_agent: list[ReportRow]  # key: the assignee's user id, or "" for unassigned


def period(since: object, until: object, today: date) -> tuple[date, date]:
    """The reporting period from 'YYYY-MM-DD' inputs (default: the last 30 days)."""
    errors: dict[str, str] = {}

    def parse(value: object, key: str, default: date) -> date:
        if value in (None, ""):
            return default
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            errors[key] = Msg("Enter a date as YYYY-MM-DD.")
            return default

    end = parse(until, "until", today)
    start = parse(since, "since", end - timedelta(days=DEFAULT_DAYS - 1))
    if not errors and start > end:
        errors["since"] = Msg("The start date must not be after the end date.")
    if not errors and (end - start).days >= MAX_DAYS:
        errors["since"] = Msg("Choose a period of at most {days} days.", days=MAX_DAYS)
    if errors:
        raise ValidationFailed(errors)
    return start, end


def outcome(views: dict[str, clocks.ClockView]) -> str:
    """'breached', 'met', 'open' or 'no_target' for one ticket."""
    states = [v.state for v in views.values() if v.state != "none"]
    if not states:
        return "no_target"
    if "breached" in states:
        return "breached"
    if all(s == "met" for s in states):
        return "met"
    return "open"


def sla_report(session: Session, principal: Principal, since: date, until: date, now: datetime | None = None
               ) -> SlaReport:
    """Count the visible tickets opened between two local dates (inclusive)."""
    now = now or utcnow()
    zone = ZoneInfo(sla_settings.tenant_zone(session, principal.tenant_id))
    start = datetime.combine(since, time(), zone).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time(), zone).astimezone(timezone.utc)
    cal = sla_settings.tenant_calendar(session, principal.tenant_id)
    total = ReportRow("all")
    priorities = {p: ReportRow(p) for p in PRIORITIES}
    agents: dict[str, ReportRow] = defaultdict(lambda: ReportRow(""))
    query = select(Ticket).where(visible(principal, Ticket), Ticket.created_at >= start, Ticket.created_at < end)
    for ticket in session.scalars(query.execution_options(yield_per=500)):
        views = clocks.views(cal, ticket, now)
        result = outcome(views)
        agent_key = ticket.owner_id.hex if isinstance(ticket.owner_id, uuid.UUID) else ""
        agent = agents[agent_key]
        agent.key = agent_key
        for row in (total, priorities[ticket.priority], agent):
            row.tickets += 1
            setattr(row, result, getattr(row, result) + 1)
            if ticket.first_responded_at is not None:
                row.response_minutes.append(views["response"].used_minutes)
    by_agent = sorted(agents.values(), key=lambda r: (-r.tickets, r.key))
    return SlaReport(since, until, total, [priorities[p] for p in reversed(PRIORITIES)], by_agent)
