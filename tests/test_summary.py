"""The summary card, against hand-worked expectations."""

from datetime import date, timedelta

import pytest

from personal_stats.core import stats
from personal_stats.core.errors import InvalidInput, NotFound
from personal_stats.core.params import WindowArgs
from personal_stats.core.results import Summary
from personal_stats.core.windows import Period
from personal_stats.storage import Writes
from tests.helpers import SessionFactory, activity, activity_type, add, ask, mentor

AS_OF = date(2026, 3, 25)


async def summary(sessions: SessionFactory, mentor_id: str = "m1", **args: object) -> Summary:
    args.setdefault("as_of", AS_OF)
    return await ask(sessions, stats.summary(mentor_id, WindowArgs(**args)))


async def test_default_window_is_the_last_30_days(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    result = await summary(sessions)
    assert (result.period, result.start_date, result.end_date) == (
        Period.LAST_30_DAYS, date(2026, 2, 24), AS_OF,
    )  # fmt: skip


async def test_counts_rate_hours_and_average(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1"),
        activity("m1", "2026-03-20T10:00:00+00:00", minutes=50),
        activity("m1", "2026-03-21T10:00:00+00:00", minutes=55),
        activity("m1", "2026-03-22T10:00:00+00:00", minutes=40, status="cancelled"),
        activity("m1", "2026-01-01T10:00:00+00:00", minutes=10),  # before the window
        activity("m1", "2026-03-26T10:00:00+00:00", minutes=10),  # after as_of: not there
    )
    result = await summary(sessions)
    assert (result.total_activities, result.completed_activities) == (3, 2)
    assert result.cancelled_activities == 1
    assert result.completion_rate == 0.667  # 2/3
    assert result.avg_session_duration_minutes == 53  # 52.5 rounds up
    assert result.total_hours_logged == 1.8  # 105 minutes = 1.75 h


async def test_nine_minutes_are_two_tenths_of_an_hour(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-20T10:00:00+00:00", minutes=9))
    assert (await summary(sessions)).total_hours_logged == 0.2


async def test_mentor_without_activity(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), mentor("m2"))
    result = await summary(sessions)
    assert result.total_activities == result.completed_activities == 0
    assert result.completion_rate is None
    assert result.avg_session_duration_minutes is None
    assert result.total_hours_logged == 0.0
    assert result.most_common_activity_type is None
    assert result.most_active_weekday is None
    assert result.peer_rank_percentile == 50  # tied with its only peer
    assert result.streak_days == result.longest_streak_days == result.active_days == 0


async def test_mentor_with_only_cancelled_activities(sessions: SessionFactory) -> None:
    await add(
        sessions,
        activity_type("t2", code="workshop"),
        mentor("m1"),
        activity("m1", "2026-03-24T10:00:00+00:00", status="cancelled", type_id="t2"),
        activity("m1", "2026-03-25T10:00:00+00:00", status="cancelled", type_id="t2"),
    )
    result = await summary(sessions)
    assert (result.total_activities, result.completed_activities, result.cancelled_activities) == (
        2, 0, 2,
    )  # fmt: skip
    assert result.completion_rate == 0.0
    assert result.avg_session_duration_minutes is None
    assert result.total_hours_logged == 0.0
    assert result.most_common_activity_type == "workshop"
    assert result.most_active_weekday == "Tuesday"  # 2026-03-24 and 25: Tue, Wed tie -> Tue
    assert result.streak_days == result.active_days == 0


async def test_type_tie_goes_to_the_smallest_code_in_code_point_order(
    sessions: SessionFactory,
) -> None:
    await add(
        sessions,
        activity_type("t2", code="alpha"),
        activity_type("t3", code="Zeta"),
        mentor("m1"),
        activity("m1", "2026-03-23T10:00:00+00:00", type_id="t2"),
        activity("m1", "2026-03-24T10:00:00+00:00", type_id="t3"),
    )
    assert (await summary(sessions)).most_common_activity_type == "Zeta"


async def test_weekday_tie_goes_to_the_earliest_from_monday(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1"),
        activity("m1", "2026-03-22T10:00:00+00:00"),  # Sunday
        activity("m1", "2026-03-20T10:00:00+00:00"),  # Friday
        activity("m1", "2026-03-19T10:00:00+00:00", status="cancelled"),  # Thursday
        activity("m1", "2026-03-12T10:00:00+00:00"),  # Thursday
    )
    assert (await summary(sessions)).most_active_weekday == "Thursday"


async def test_new_york_dst_day_counts_its_23_local_hours(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="America/New_York"),
        activity("m1", "2026-03-08T04:30:00Z"),  # Mar 7, 23:30 EST
        activity("m1", "2026-03-08T05:00:00Z"),  # Mar 8, 00:00 EST
        activity("m1", "2026-03-09T03:59:00Z"),  # Mar 8, 23:59 EDT
        activity("m1", "2026-03-09T04:00:00Z"),  # Mar 9, 00:00 EDT
    )
    result = await summary(sessions, start_date=date(2026, 3, 8), end_date=date(2026, 3, 8))
    assert result.period is Period.CUSTOM
    assert result.total_activities == 2
    assert result.most_active_weekday == "Sunday"


async def test_fall_back_day_keeps_late_evening_on_the_local_date(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1", tz="America/New_York"), activity("m1", "2026-11-02T04:30:00Z"))
    day = date(2026, 11, 1)
    result = await summary(sessions, start_date=day, end_date=day, as_of=date(2026, 11, 2))
    assert result.total_activities == 1


async def test_plus_14_zone_moves_activity_to_the_next_local_date(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="Pacific/Kiritimati"),
        activity("m1", "2026-03-24T12:00:00Z"),  # Kiritimati: Mar 25, 02:00
        activity("m1", "2026-03-25T11:00:00Z"),  # Kiritimati: Mar 26, 01:00, after as_of
    )
    local = await summary(sessions, start_date=AS_OF, end_date=AS_OF)
    assert local.timezone == "Pacific/Kiritimati"
    assert local.total_activities == 1
    assert local.streak_days == 1
    in_utc = await summary(sessions, start_date=AS_OF, end_date=AS_OF, tz="UTC")
    assert in_utc.timezone == "UTC"
    assert in_utc.total_activities == 1  # the 11:00Z one; the other is on Mar 24 in UTC
    assert in_utc.most_active_weekday == "Wednesday"


async def test_streak_grace_for_a_quiet_as_of(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1"),
        activity("m1", "2026-03-21T10:00:00Z"),
        activity("m1", "2026-03-22T10:00:00Z"),
        activity("m1", "2026-03-23T10:00:00Z"),
        activity("m1", "2026-03-24T10:00:00Z"),
        activity("m1", "2026-03-25T10:00:00Z", status="cancelled"),
        activity("m1", "2026-03-19T10:00:00Z"),
    )
    result = await summary(sessions)
    assert result.streak_days == 4  # Mar 21-24; the cancelled one on as_of neither adds nor breaks
    assert result.longest_streak_days == 4
    assert result.active_days == 5


async def test_streak_is_zero_when_neither_as_of_nor_the_day_before_is_active(
    sessions: SessionFactory,
) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-23T10:00:00Z"))
    result = await summary(sessions)
    assert result.streak_days == 0
    assert result.longest_streak_days == 1


async def test_streak_reaches_back_before_the_window(sessions: SessionFactory) -> None:
    days = [f"2026-03-{day:02d}T12:00:00Z" for day in range(10, 26)]  # Mar 10-25, 16 days
    await add(sessions, mentor("m1"), *[activity("m1", day) for day in days])
    result = await summary(sessions, period=Period.LAST_7_DAYS)
    assert result.streak_days == 16
    assert result.longest_streak_days == 7
    assert result.active_days == 7


async def test_streak_over_many_batches_of_history(sessions: SessionFactory) -> None:
    # 600 days in a row, two completed activities a day, ending on as_of.
    first = AS_OF - timedelta(days=599)
    rows = []
    for offset in range(600):
        day = (first + timedelta(days=offset)).isoformat()
        rows += [activity("m1", f"{day}T08:00:00Z"), activity("m1", f"{day}T20:00:00Z")]
    await add(sessions, mentor("m1"), *rows)
    result = await summary(sessions, period=Period.LAST_7_DAYS)
    assert result.streak_days == 600


async def test_peer_rank_counts_ties_as_half(sessions: SessionFactory) -> None:
    rows = [mentor(m) for m in ("me", "p0", "p2", "p4", "p5")]
    completed = {"me": 2, "p2": 2, "p4": 4, "p5": 5}
    for mentor_id, count in completed.items():
        rows += [activity(mentor_id, f"2026-03-{10 + i:02d}T10:00:00Z") for i in range(count)]
    rows.append(activity("p0", "2026-03-10T10:00:00Z", status="cancelled"))
    await add(sessions, *rows)
    # 4 peers: p0 below, p2 equal -> 100 * (1 + 0.5) / 4 = 37.5 -> 38
    assert (await summary(sessions, "me")).peer_rank_percentile == 38
    # p5 is above all 3 others and p4 -> 100 * 4 / 4
    assert (await summary(sessions, "p5")).peer_rank_percentile == 100


async def test_peer_rank_uses_the_request_time_zone_for_every_peer(
    sessions: SessionFactory,
) -> None:
    await add(
        sessions,
        mentor("me"),
        mentor("tokyo", tz="Asia/Tokyo"),
        activity("me", "2026-03-24T10:00:00Z"),
        activity("tokyo", "2026-03-24T20:00:00Z"),  # Tokyo: Mar 25, UTC: Mar 24
    )
    day = date(2026, 3, 24)
    in_utc = await summary(sessions, "me", start_date=day, end_date=day)
    assert in_utc.peer_rank_percentile == 50  # both have one
    in_tokyo = await summary(sessions, "me", start_date=day, end_date=day, tz="Asia/Tokyo")
    assert in_tokyo.total_activities == 1  # 19:00 in Tokyo, still Mar 24
    assert in_tokyo.peer_rank_percentile == 100  # the peer's is on Mar 25 in Tokyo


async def test_no_peers_means_no_rank(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-24T10:00:00Z"))
    assert (await summary(sessions)).peer_rank_percentile is None


async def test_all_time_starts_at_the_first_local_activity(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="America/Los_Angeles"),
        activity("m1", "2024-06-01T03:00:00Z"),  # May 31 in Los Angeles
        activity("m1", "2026-03-01T20:00:00Z"),
    )
    result = await summary(sessions, period=Period.ALL_TIME)
    assert result.start_date == date(2024, 5, 31)
    assert result.total_activities == 2


async def test_unknown_mentor_is_not_found(sessions: SessionFactory) -> None:
    with pytest.raises(NotFound):
        await summary(sessions, "ghost")


async def test_malformed_id_is_reported_before_the_mentor_is_looked_up(
    sessions: SessionFactory,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await summary(sessions, "no spaces")
    assert raised.value.problems[0].param == "mentor_id"


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (
            {"period": Period.LAST_7_DAYS, "start_date": date(2026, 3, 1), "end_date": AS_OF},
            "period",
        ),
        ({"start_date": date(2026, 3, 1)}, "end_date"),
        ({"end_date": date(2026, 3, 1)}, "start_date"),
        ({"period": Period.CUSTOM}, "period"),
        ({"start_date": date(2026, 3, 2), "end_date": date(2026, 3, 1)}, "start_date"),
        ({"start_date": date(2016, 3, 15), "end_date": AS_OF}, "end_date"),  # 3,663 days
        ({"start_date": date(2026, 3, 1), "end_date": date(2026, 3, 26)}, "end_date"),  # > as_of
        ({"tz": "Mars/Olympus"}, "tz"),
    ],
)
async def test_custom_window_errors(
    sessions: SessionFactory, args: dict[str, object], param: str
) -> None:
    await add(sessions, mentor("m1"))
    with pytest.raises(InvalidInput) as raised:
        await summary(sessions, **args)
    assert [p.param for p in raised.value.problems] == [param]


async def test_custom_period_with_both_dates_means_the_dates(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-02T10:00:00Z"))
    result = await summary(
        sessions, period=Period.CUSTOM, start_date=date(2026, 3, 1), end_date=date(2026, 3, 3)
    )
    assert (result.period, result.total_activities) == (Period.CUSTOM, 1)


async def test_window_of_exactly_3660_days_is_accepted(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    start = AS_OF - timedelta(days=3659)
    result = await summary(sessions, start_date=start, end_date=AS_OF)
    assert (AS_OF - result.start_date).days + 1 == 3660
    with pytest.raises(InvalidInput):
        await summary(sessions, start_date=start - timedelta(days=1), end_date=AS_OF)


async def test_peer_rank_follows_the_data_version(
    sessions: SessionFactory, engine: object, tmp_path: object
) -> None:
    """One service across an import: the rank it gives after the import counts the import,
    whichever path (the peer index or SQL) answers."""
    from pathlib import Path

    from personal_stats.service.ingest import import_files
    from personal_stats.service.stats_service import StatsService
    from personal_stats.support.settings import Settings
    from tests.helpers import database_url

    await add(sessions, mentor("me"), mentor("peer"), activity("me", "2026-03-24T10:00:00Z"))
    service = StatsService(Settings(database_url=database_url(sessions)))
    question = lambda: stats.summary("me", WindowArgs(as_of=AS_OF))  # noqa: E731

    try:
        assert (await service.ask(question())).peer_rank_percentile == 100  # the peer has none
        assert service.peers.building is not None
        await service.peers.building[1]
        assert (await service.ask(question())).peer_rank_percentile == 100
        assert service.peers.answered["standing index"] == 1
        document = Path(str(tmp_path)) / "more.json"
        document.write_text(
            '{"activities": [{"id": "x1", "mentor_id": "peer", "activity_type_id": "t1",'
            ' "status": "completed", "started_at": "2026-03-24T11:00:00Z", "duration_minutes": 5},'
            ' {"id": "x2", "mentor_id": "peer", "activity_type_id": "t1",'
            ' "status": "completed", "started_at": "2026-03-24T12:00:00Z", "duration_minutes": 5}]}'
        )
        await import_files(Writes(engine), [document])  # type: ignore[arg-type]
        assert (await service.ask(question())).peer_rank_percentile == 0  # the peer has two
        # The old index, corrected by the peer's count in the new snapshot: no recount.
        assert service.peers.answered["standing corrected"] == 1
        assert service.peers.answered["standing sql"] == 1
    finally:
        await service.close()
