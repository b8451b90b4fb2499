"""The questions both adapters serve, each once: the core function that answers it, the
argument records it takes (each argument declared in `params`), and what it answers. REST
routes, GraphQL fields and OpenAPI operations are derived from these."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from personal_stats.core import stats
from personal_stats.core.params import (
    Args,
    CalendarArgs,
    MonthRangeArgs,
    PageArgs,
    WindowArgs,
    YearRangeArgs,
)
from personal_stats.core.reads import Question

BASE = "/api/v1/personal-stats"  # every question's REST path lies under BASE/{mentor_id}


@dataclass(frozen=True)
class Asked:
    ask: Callable[..., Question[Any]]  # (mentor id, *records) -> the question
    records: tuple[type[Args], ...]
    description: str
    # Answered from the mentor's own records and today's date alone (no peers, no activity
    # types): a subscription event may reuse its answer while those stand (`graphql.reuse`;
    # `tests/test_reuse.py` holds each such question to it).
    own_records: bool = False


SUMMARY = Asked(stats.summary, (WindowArgs,), "The summary card of a mentor for a window.")
MONTHLY_SERIES = Asked(
    stats.monthly_series,
    (MonthRangeArgs, PageArgs),
    "Activity per month over a range of months (YYYY-MM), oldest first.",
    own_records=True,
)
ACTIVITY_BREAKDOWN = Asked(
    stats.activity_breakdown,
    (WindowArgs, PageArgs),
    "Activity per activity type in a window, most frequent first.",
)
CONTRIBUTION_HISTORY = Asked(
    stats.contribution_history,
    (YearRangeArgs, PageArgs),
    "Activity per month for a range of years, oldest year first.",
    own_records=True,
)
CONTRIBUTION_CALENDAR = Asked(
    stats.contribution_calendar,
    (CalendarArgs,),
    "One entry per local date (by default the 365 days ending asOf), with levels 0-4.",
    own_records=True,
)
