"""Deterministic synthetic data for demos and benchmarks, written straight to the database:
mentors join at different times in several time zones, work in weekly rhythms with seasonal
peaks, cancel about 15 % of their activities, and each activity type has its own durations."""

import random
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate, islice

from rich.progress import Progress

from personal_stats.core.windows import zone
from personal_stats.storage import NewActivity, Writes

# id, code, name, share of activities, mean and spread of the duration in minutes
TYPES = [
    ("act_type_001", "one_on_one_session", "One-on-One Session", 50, 55, 12),
    ("act_type_002", "group_workshop", "Group Workshop", 10, 95, 20),
    ("act_type_003", "check_in", "Check-in", 30, 20, 6),
    ("act_type_004", "career_review", "Career Review", 10, 45, 10),
]
ZONES = [
    "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
    "Europe/London", "Europe/Berlin", "Africa/Lagos", "Asia/Kolkata", "Asia/Kathmandu",
    "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "UTC",
]  # fmt: skip
WEEKDAY_WEIGHT = (1.0, 1.15, 1.25, 1.15, 0.9, 0.3, 0.15)
MONTH_WEIGHT = (1.0, 1.05, 1.15, 1.05, 1.0, 0.85, 0.65, 0.6, 1.1, 1.2, 1.15, 0.7)
HOURS = list(range(7, 21))
HOUR_WEIGHT = [1, 3, 5, 6, 5, 3, 4, 5, 5, 4, 3, 2, 2, 1]
FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kavya", "Liam", "Maya", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sven", "Zoe",
]  # fmt: skip
LAST_NAMES = ["Okafor", "Schmidt", "Tanaka", "Silva", "Novak", "Haddad", "Kim", "Rossi", "Park"]
CANCELLED_SHARE = 0.15
WEEKLY_RATE = 1.2  # activities per active week, on average


@dataclass(frozen=True)
class Plan:
    mentors: int
    years: int
    seed: int
    end: date

    @property
    def start(self) -> date:
        return self.end - timedelta(days=365 * self.years)


def mentor_rows(plan: Plan) -> list[tuple[str, str, str]]:
    rng = random.Random(f"mentors-{plan.seed}")
    return [
        (
            f"mentor_{n:06d}",
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            rng.choice(ZONES),
        )
        for n in range(plan.mentors)
    ]


def activity_rows(plan: Plan, mentors: list[tuple[str, str, str]]) -> Iterator[NewActivity]:
    """Every mentor's activities, mentor by mentor; the same plan always gives the same rows."""
    days = [plan.start + timedelta(days=i) for i in range((plan.end - plan.start).days + 1)]
    weights = [WEEKDAY_WEIGHT[d.weekday()] * MONTH_WEIGHT[d.month - 1] for d in days]
    cumulative = list(accumulate(weights))
    type_ids = [t[0] for t in TYPES]
    type_weights = [t[3] for t in TYPES]
    durations = {t[0]: (t[4], t[5]) for t in TYPES}
    for number, (mentor_id, _, tz_name) in enumerate(mentors):
        rng = random.Random(f"{plan.seed}-{number}")
        tz = zone(tz_name)
        # Joins at any time, a few early birds more often; at least a month of activity.
        first = min(int(len(days) * rng.random() ** 1.3), len(days) - 30)
        base = cumulative[first - 1] if first else 0.0
        span = cumulative[-1] - base
        rate = WEEKLY_RATE * rng.lognormvariate(0, 0.5)
        count = max(1, round(rate * (len(days) - first) / 7))
        for serial in range(count):
            day = days[bisect_left(cumulative, base + rng.random() * span)]
            local = datetime.combine(
                day, time(rng.choices(HOURS, HOUR_WEIGHT)[0], rng.choice((0, 15, 30, 45)))
            )
            type_id = rng.choices(type_ids, type_weights)[0]
            mean, spread = durations[type_id]
            yield NewActivity(
                id=f"act_{number:06d}_{serial:05d}",
                mentor_id=mentor_id,
                activity_type_id=type_id,
                status="cancelled" if rng.random() < CANCELLED_SHARE else "completed",
                started_at=local.replace(tzinfo=tz).astimezone(UTC),
                duration_minutes=min(1440, max(5, round(rng.gauss(mean, spread)))),
            )


async def seed(writes: Writes, plan: Plan, *, show_progress: bool = True) -> int:
    """Write the plan's mentors and activities in one transaction; returns the activity count."""
    mentors = mentor_rows(plan)
    types = [(t[0], t[1], t[2]) for t in TYPES]
    written = 0
    with Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task("seeding activities", total=plan.mentors)
        async with writes.transaction() as transaction:
            writer = await transaction.activity_writer()
            rows = activity_rows(plan, mentors)
            while batch := list(islice(rows, 20_000)):
                await writer.write(batch)
                written += len(batch)
                progress.update(task, completed=int(batch[-1].id[4:10]) + 1)
            await writer.before_references()
            await transaction.write_reference_data(types, mentors)
            everyone = await writer.finish()  # a first load, unless the tables held activities
            await transaction.make_version(None if everyone else writer.changed, writer.steps)
    return written
