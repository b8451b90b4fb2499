"""The questions the service answers, each declared once with everything the adapters derive
from it: the core function that answers it and the argument records it takes (each argument
declared in `params`), its REST path, its GraphQL field and result type, its OpenAPI
operation and its GraphQL cost. The REST routes, the fields of GraphQL's `Query` and
`Mentor`, the OpenAPI operations and the cost of a document are built from `QUESTIONS`;
adding a question is adding a declaration here (and, where it cannot be derived, its answer's
GraphQL type)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from personal_stats.core import results, stats
from personal_stats.core.params import (
    MAX_CALENDAR_DAYS,
    Args,
    AsOfArgs,
    CalendarArgs,
    MonthRangeArgs,
    PageArgs,
    RestArgs,
    WindowArgs,
    YearRangeArgs,
)
from personal_stats.core.reads import Question

BASE = "/api/v1/personal-stats"  # every question's REST path lies under BASE/{mentor_id}
ENTRIES_PER_COST = 100  # a question costs 1, plus 1 for every 100 list entries it may hold


@dataclass(frozen=True)
class Cost:
    """How many list entries an answer may hold: `per_item` for each of a page's `limit`
    items (a year of history holds 13: itself and its months), or `entries` whatever is asked
    (a calendar's days)."""

    per_item: int = 0
    entries: int = 0


@dataclass(frozen=True)
class Rest:
    """The question's REST route (`path` under BASE/{mentor_id}) and OpenAPI operation."""

    path: str
    summary: str
    schema: str  # the OpenAPI component of the answer
    answer: Any  # the core's record of the answer, whose JSON schema the component is


@dataclass(frozen=True)
class GraphQL:
    """The question's field on `Query` (with a `mentorId` argument) and on `Mentor`."""

    field: str
    type_name: str  # the GraphQL type of the answer (`adapters/graphql/types.py`)


@dataclass(frozen=True)
class Asked:
    ask: Callable[..., Question[Any]]  # (mentor id, *records) -> the question
    records: tuple[type[Args], ...]
    description: str
    rest: Rest
    graphql: GraphQL
    cost: Cost = Cost()
    # Answered from the mentor's own records and today's date alone (no peers, no activity
    # types): a subscription event may reuse its answer while those stand (`graphql.reuse`;
    # `tests/test_reuse.py` holds each such question to it).
    own_records: bool = False
    # Reads the mentor's whole history: asked beside other questions about the mentor (a
    # dashboard), the unit of work reads every row once and each question takes its slice.
    whole_history: bool = False


SUMMARY = Asked(
    stats.summary,
    (WindowArgs, RestArgs),
    "The summary card of a mentor for a window.",
    # `comparison` only with `compare`, `rest_days` only with rest days
    Rest("", "Summary card", "PersonalStats", results.RestingComparedSummary),
    GraphQL("personalStats", "PersonalStats"),
)
MONTHLY_SERIES = Asked(
    stats.monthly_series,
    (MonthRangeArgs, PageArgs),
    "Activity per month over a range of months (YYYY-MM), oldest first.",
    Rest("/monthly-series", "Activity per month", "MonthlySeries", results.Page[results.MonthItem]),
    GraphQL("monthlySeries", "MonthlySeriesPage"),
    Cost(per_item=1),
    own_records=True,
)
ACTIVITY_BREAKDOWN = Asked(
    stats.activity_breakdown,
    (WindowArgs, PageArgs),
    "Activity per activity type in a window, most frequent first.",
    Rest(
        "/activity-breakdown",
        "Activity per type",
        "ActivityBreakdown",
        results.ComparedPage[results.ComparedBreakdownItem],
    ),
    GraphQL("activityBreakdown", "ActivityBreakdownPage"),
    Cost(per_item=1),
)
CONTRIBUTION_HISTORY = Asked(
    stats.contribution_history,
    (YearRangeArgs, PageArgs),
    "Activity per month for a range of years, oldest year first.",
    Rest(
        "/contribution-history",
        "Activity per month over the years",
        "ContributionHistory",
        results.Page[results.YearItem],
    ),
    GraphQL("contributionHistory", "ContributionHistoryPage"),
    Cost(per_item=13),  # a year and its twelve months
    own_records=True,
    whole_history=True,
)
CONTRIBUTION_CALENDAR = Asked(
    stats.contribution_calendar,
    (CalendarArgs,),
    "One entry per local date (by default the 365 days ending asOf), with levels 0-4.",
    Rest(
        "/contribution-calendar",
        "Activity per day (a daily heatmap)",
        "ContributionCalendar",
        results.Calendar,
    ),
    GraphQL("contributionCalendar", "ContributionCalendar"),
    Cost(entries=MAX_CALENDAR_DAYS),
    own_records=True,
)
PERSONAL_RECORDS = Asked(
    stats.personal_records,
    (AsOfArgs, RestArgs),
    "A mentor's bests over their whole history up to asOf, and the milestones reached.",
    # `rest_days` only with rest days
    Rest("/records", "Personal records and milestones", "PersonalRecords", results.RestingRecords),
    GraphQL("personalRecords", "PersonalRecords"),
    own_records=True,
    whole_history=True,
)

QUESTIONS = (
    SUMMARY,
    MONTHLY_SERIES,
    ACTIVITY_BREAKDOWN,
    CONTRIBUTION_HISTORY,
    CONTRIBUTION_CALENDAR,
    PERSONAL_RECORDS,
)
