"""The GraphQL enums of the core's enums."""

from enum import StrEnum
from typing import Any

import strawberry

from personal_stats.core.windows import Compare, Period

StatsPeriod = strawberry.enum(Period, name="StatsPeriod")
CompareWith = strawberry.enum(Compare, name="CompareWith")
ENUMS: dict[type[StrEnum], Any] = {Period: StatsPeriod, Compare: CompareWith}
