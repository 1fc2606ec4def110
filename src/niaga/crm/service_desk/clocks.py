"""A ticket's two SLA clocks (first response, resolution), kept in the ticket's columns.

Rule: a clock runs while the ticket waits on the business (status new or open) and its goal is not
reached; it halts while pending on the customer, once resolved, and for good once closed. The
first-response clock's goal is reached by the first public reply. Reopening a resolved ticket resumes
the resolution clock with the time already used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from niaga.crm.service_desk import sla
from niaga.crm.service_desk.models import Ticket
from niaga.crm.service_desk.sla_settings import Targets

CLOCKS = ("response", "resolution")
RUNNING_STATUSES = frozenset({"new", "open"})


def clock_of(ticket: Ticket, name: str) -> sla.Clock:
    """The clock stored in a ticket's `<name>_*` columns."""
    return sla.Clock(
        getattr(ticket, f"{name}_target_minutes"),
        getattr(ticket, f"{name}_used_seconds") or 0,
        getattr(ticket, f"{name}_running_since"),
        bool(getattr(ticket, f"{name}_breached")),
    )


def _store(cal: sla.BusinessCalendar, ticket: Ticket, name: str, clock: sla.Clock) -> None:
    setattr(ticket, f"{name}_target_minutes", clock.target_minutes)
    setattr(ticket, f"{name}_used_seconds", clock.used_seconds)
    setattr(ticket, f"{name}_running_since", clock.running_since)
    setattr(ticket, f"{name}_breached", clock.breached)
    # Stored only for running clocks, so lists can filter "at risk" / "breached" in SQL.
    setattr(ticket, f"{name}_due_at", sla.deadline(cal, clock))
    setattr(ticket, f"{name}_warn_at", sla.warning_time(cal, clock))


def goal_reached(ticket: Ticket, name: str) -> bool:
    """True when the clock's goal is met: answered (first response), resolved or closed (resolution)."""
    if name == "response":
        return ticket.first_responded_at is not None
    return ticket.status in ("resolved", "closed")


def _should_run(ticket: Ticket, name: str) -> bool:
    if ticket.status not in RUNNING_STATUSES:
        return False
    return not (name == "response" and ticket.first_responded_at is not None)


def start_clocks(cal: sla.BusinessCalendar, ticket: Ticket, targets: Targets, at: datetime) -> None:
    """Start both clocks of a new ticket."""
    _store(cal, ticket, "response", sla.start(targets.first_response, at))
    _store(cal, ticket, "resolution", sla.start(targets.resolution, at))
    sync_clocks(cal, ticket, at)


def sync_clocks(cal: sla.BusinessCalendar, ticket: Ticket, at: datetime, halt_at: dict[str, datetime] | None = None
                ) -> None:
    """Halt or resume each clock to match the ticket's status and first response (`at` is the change time)."""
    for name in CLOCKS:
        clock = clock_of(ticket, name)
        if clock.running and not _should_run(ticket, name):
            clock = sla.halt(cal, clock, (halt_at or {}).get(name, at))
        elif not clock.running and _should_run(ticket, name):
            clock = sla.resume(clock, at)
        _store(cal, ticket, name, clock)


def retarget_clocks(cal: sla.BusinessCalendar, ticket: Ticket, targets: Targets, at: datetime) -> None:
    """New targets after a priority change; a goal already reached keeps the target it was measured by."""
    for name, target in (("response", targets.first_response), ("resolution", targets.resolution)):
        if name == "response" and ticket.first_responded_at is not None:
            continue
        if name == "resolution" and ticket.status == "closed":
            continue
        _store(cal, ticket, name, sla.retarget(cal, clock_of(ticket, name), target, at))


def recompute_deadlines(session: Session, tenant_id: uuid.UUID, cal: sla.BusinessCalendar) -> int:
    """Recompute the stored deadlines of running clocks after the calendar changed; returns tickets touched."""
    query = select(Ticket).where(Ticket.tenant_id == tenant_id, or_(Ticket.response_running_since.is_not(None),
                                                                    Ticket.resolution_running_since.is_not(None)))
    touched = 0
    for ticket in session.scalars(query):
        for name in CLOCKS:
            _store(cal, ticket, name, clock_of(ticket, name))
        touched += 1
    return touched


@dataclass(frozen=True)
class ClockView:
    """One clock as staff see it: state is none | running | paused | met | breached."""

    name: str
    state: str
    target_minutes: int | None
    used_minutes: int
    remaining_minutes: int | None
    percent_used: int | None
    due_at: datetime | None
    at_risk: bool
    breached: bool


def view(cal: sla.BusinessCalendar, ticket: Ticket, name: str, now: datetime) -> ClockView:
    """Read one clock of a ticket at `now`."""
    reading = sla.read(cal, clock_of(ticket, name), now)
    if reading.target_minutes is None:
        state = "none"
    elif reading.breached:
        state = "breached"
    elif goal_reached(ticket, name):
        state = "met"
    elif reading.running:
        state = "running"
    else:
        state = "paused"
    return ClockView(name, state, reading.target_minutes, reading.used_minutes, reading.remaining_minutes,
                     reading.percent_used, reading.due_at, reading.at_risk, reading.breached)


def views(cal: sla.BusinessCalendar, ticket: Ticket, now: datetime) -> dict[str, ClockView]:
    """Both clocks of a ticket."""
    return {name: view(cal, ticket, name, now) for name in CLOCKS}


def _breached(name: str, now: datetime) -> ColumnElement[bool]:
    due = getattr(Ticket, f"{name}_due_at")
    return or_(getattr(Ticket, f"{name}_breached").is_(True), and_(due.is_not(None), due < now))


def breached_clause(now: datetime) -> ColumnElement[bool]:
    """Tickets with a breached clock at `now`."""
    return or_(_breached("response", now), _breached("resolution", now))


def at_risk_clause(now: datetime) -> ColumnElement[bool]:
    """Tickets with a running clock past its warning time, and no breach."""
    risky = false()
    for name in CLOCKS:
        warn = getattr(Ticket, f"{name}_warn_at")
        risky = or_(risky, and_(warn.is_not(None), warn <= now))
    return and_(risky, ~breached_clause(now))
