"""Business-time arithmetic for service levels: pure functions, no database.

A `BusinessCalendar` says when the business is open: one opening per weekday (minutes after local
midnight, Monday = 0), in the tenant's time zone, minus holidays (local dates). Business time is the
part of wall time that falls inside those openings. Everything here takes and returns aware
datetimes; results are in UTC.

A `Clock` measures one service-level target (first response or resolution) in business seconds. It
runs while the ticket waits on the business and is halted while it waits on the customer (pending)
or is done. The deadline of a running clock is the business instant at which the target is used up;
a clock that passes its deadline is breached, and stays breached (the flag is sticky) until its target
is changed.

Indonesian zones (WIB, WITA, WIT) have no daylight-saving time, but openings are computed per local
date through zoneinfo, so a zone with DST would also be handled (a day may then be 23 or 25 hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
AT_RISK_PERCENT = 80  # a running clock that has used this share of its target is "at risk"
# How far ahead a deadline is searched: a calendar that opens less often than this is refused.
HORIZON_DAYS = 3660


@dataclass(frozen=True)
class Opening:
    """When the business is open on one weekday: [opens, closes) in minutes after local midnight."""

    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not (0 <= self.opens < self.closes <= MINUTES_PER_DAY):
            raise ValueError("an opening closes after it opens, within one day (00:00-24:00)")

    @property
    def minutes(self) -> int:
        """Length of the opening."""
        return self.closes - self.opens


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly openings (index 0 = Monday, None = closed) and holidays, in one time zone."""

    zone: str
    week: tuple[Opening | None, ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days")
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.zone!r}") from exc

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's zone."""
        return ZoneInfo(self.zone)

    @property
    def ever_open(self) -> bool:
        """True when at least one weekday has an opening."""
        return any(day is not None for day in self.week)

    def opening_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC interval the business is open on a local date, or None (closed, holiday)."""
        hours = self.week[day.weekday()]
        if hours is None or day in self.holidays:
            return None
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        # Wall-clock arithmetic on the local midnight, then UTC: right on days with a DST change too.
        opens = (midnight + timedelta(minutes=hours.opens)).astimezone(timezone.utc)
        closes = (midnight + timedelta(minutes=hours.closes)).astimezone(timezone.utc)
        return (opens, closes) if closes > opens else None

    def local_date(self, moment: datetime) -> date:
        """The local calendar date of a moment."""
        return _aware(moment).astimezone(self.tz).date()


def calendar(zone: str, week: dict[int, tuple[int, int]], holidays: frozenset[date] | set[date] = frozenset()
             ) -> BusinessCalendar:
    """Build a calendar from {weekday: (opens, closes)} in minutes; missing weekdays are closed."""
    days = tuple(Opening(*week[d]) if d in week else None for d in range(7))
    return BusinessCalendar(zone, days, frozenset(holidays))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-time arithmetic needs aware datetimes")
    return moment.astimezone(timezone.utc)


def _openings_from(cal: BusinessCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """UTC openings from the local date of `start` onwards, in order, up to the horizon."""
    day = cal.local_date(start)
    for offset in range(HORIZON_DAYS):
        interval = cal.opening_on(day + timedelta(days=offset))
        if interval is not None:
            yield interval


def business_seconds(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole business seconds between two moments (0 when end is not after start)."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0
    total = timedelta()
    day, last = cal.local_date(start), cal.local_date(end)
    while day <= last:
        interval = cal.opening_on(day)
        if interval is not None:
            overlap = min(end, interval[1]) - max(start, interval[0])
            if overlap > timedelta():
                total += overlap
        day += timedelta(days=1)
    return int(total.total_seconds())


def business_minutes(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole business minutes between two moments."""
    return business_seconds(cal, start, end) // 60


def add_business_seconds(cal: BusinessCalendar, start: datetime, seconds: int) -> datetime:
    """The moment `seconds` of business time after `start` (UTC).

    Counting starts at the next opening when `start` is outside business hours. A span that ends
    exactly at a closing time ends there (not at the next opening). Zero or less returns `start`.
    """
    start = _aware(start)
    if seconds <= 0:
        return start
    remaining = timedelta(seconds=seconds)
    for opens, closes in _openings_from(cal, start):
        begin = max(start, opens)
        if begin >= closes:
            continue
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValueError("the business calendar has no opening hours within ten years")


def add_business_minutes(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """The moment `minutes` of business time after `start` (UTC)."""
    return add_business_seconds(cal, start, minutes * 60)


def is_open(cal: BusinessCalendar, moment: datetime) -> bool:
    """True when `moment` falls inside business hours."""
    moment = _aware(moment)
    interval = cal.opening_on(cal.local_date(moment))
    return interval is not None and interval[0] <= moment < interval[1]


# -- clocks ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clock:
    """One service-level target being measured.

    `used_seconds` counts business time of finished running spans; `running_since` is the start of the
    current span (None while halted); `breached` is set once the deadline has passed.
    """

    target_minutes: int | None
    used_seconds: int = 0
    running_since: datetime | None = None
    breached: bool = False

    @property
    def target_seconds(self) -> int | None:
        """The target in seconds (None: no target)."""
        return None if self.target_minutes is None else self.target_minutes * 60

    @property
    def running(self) -> bool:
        """True while the clock counts."""
        return self.running_since is not None


def used_seconds(cal: BusinessCalendar, clock: Clock, now: datetime) -> int:
    """Business seconds used so far, the current span included."""
    if clock.running_since is None:
        return clock.used_seconds
    return clock.used_seconds + business_seconds(cal, clock.running_since, now)


def deadline(cal: BusinessCalendar, clock: Clock) -> datetime | None:
    """When a running clock uses up its target (None while halted or without a target).

    A clock resumed with its target already used up is due at the moment it resumed.
    """
    if clock.running_since is None or clock.target_seconds is None:
        return None
    return add_business_seconds(cal, clock.running_since, clock.target_seconds - clock.used_seconds)


def warning_time(cal: BusinessCalendar, clock: Clock) -> datetime | None:
    """When a running clock becomes at risk (AT_RISK_PERCENT of its target used)."""
    if clock.running_since is None or clock.target_seconds is None:
        return None
    threshold = clock.target_seconds * AT_RISK_PERCENT // 100
    return add_business_seconds(cal, clock.running_since, threshold - clock.used_seconds)


def start(target_minutes: int | None, at: datetime) -> Clock:
    """A new clock running from `at`."""
    return Clock(target_minutes, 0, _aware(at), False)


def resume(clock: Clock, at: datetime) -> Clock:
    """Start counting again (no change when already running)."""
    if clock.running_since is not None:
        return clock
    return replace(clock, running_since=_aware(at))


def halt(cal: BusinessCalendar, clock: Clock, at: datetime) -> Clock:
    """Stop counting at `at`, keeping the time used; a deadline passed before `at` marks a breach."""
    if clock.running_since is None:
        return clock
    at = _aware(at)
    due = deadline(cal, clock)
    breached = clock.breached or (due is not None and at > due)
    return Clock(clock.target_minutes, used_seconds(cal, clock, at), None, breached)


def retarget(cal: BusinessCalendar, clock: Clock, target_minutes: int | None, now: datetime) -> Clock:
    """Give the clock another target (the ticket's priority changed); the breach is judged afresh."""
    used = used_seconds(cal, clock, now)
    breached = target_minutes is not None and used > target_minutes * 60
    # A running span restarts at `now` with the time used so far, so the deadline follows the new target.
    since = None if clock.running_since is None else _aware(now)
    return Clock(target_minutes, used, since, breached)


@dataclass(frozen=True)
class Reading:
    """A clock as people see it at one moment."""

    target_minutes: int | None
    used_seconds: int
    running: bool
    due_at: datetime | None
    at_risk: bool
    breached: bool

    @property
    def used_minutes(self) -> int:
        """Business minutes used (rounded down)."""
        return self.used_seconds // 60

    @property
    def remaining_minutes(self) -> int | None:
        """Business minutes left before the target (0 when used up; None without a target)."""
        if self.target_minutes is None:
            return None
        return max(0, self.target_minutes * 60 - self.used_seconds) // 60

    @property
    def percent_used(self) -> int | None:
        """Share of the target used, in percent (may pass 100)."""
        if not self.target_minutes:
            return None
        return self.used_seconds * 100 // (self.target_minutes * 60)


def read(cal: BusinessCalendar, clock: Clock, now: datetime) -> Reading:
    """Used time, deadline, at-risk and breached for a clock at `now`."""
    now = _aware(now)
    used = used_seconds(cal, clock, now)
    due = deadline(cal, clock)
    breached = clock.breached or (due is not None and now > due)
    at_risk = False
    if clock.running and clock.target_seconds is not None and not breached:
        at_risk = used * 100 >= clock.target_seconds * AT_RISK_PERCENT
    return Reading(clock.target_minutes, used, clock.running, due, at_risk, breached)
