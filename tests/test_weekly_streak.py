"""The weekly streak of the summary, worked out by hand (SPEC section 14), on in-memory
answers: no database."""

from datetime import date

from personal_stats.core import stats
from personal_stats.core.params import WindowArgs
from personal_stats.core.windows import Period
from tests.memory import Memory


def weekly(memory: Memory, end: date, start: date | None = None, tz: str | None = None) -> int:
    args = WindowArgs(start_date=start or end, end_date=end, as_of=end, tz=tz)
    return memory.ask(stats.summary("m1", args)).weekly_streak_weeks


def test_the_spec_example() -> None:
    # Tue 2026-03-03 and Mon 2026-03-09; end Wed 2026-03-18: the week of 03-16 has none yet,
    # the weeks of 03-09 and 03-02 count.
    memory = Memory().mentor("m1")
    memory.activity("m1", "2026-03-03T10:00:00+00:00").activity("m1", "2026-03-09T10:00:00+00:00")
    assert weekly(memory, date(2026, 3, 18)) == 2


def test_the_current_week_counts_once_it_has_one() -> None:
    memory = Memory().mentor("m1")
    memory.activity("m1", "2026-03-09T10:00:00+00:00").activity("m1", "2026-03-16T10:00:00+00:00")
    assert weekly(memory, date(2026, 3, 18)) == 2  # weeks of 03-16 and 03-09
    assert weekly(memory, date(2026, 3, 15)) == 1  # Sunday 03-15: 03-16 does not exist yet


def test_a_gap_week_ends_it_and_cancelled_do_not_count() -> None:
    memory = Memory().mentor("m1")
    memory.activity("m1", "2026-02-23T10:00:00+00:00")  # week of 02-23
    memory.activity("m1", "2026-03-04T10:00:00+00:00", completed=False)  # week of 03-02
    memory.activity("m1", "2026-03-10T10:00:00+00:00")  # week of 03-09
    assert weekly(memory, date(2026, 3, 12)) == 1


def test_a_run_across_a_year_boundary() -> None:
    # Mondays 2025-12-22, 2025-12-29 (ISO week 1 of 2026) and 2026-01-05: one activity each.
    memory = Memory().mentor("m1")
    for day in ("2025-12-24", "2025-12-31", "2026-01-06"):
        memory.activity("m1", f"{day}T12:00:00+00:00")
    assert weekly(memory, date(2026, 1, 7)) == 3
    assert weekly(memory, date(2026, 1, 14)) == 3  # that week has none yet
    assert weekly(memory, date(2026, 1, 19)) == 0  # the week before has none either


def test_weeks_are_local_monday_to_sunday_in_a_plus_14_zone() -> None:
    # 2026-03-15T10:30Z is Sunday 10:30 in UTC but Monday 00:30 on 03-16 in Kiritimati
    # (UTC+14): the same instant falls in different weeks.
    memory = Memory().mentor("m1", "Pacific/Kiritimati")
    memory.activity("m1", "2026-03-08T12:00:00+00:00")  # Monday 03-09 02:00 local
    memory.activity("m1", "2026-03-15T10:30:00+00:00")  # Monday 03-16 00:30 local
    assert weekly(memory, date(2026, 3, 17)) == 2  # weeks of 03-16 and 03-09 (local)
    # In UTC both fall on Sundays: 03-08 and 03-15, in the weeks of 03-02 and 03-09.
    assert weekly(memory, date(2026, 3, 17), tz="UTC") == 2
    assert weekly(memory, date(2026, 3, 22), tz="UTC") == 2  # 03-16's week: none yet
    assert weekly(memory, date(2026, 3, 29), tz="UTC") == 0  # 03-23's and 03-16's: none


def test_the_run_reaches_before_the_window_in_batches() -> None:
    # 600 weeks back (more than one batch of earlier instants), but a 7-day window.
    memory = Memory().mentor("m1")
    day = date(2026, 3, 16)
    for _ in range(600):
        memory.activity("m1", f"{day.isoformat()}T12:00:00+00:00")
        day = date.fromordinal(day.toordinal() - 7)
    summary = memory.ask(
        stats.summary("m1", WindowArgs(Period.LAST_7_DAYS, as_of=date(2026, 3, 18)))
    )
    assert summary.weekly_streak_weeks == 600
    assert summary.streak_days == 0  # 03-16 is two days back: the daily streak is over
