"""The GraphQL enums of the core's enums."""

import strawberry

from personal_stats.windows import Period

StatsPeriod = strawberry.enum(Period, name="StatsPeriod")
