"""The GraphQL enums of the core's enums."""

from enum import StrEnum
from typing import Any

import strawberry

from personal_stats.core.windows import Compare, Period
from personal_stats.core.windows import Weekday as Day

StatsPeriod = strawberry.enum(Period, name="StatsPeriod")
CompareWith = strawberry.enum(Compare, name="CompareWith")
Weekday = strawberry.enum(Day, name="Weekday", description="A day of the week.")
ENUMS: dict[type[StrEnum], Any] = {Period: StatsPeriod, Compare: CompareWith, Day: Weekday}
