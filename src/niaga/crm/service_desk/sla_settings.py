"""SLA settings of a tenant: business hours, holidays and the targets per priority (and per contact).

Decisions:
- A tenant that never saved its hours uses DEFAULT_WEEK (Mon-Fri 08:00-17:00, Sat 08:00-12:00).
- Targets are fixed on a ticket when it is opened and when its priority changes; editing a policy does not
  move the deadlines of tickets already open. Changing hours or holidays does: running clocks get their
  deadlines recomputed with the new calendar (time already used stays as it was measured).
- A contact's own policy for a priority overrides the tenant default for that priority, target by target
  (an empty target in the override falls back to the default).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.models import Contact
from niaga.crm.service_desk import sla
from niaga.crm.service_desk.models import PRIORITIES, BusinessHours, Holiday, SlaPolicy
from niaga.identity.models import Tenant
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

H = 60
DEFAULT_WEEK: dict[int, tuple[int, int]] = {0: (8 * H, 17 * H), 1: (8 * H, 17 * H), 2: (8 * H, 17 * H),
                                            3: (8 * H, 17 * H), 4: (8 * H, 17 * H), 5: (8 * H, 12 * H)}
MAX_TARGET_MINUTES = 365 * 24 * 60
MAX_HOLIDAY_NAME = 80
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_DURATION = re.compile(r"^(?:(\d{1,6})|(\d{1,4})[:.](\d{2}))$")


# -- parsing -----------------------------------------------------------------------------------------
def parse_clock(value: Any) -> int | None:
    """Minutes after midnight from 'HH:MM' (or 'HH.MM'); '24:00' is the end of the day."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= 24 * H else None
    match = _CLOCK.match(str(value or "").strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * H + minutes


def format_clock(minutes: int) -> str:
    """'08:00' from 480."""
    return f"{minutes // H:02d}:{minutes % H:02d}"


def parse_target(value: Any) -> tuple[bool, int | None]:
    """(valid, minutes) from '240' (minutes) or '4:00' (hours:minutes); empty means no target."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True, None
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            return False, None
        if match.group(1) is not None:
            minutes = int(match.group(1))
        else:
            if int(match.group(3)) > 59:
                return False, None
            minutes = int(match.group(2)) * H + int(match.group(3))
    return (0 < minutes <= MAX_TARGET_MINUTES), minutes


# -- the calendar ------------------------------------------------------------------------------------
def tenant_zone(session: Session, tenant_id: uuid.UUID) -> str:
    """The tenant's time zone (WIB when unset)."""
    tenant = session.get(Tenant, tenant_id)
    return tenant.timezone if tenant is not None and tenant.timezone else "Asia/Jakarta"


def week(session: Session, tenant_id: uuid.UUID) -> dict[int, tuple[int, int]]:
    """{weekday: (opens, closes)} of the tenant; the default week when never saved."""
    rows = list(session.scalars(select(BusinessHours).where(BusinessHours.tenant_id == tenant_id)))
    if not rows:
        return dict(DEFAULT_WEEK)
    return {r.weekday: (r.opens_minute, r.closes_minute) for r in rows}


def list_holidays(session: Session, tenant_id: uuid.UUID) -> list[Holiday]:
    """The tenant's holidays, by date."""
    return list(session.scalars(select(Holiday).where(Holiday.tenant_id == tenant_id).order_by(Holiday.day)))


def tenant_calendar(session: Session, tenant_id: uuid.UUID) -> sla.BusinessCalendar:
    """The tenant's business calendar: hours, holidays, time zone."""
    days = frozenset(session.scalars(select(Holiday.day).where(Holiday.tenant_id == tenant_id)))
    return sla.calendar(tenant_zone(session, tenant_id), week(session, tenant_id), days)


def save_week(session: Session, principal: Principal, days: dict[int, tuple[Any, Any] | None]) -> None:
    """Replace the opening hours: {weekday: (opens 'HH:MM', closes 'HH:MM') or None for closed}."""
    errors: dict[str, str] = {}
    parsed: dict[int, tuple[int, int]] = {}
    for weekday in range(7):
        value = days.get(weekday)
        if value is None:
            continue
        opens, closes = parse_clock(value[0]), parse_clock(value[1])
        if opens is None or opens >= 24 * H:
            errors[f"opens_{weekday}"] = Msg("Enter a time such as 08:00.")
        if closes is None or closes == 0:
            errors[f"closes_{weekday}"] = Msg("Enter a time such as 17:00 (24:00 for midnight).")
        if opens is not None and closes is not None and f"opens_{weekday}" not in errors \
                and f"closes_{weekday}" not in errors:
            if closes <= opens:
                errors[f"closes_{weekday}"] = Msg("Closing time must be after opening time.")
            else:
                parsed[weekday] = (opens, closes)
    if not errors and not parsed:
        errors["week"] = Msg("Open on at least one day of the week.")
    if errors:
        raise ValidationFailed(errors)
    session.execute(delete(BusinessHours).where(BusinessHours.tenant_id == principal.tenant_id))
    for weekday, (opens, closes) in sorted(parsed.items()):
        session.add(BusinessHours(tenant_id=principal.tenant_id, weekday=weekday, opens_minute=opens,
                                  closes_minute=closes))
    session.flush()
    audit.record(session, principal.tenant_id, "sla.hours_changed", principal.actor, target_type="business_hours",
                 details={"open_days": len(parsed)})
    _calendar_changed(session, principal.tenant_id)


def add_holiday(session: Session, principal: Principal, day: Any, name: Any) -> Holiday:
    """Close the business on a date."""
    errors: dict[str, str] = {}
    parsed = day if isinstance(day, date) else None
    if parsed is None:
        try:
            parsed = date.fromisoformat(str(day or "").strip())
        except ValueError:
            errors["day"] = Msg("Enter a date as YYYY-MM-DD.")
    label = " ".join(str(name or "").split())
    if len(label) > MAX_HOLIDAY_NAME:
        errors["name"] = Msg("Use at most {count} characters.", count=MAX_HOLIDAY_NAME)
    if parsed is not None and not errors and session.scalar(
            select(Holiday.id).where(Holiday.tenant_id == principal.tenant_id, Holiday.day == parsed)):
        errors["day"] = Msg("This date is already a holiday.")
    if errors:
        raise ValidationFailed(errors)
    row = Holiday(tenant_id=principal.tenant_id, day=parsed, name=label)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(Msg("This date is already a holiday.")) from None
    audit.record(session, principal.tenant_id, "sla.holiday_added", principal.actor, target_type="holiday",
                 target_id=row.id, details={"day": parsed.isoformat()})
    _calendar_changed(session, principal.tenant_id)
    return row


def remove_holiday(session: Session, principal: Principal, holiday_id: uuid.UUID) -> None:
    """Open again on a former holiday."""
    row = session.get(Holiday, (principal.tenant_id, holiday_id))
    if row is None:
        raise NotFound(Msg("No such holiday."))
    session.delete(row)
    session.flush()
    audit.record(session, principal.tenant_id, "sla.holiday_removed", principal.actor, target_type="holiday",
                 target_id=holiday_id, details={"day": row.day.isoformat()})
    _calendar_changed(session, principal.tenant_id)


def _calendar_changed(session: Session, tenant_id: uuid.UUID) -> None:
    from niaga.crm.service_desk.clocks import recompute_deadlines

    recompute_deadlines(session, tenant_id, tenant_calendar(session, tenant_id))


# -- policies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Targets:
    """First-response and resolution targets in business minutes (None: no target)."""

    first_response: int | None
    resolution: int | None


def check_targets(first: Any, resolution: Any, errors: dict[str, str], prefix: str = "") -> Targets:
    """Validate a pair of targets; messages go under '<prefix>first_response' / '<prefix>resolution'."""
    ok_first, first_minutes = parse_target(first)
    ok_res, res_minutes = parse_target(resolution)
    hint = Msg("Enter business minutes (e.g. 240) or hours:minutes (e.g. 4:00), up to a year.")
    if not ok_first:
        errors[f"{prefix}first_response"] = hint
    if not ok_res:
        errors[f"{prefix}resolution"] = hint
    if ok_first and ok_res and first_minutes and res_minutes and res_minutes < first_minutes:
        errors[f"{prefix}resolution"] = Msg("The resolution target cannot be shorter than the first response target.")
    return Targets(first_minutes, res_minutes)


def check_priority(value: Any, errors: dict[str, str], key: str = "priority") -> str | None:
    """A known priority, or an error."""
    if value in PRIORITIES:
        return value
    errors[key] = Msg("Choose a priority: low, normal, high or urgent.")
    return None


def default_policies(session: Session, tenant_id: uuid.UUID) -> dict[str, SlaPolicy]:
    """The tenant's default policy per priority (priorities without one are missing)."""
    rows = session.scalars(select(SlaPolicy).where(SlaPolicy.tenant_id == tenant_id, SlaPolicy.contact_id.is_(None)))
    return {r.priority: r for r in rows}


def contact_policies(session: Session, tenant_id: uuid.UUID, contact_id: uuid.UUID | None = None
                     ) -> list[SlaPolicy]:
    """Per-contact overrides (of one contact, when given)."""
    query = select(SlaPolicy).where(SlaPolicy.tenant_id == tenant_id, SlaPolicy.contact_id.is_not(None))
    if contact_id is not None:
        query = query.where(SlaPolicy.contact_id == contact_id)
    return list(session.scalars(query.order_by(SlaPolicy.created_at)))


def targets_for(session: Session, tenant_id: uuid.UUID, contact_id: uuid.UUID | None, priority: str) -> Targets:
    """The targets that apply to a ticket of this contact and priority."""
    rows = list(session.scalars(select(SlaPolicy).where(
        SlaPolicy.tenant_id == tenant_id, SlaPolicy.priority == priority,
        (SlaPolicy.contact_id.is_(None)) | (SlaPolicy.contact_id == contact_id))))
    default = next((r for r in rows if r.contact_id is None), None)
    override = next((r for r in rows if r.contact_id is not None), None)

    def pick(attr: str) -> int | None:
        if override is not None and getattr(override, attr) is not None:
            return getattr(override, attr)
        return getattr(default, attr) if default is not None else None

    return Targets(pick("first_response_minutes"), pick("resolution_minutes"))


def save_default_policies(session: Session, principal: Principal, values: dict[str, tuple[Any, Any]]) -> None:
    """Set the tenant's targets for every priority given: {priority: (first response, resolution)}."""
    errors: dict[str, str] = {}
    checked: dict[str, Targets] = {}
    for priority, (first, resolution) in values.items():
        if priority not in PRIORITIES:
            errors["priority"] = Msg("Choose a priority: low, normal, high or urgent.")
            continue
        checked[priority] = check_targets(first, resolution, errors, prefix=f"{priority}_")
    if errors:
        raise ValidationFailed(errors)
    existing = default_policies(session, principal.tenant_id)
    for priority, targets in checked.items():
        row = existing.get(priority)
        if row is None:
            row = SlaPolicy(tenant_id=principal.tenant_id, priority=priority, contact_id=None)
            session.add(row)
        row.first_response_minutes, row.resolution_minutes = targets.first_response, targets.resolution
    session.flush()
    audit.record(session, principal.tenant_id, "sla.policies_changed", principal.actor, target_type="sla_policy",
                 details={"priorities": sorted(checked)})


def save_contact_policy(session: Session, principal: Principal, contact: Contact, priority: Any, first: Any,
                        resolution: Any) -> SlaPolicy:
    """Give one contact its own targets for a priority (replacing an earlier override for it)."""
    errors: dict[str, str] = {}
    checked_priority = check_priority(priority, errors)
    targets = check_targets(first, resolution, errors)
    if not errors and targets.first_response is None and targets.resolution is None:
        errors["first_response"] = Msg("Give at least one target.")
    if errors:
        raise ValidationFailed(errors)
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.tenant_id == principal.tenant_id,
                                                 SlaPolicy.contact_id == contact.id,
                                                 SlaPolicy.priority == checked_priority))
    if row is None:
        row = SlaPolicy(tenant_id=principal.tenant_id, priority=checked_priority, contact_id=contact.id)
        session.add(row)
    row.first_response_minutes, row.resolution_minutes = targets.first_response, targets.resolution
    session.flush()
    audit.record(session, principal.tenant_id, "sla.contact_policy_saved", principal.actor, target_type="sla_policy",
                 target_id=row.id, subject_id=contact.subject_id, purpose="U1",
                 details={"priority": checked_priority, "contact": contact.id})
    return row


def remove_policy(session: Session, principal: Principal, policy_id: uuid.UUID) -> None:
    """Delete a policy (a contact override, or a priority's default targets)."""
    row = session.get(SlaPolicy, (principal.tenant_id, policy_id))
    if row is None:
        raise NotFound(Msg("No such SLA policy."))
    session.delete(row)
    session.flush()
    audit.record(session, principal.tenant_id, "sla.policy_removed", principal.actor, target_type="sla_policy",
                 target_id=policy_id, details={"priority": row.priority, "contact": row.contact_id})
