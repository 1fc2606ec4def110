"""Business-time arithmetic: openings, weekends, holidays, zones, boundaries, pausing clocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from niaga.crm.service_desk import sla
from niaga.crm.service_desk.sla import Clock, Opening

WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")
H = 60  # minutes per hour
# Mon-Fri 08:00-17:00, Sat 08:00-12:00, Sunday closed; 25 Dec 2026 (a Friday) is a holiday.
SHOP = {0: (8 * H, 17 * H), 1: (8 * H, 17 * H), 2: (8 * H, 17 * H), 3: (8 * H, 17 * H), 4: (8 * H, 17 * H),
        5: (8 * H, 12 * H)}
CHRISTMAS = date(2026, 12, 25)


def cal(zone: str = "Asia/Jakarta", holidays=frozenset({CHRISTMAS})) -> sla.BusinessCalendar:  # noqa: ANN001
    return sla.calendar(zone, SHOP, holidays)


def at(day: int, hour: int, minute: int = 0, month: int = 11, tz=WIB) -> datetime:  # noqa: ANN001
    """A local wall time in 2026 (23 Nov 2026 is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


MON, TUE, FRI, SAT, SUN, NEXT_MON = 23, 24, 27, 28, 29, 30


# -- building calendars ------------------------------------------------------------------------------
@pytest.mark.parametrize("opens, closes", [(17 * H, 8 * H), (9 * H, 9 * H), (-1, 60), (0, 24 * H + 1)])
def test_an_opening_must_close_after_it_opens_within_the_day(opens: int, closes: int) -> None:
    with pytest.raises(ValueError):
        Opening(opens, closes)


def test_a_whole_day_opening_runs_to_midnight() -> None:
    assert Opening(0, 24 * H).minutes == 24 * H


def test_a_calendar_needs_seven_days_and_a_real_zone() -> None:
    with pytest.raises(ValueError):
        sla.BusinessCalendar("Asia/Jakarta", (None,) * 6)
    with pytest.raises(ValueError):
        sla.calendar("Asia/Atlantis", SHOP)
    assert not sla.calendar("Asia/Jakarta", {}).ever_open and cal().ever_open


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        sla.business_seconds(cal(), datetime(2026, 11, 23, 9), datetime(2026, 11, 23, 10))


# -- counting business time --------------------------------------------------------------------------
def test_time_inside_one_opening_counts_in_full() -> None:
    assert sla.business_minutes(cal(), at(MON, 9), at(MON, 11, 30)) == 150


def test_the_night_does_not_count() -> None:
    # Monday 16:00 to Tuesday 09:00 is one hour before closing and one after opening.
    assert sla.business_minutes(cal(), at(MON, 16), at(TUE, 9)) == 2 * H


def test_the_weekend_counts_only_saturday_morning() -> None:
    assert sla.business_minutes(cal(), at(FRI, 16), at(NEXT_MON, 9)) == H + 4 * H + H


def test_a_holiday_counts_nothing() -> None:
    assert sla.business_minutes(cal(), at(24, 8, month=12), at(26, 8, month=12)) == 9 * H  # only the 24th
    assert sla.business_minutes(cal(holidays=frozenset()), at(24, 8, month=12), at(26, 8, month=12)) == 18 * H


def test_time_outside_hours_counts_nothing() -> None:
    assert sla.business_minutes(cal(), at(MON, 18), at(MON, 23)) == 0
    assert sla.business_minutes(cal(), at(SUN, 0), at(SUN, 23, 59)) == 0
    assert sla.business_minutes(cal(), at(MON, 10), at(MON, 9)) == 0  # backwards


def test_exact_boundaries_are_half_open() -> None:
    assert sla.business_minutes(cal(), at(MON, 8), at(MON, 17)) == 9 * H
    assert sla.business_minutes(cal(), at(MON, 17), at(TUE, 8)) == 0
    assert sla.is_open(cal(), at(MON, 8)) and not sla.is_open(cal(), at(MON, 17))
    assert not sla.is_open(cal(), at(SAT, 12)) and sla.is_open(cal(), at(SAT, 11, 59))


def test_a_week_adds_up() -> None:
    assert sla.business_minutes(cal(), at(MON, 0), at(NEXT_MON, 0)) == 5 * 9 * H + 4 * H


def test_seconds_are_counted_and_rounded_down_to_minutes() -> None:
    start = at(MON, 9)
    assert sla.business_seconds(cal(), start, start + timedelta(seconds=119)) == 119
    assert sla.business_minutes(cal(), start, start + timedelta(seconds=119)) == 1


def test_the_hours_are_local_to_the_tenants_zone() -> None:
    """08:00 opens at 01:00 UTC in WIB, 00:00 UTC in WITA, 23:00 UTC the day before in WIT."""
    utc = timezone.utc
    assert cal("Asia/Jakarta").opening_on(date(2026, 11, 23))[0] == datetime(2026, 11, 23, 1, tzinfo=utc)
    assert cal("Asia/Makassar").opening_on(date(2026, 11, 23))[0] == datetime(2026, 11, 23, 0, tzinfo=utc)
    assert cal("Asia/Jayapura").opening_on(date(2026, 11, 23))[0] == datetime(2026, 11, 22, 23, tzinfo=utc)
    # The same UTC moment is before opening in WIB but open in WIT.
    moment = datetime(2026, 11, 23, 0, 30, tzinfo=utc)
    assert not sla.is_open(cal("Asia/Jakarta"), moment) and sla.is_open(cal("Asia/Jayapura"), moment)


def test_indonesian_zones_have_no_daylight_saving() -> None:
    for zone in (WIB, WITA, WIT):
        offsets = {datetime(2026, month, 15, 12, tzinfo=zone).utcoffset() for month in range(1, 13)}
        assert len(offsets) == 1
    whole_days = sla.calendar("Asia/Jayapura", {d: (0, 24 * H) for d in range(7)})
    assert sla.business_minutes(whole_days, at(1, 0, month=1, tz=WIT), at(1, 0, month=7, tz=WIT)) == 181 * 24 * H


def test_a_zone_with_daylight_saving_gets_a_short_day() -> None:
    """Not needed in Indonesia, but the arithmetic is per local date, so it holds elsewhere too."""
    berlin = ZoneInfo("Europe/Berlin")
    whole_days = sla.calendar("Europe/Berlin", {d: (0, 24 * H) for d in range(7)})
    day_start = datetime(2026, 3, 29, 0, tzinfo=berlin)
    assert sla.business_minutes(whole_days, day_start, datetime(2026, 3, 30, 0, tzinfo=berlin)) == 23 * H


# -- adding business time ----------------------------------------------------------------------------
def test_adding_within_the_day() -> None:
    assert sla.add_business_minutes(cal(), at(MON, 9), 90) == at(MON, 10, 30)


def test_adding_runs_over_the_night() -> None:
    assert sla.add_business_minutes(cal(), at(MON, 16, 30), 60) == at(TUE, 8, 30)


def test_a_ticket_opened_outside_hours_starts_counting_at_the_next_opening() -> None:
    assert sla.add_business_minutes(cal(), at(MON, 6), 30) == at(MON, 8, 30)
    assert sla.add_business_minutes(cal(), at(MON, 21), 30) == at(TUE, 8, 30)
    assert sla.add_business_minutes(cal(), at(SUN, 10), 30) == at(NEXT_MON, 8, 30)


def test_friday_afternoon_runs_into_saturday_then_monday() -> None:
    assert sla.add_business_minutes(cal(), at(FRI, 16, 30), 60) == at(SAT, 8, 30)
    assert sla.add_business_minutes(cal(), at(FRI, 16, 30), 5 * H) == at(NEXT_MON, 8, 30)


def test_a_deadline_that_uses_the_day_up_exactly_is_the_closing_time() -> None:
    assert sla.add_business_minutes(cal(), at(MON, 16), 60) == at(MON, 17)
    assert sla.add_business_minutes(cal(), at(MON, 8), 9 * H) == at(MON, 17)
    assert sla.add_business_minutes(cal(), at(MON, 17), 1) == at(TUE, 8, 1)


def test_holidays_are_skipped() -> None:
    # Thursday 24 Dec 16:00 + 2 hours: one hour on Thursday, Friday is Christmas, one hour on Saturday.
    assert sla.add_business_minutes(cal(), at(24, 16, month=12), 2 * H) == at(26, 9, month=12)


def test_zero_or_negative_time_is_the_start() -> None:
    assert sla.add_business_minutes(cal(), at(SUN, 3), 0) == at(SUN, 3)
    assert sla.add_business_seconds(cal(), at(SUN, 3), -5) == at(SUN, 3)


def test_the_result_is_utc() -> None:
    due = sla.add_business_minutes(cal("Asia/Jayapura"), at(MON, 9, tz=WIT), 30)
    assert due.tzinfo == timezone.utc and due == datetime(2026, 11, 23, 0, 30, tzinfo=timezone.utc)


def test_a_calendar_that_never_opens_cannot_give_a_deadline() -> None:
    with pytest.raises(ValueError):
        sla.add_business_minutes(sla.calendar("Asia/Jakarta", {}), at(MON, 9), 1)


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
def test_adding_and_counting_agree(zone: str) -> None:
    calendar = cal(zone)
    starts = [at(MON, 7), at(MON, 8), at(MON, 12, 17), at(FRI, 16, 59), at(SAT, 11, 45), at(SUN, 13),
              at(24, 16, month=12)]
    for start in starts:
        for minutes in (1, 7, 59, 60, 61, 9 * H, 9 * H + 1, 3 * 9 * H + 17, 40 * 9 * H):
            due = sla.add_business_minutes(calendar, start, minutes)
            assert sla.business_minutes(calendar, start, due) == minutes, (start, minutes)
            assert sla.is_open(calendar, due - timedelta(seconds=1)), (start, minutes)


# -- clocks ------------------------------------------------------------------------------------------
def test_a_running_clock_is_due_after_its_target_in_business_time() -> None:
    clock = sla.start(2 * H, at(FRI, 16))
    assert sla.deadline(cal(), clock) == at(SAT, 9)
    reading = sla.read(cal(), clock, at(FRI, 20))
    assert reading.used_minutes == 60 and reading.remaining_minutes == 60 and not reading.breached


def test_pausing_keeps_the_time_used_and_resuming_moves_the_deadline() -> None:
    """Pending on the customer from Monday 10:00 to Tuesday 14:00: that time does not count."""
    clock = sla.start(3 * H, at(MON, 9))
    clock = sla.halt(cal(), clock, at(MON, 10))
    assert clock.used_seconds == H * 60 and not clock.running and sla.deadline(cal(), clock) is None
    paused = sla.read(cal(), clock, at(TUE, 13))
    assert paused.used_minutes == 60 and not paused.at_risk and not paused.breached
    clock = sla.resume(clock, at(TUE, 14))
    assert sla.deadline(cal(), clock) == at(TUE, 16)
    assert sla.read(cal(), clock, at(TUE, 15)).used_minutes == 2 * H


def test_pause_and_resume_are_idempotent() -> None:
    clock = sla.start(H, at(MON, 9))
    assert sla.resume(clock, at(MON, 10)) is clock
    halted = sla.halt(cal(), clock, at(MON, 9, 30))
    assert sla.halt(cal(), halted, at(MON, 11)) is halted


def test_a_pause_outside_hours_uses_no_time() -> None:
    clock = sla.start(H, at(MON, 16, 30))
    clock = sla.halt(cal(), clock, at(MON, 20))  # paused in the evening: 30 minutes used
    clock = sla.resume(clock, at(TUE, 7))  # resumed before opening
    assert clock.used_seconds == 30 * 60 and sla.deadline(cal(), clock) == at(TUE, 8, 30)


def test_at_risk_from_eighty_percent() -> None:
    clock = sla.start(100, at(MON, 9))
    assert not sla.read(cal(), clock, at(MON, 10, 19)).at_risk  # 79 minutes
    reading = sla.read(cal(), clock, at(MON, 10, 20))  # 80 minutes
    assert reading.at_risk and reading.percent_used == 80 and not reading.breached
    assert sla.warning_time(cal(), clock) == at(MON, 10, 20)


def test_breached_once_past_the_deadline_not_at_it() -> None:
    clock = sla.start(H, at(MON, 9))
    assert not sla.read(cal(), clock, at(MON, 10)).breached
    late = sla.read(cal(), clock, at(MON, 10) + timedelta(seconds=1))
    assert late.breached and not late.at_risk and late.remaining_minutes == 0


def test_a_deadline_at_closing_time_is_breached_that_evening() -> None:
    """Due Monday 17:00 and still unanswered at 18:00: late, though no business time has passed."""
    clock = sla.start(H, at(MON, 16))
    assert sla.read(cal(), clock, at(MON, 18)).breached
    answered_next_morning = sla.halt(cal(), clock, at(TUE, 7))
    assert answered_next_morning.breached and answered_next_morning.used_seconds == H * 60


def test_a_breach_is_remembered_through_a_pause() -> None:
    clock = sla.halt(cal(), sla.start(30, at(MON, 9)), at(MON, 10))
    assert clock.breached
    assert sla.read(cal(), sla.resume(clock, at(TUE, 9)), at(TUE, 9)).breached


def test_a_clock_without_a_target_is_never_late() -> None:
    clock = sla.start(None, at(MON, 9))
    reading = sla.read(cal(), clock, at(NEXT_MON, 9))
    assert reading.due_at is None and not reading.breached and not reading.at_risk
    assert reading.remaining_minutes is None and reading.percent_used is None and reading.used_minutes == 49 * H  # 8 + 4 x 9 + 4 + 1 hours


def test_resuming_with_the_target_used_up_is_due_at_once() -> None:
    clock = Clock(30, 45 * 60, None, True)
    clock = sla.resume(clock, at(TUE, 9))
    assert sla.deadline(cal(), clock) == at(TUE, 9)


def test_a_new_target_moves_the_deadline_and_judges_the_breach_again() -> None:
    clock = sla.start(H, at(MON, 9))
    late = sla.retarget(cal(), clock, 30, at(MON, 9, 45))
    assert late.breached and late.used_seconds == 45 * 60
    relaxed = sla.retarget(cal(), late, 4 * H, at(MON, 10))
    assert not relaxed.breached and sla.deadline(cal(), relaxed) == at(MON, 13)
    paused = sla.retarget(cal(), sla.halt(cal(), clock, at(MON, 9, 50)), 30, at(TUE, 9))
    assert paused.breached and not paused.running
    assert not sla.retarget(cal(), late, None, at(MON, 10)).breached
