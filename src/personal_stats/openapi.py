"""The OpenAPI 3.1 document of the REST endpoints, built from the code's own definitions:
parameter bounds from `params`, response schemas from the core's result records."""

from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from personal_stats import params, results
from personal_stats.rest import BASE
from personal_stats.windows import Period, known_timezones

_DATE = {"type": "string", "format": "date", "pattern": r"^(19|2\d)\d{2}-\d{2}-\d{2}$"}
_MONTH = {"type": "string", "pattern": r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"}


def _integer(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


MENTOR_ID = {
    "name": "mentor_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "examples": {"demo": {"summary": "James Park in the demo data", "value": "mentor_b2c91a"}},
}  # fmt: skip
AS_OF = _query("as_of", _DATE, "The day that counts as today (default: today in the zone).")
TZ = _query("tz", {"type": "string", "enum": sorted(known_timezones())},
            "IANA reporting time zone (default: the mentor's).")  # fmt: skip
WINDOW = [
    _query("period", {"type": "string", "enum": [p.value for p in Period]},
           "Named window ending on as_of (default last_30_days)."),
    _query("start_date", _DATE, "First day of a custom window (with end_date)."),
    _query("end_date", _DATE, "Last day of a custom window (with start_date), not after as_of."),
    AS_OF,
    TZ,
]  # fmt: skip
PAGE = [
    _query("page", _integer(1, params.MAX_PAGE), "Page number (default 1)."),
    _query("limit", _integer(1, params.MAX_LIMIT), "Items per page (default 20)."),
]
MONTH_RANGE = [
    _query("from", _MONTH, "First month (with to)."),
    _query("to", _MONTH, "Last month (with from), not after as_of's month."),
    _query("months", _integer(1, params.MAX_MONTHS), "That many months ending with as_of's month."),
    AS_OF,
    TZ,
]  # fmt: skip
_YEAR = _integer(params.MIN_YEAR, params.MAX_YEAR)
YEAR_RANGE = [
    _query("from_year", _YEAR, "First year (default: the first activity's)."),
    _query("to_year", _YEAR, "Last year (default: as_of's year)."),
    AS_OF,
    TZ,
]

CALENDAR_RANGE = [
    _query("start_date", _DATE, "First day (with end_date)."),
    _query("end_date", _DATE, "Last day (with start_date), not after as_of."),
    AS_OF,
    TZ,
]

PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["param", "message"],
                "properties": {"param": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
VALIDATORS = {
    "ETag": {"description": "Strong validator of this answer", "schema": {"type": "string"}},
    "Last-Modified": {"description": "When the data last changed", "schema": {"type": "string"}},
    "Cache-Control": {"description": "Always no-cache: revalidate", "schema": {"type": "string"}},
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# The rules between parameters, which a schema cannot state: a schema-valid combination that
# breaks one of them is a 400 naming the parameter.
_WINDOW_RULES = (
    "The window is either `period`, or `start_date` and `end_date` together (inclusive, "
    "`start_date` <= `end_date` <= `as_of`, at most 3,660 days). A named period beside the "
    "dates, or one date alone, is a 400; `period=custom` is accepted only with both dates. "
    "Activities whose local date (in `tz`, default the mentor's zone) is after `as_of` "
    "(default today there) are not counted."
)
_MONTH_RULES = (
    "The range is either `from` and `to` together (YYYY-MM, inclusive, `from` <= `to`, `to` "
    "not after as_of's month, at most 120 months), or `months` (the months ending with "
    "as_of's month). `months` beside `from`/`to`, or one of `from`/`to` alone, is a 400. "
    "Default: January of as_of's year through as_of's month."
)
_YEAR_RULES = (
    "Years `from_year` through `to_year`: `from_year` <= `to_year` <= as_of's year, at most "
    "100 years; otherwise a 400. Defaults: the year of the first activity, and as_of's year."
)
_CALENDAR_RULES = (
    "One entry per local date of `start_date` through `end_date` (together, inclusive, "
    "`start_date` <= `end_date` <= `as_of`, at most 366 days); default the 365 days ending "
    "on as_of. One date alone, a reversed or longer range, or `end_date` after as_of is a "
    "400. `level` 0-4 ranks a day's count among the range's active days by quartile."
)
_PAGE_RULES = " Pages: `page` 1-1,000,000 and `limit` 1-100; a page past the end is empty."


def _operation(
    summary: str, parameters: list[dict[str, Any]], schema: str, rules: str
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": rules,
            "operationId": schema[0].lower() + schema[1:],
            "parameters": [MENTOR_ID, *parameters],
            "responses": {
                "200": {
                    "description": "The answer",
                    "headers": VALIDATORS,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                },
                "304": {"description": "Not modified since the ETag given in If-None-Match"},
                "400": _problem("Malformed mentor id or invalid parameters"),
                "404": _problem("No mentor with this id"),
                "503": _problem("The database cannot be reached"),
            },
        }
    }


def _schemas() -> dict[str, Any]:
    named: dict[str, Any] = {
        "PersonalStats": results.Summary,
        "MonthlySeries": results.Page[results.MonthItem],
        "ActivityBreakdown": results.Page[results.BreakdownItem],
        "ContributionHistory": results.Page[results.YearItem],
        "ContributionCalendar": results.Calendar,
    }
    mode: JsonSchemaMode = "serialization"
    keyed, definitions = TypeAdapter.json_schemas(
        [(name, mode, TypeAdapter(kind)) for name, kind in named.items()],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for (name, _), reference in keyed.items():
        schemas[name] = schemas.pop(reference["$ref"].rsplit("/", 1)[-1])
    schemas["Problem"] = PROBLEM
    return schemas


_WRITE_ERRORS = {
    "401": _problem("No token, a malformed Authorization header, or an unknown, revoked or "
                    "expired token (a token in the query string is never accepted)"),
    "429": _problem("Too many requests with this token: wait for Retry-After"),
    "503": _problem("The database cannot be reached, or another write held it too long"),
}  # fmt: skip
_LOCATED = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        **PROBLEM["properties"],
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_RECORDS = {"type": "object", "description": "Records of one import (SPEC section 1)"}


def _write_operations() -> dict[str, Any]:
    located = {
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/LocatedProblem"}}
        }
    }
    ingest = {
        "post": {
            "summary": "Push records (upserted by id, atomically)",
            "operationId": "ingest",
            "description": (
                "The body is an import document (`application/json`) or JSON Lines with a "
                "`record` key on every line (`application/x-ndjson`). One request is one "
                "atomic, idempotent upsert: every record is valid and written, or none is. "
                "At most 50,000 records and `PERSONAL_STATS_MAX_INGEST_BYTES` bytes."
            ),
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _RECORDS},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            },
            "responses": {
                "200": {
                    "description": "Records received, by kind",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["activity_types", "mentors", "activities"],
                                "properties": {
                                    k: {"type": "integer", "minimum": 0}
                                    for k in ("activity_types", "mentors", "activities")
                                },
                            }
                        }
                    },
                },
                "400": {"description": "The body is not valid JSON", **located},
                "413": _problem("The body is over the size limit or holds too many records"),
                "415": _problem("Not application/json or application/x-ndjson"),
                "422": {"description": "Invalid records, each named; nothing written", **located},
                "403": _problem("The token lacks the ingest scope"),
                **_WRITE_ERRORS,
            },
        }
    }

    def erase(kind: str, summary: str, scope: str) -> dict[str, Any]:
        return {
            "delete": {
                "summary": summary,
                "operationId": f"delete{kind.title()}",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "record_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    }
                ],
                "responses": {
                    "204": {"description": "Deleted"},
                    "404": _problem(f"No {kind} with this id"),
                    "403": _problem(f"The token lacks the {scope} scope"),
                    **_WRITE_ERRORS,
                },
            }
        }

    return {
        "/api/v1/ingest": ingest,
        "/api/v1/ingest/activities/{record_id}": erase("activity", "Delete an activity", "ingest"),
        "/api/v1/ingest/mentors/{record_id}": erase(
            "mentor", "Erase a mentor and every activity of theirs", "erase"
        ),
    }


def openapi_document() -> dict[str, Any]:
    path = f"{BASE}/{{mentor_id}}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Personal Stats Service",
            "version": "1.0.0",
            "description": "A mentor's summary card, monthly trend, activity breakdown and "
            "contribution heatmap. GraphQL with the same figures is served at /graphql.",
        },
        "paths": {
            path: _operation("Summary card", WINDOW, "PersonalStats", _WINDOW_RULES),
            f"{path}/monthly-series": _operation(
                "Activity per month",
                [*MONTH_RANGE, *PAGE],
                "MonthlySeries",
                _MONTH_RULES + _PAGE_RULES,
            ),
            f"{path}/activity-breakdown": _operation(
                "Activity per type",
                [*WINDOW, *PAGE],
                "ActivityBreakdown",
                _WINDOW_RULES + _PAGE_RULES,
            ),
            f"{path}/contribution-history": _operation(
                "Activity per month over the years",
                [*YEAR_RANGE, *PAGE],
                "ContributionHistory",
                _YEAR_RULES + _PAGE_RULES,
            ),
            f"{path}/contribution-calendar": _operation(
                "Activity per day (a daily heatmap)",
                CALENDAR_RANGE,
                "ContributionCalendar",
                _CALENDAR_RULES,
            ),
            **_write_operations(),
        },
        "components": {
            "schemas": {**_schemas(), "LocatedProblem": _LOCATED},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `personal-stats token create NAME`",
                }
            },
        },
    }
