"""The OpenAPI 3.1 document of the REST endpoints, built from the code's own definitions:
parameters and the text of their rules from the arguments `params` declares, response
schemas from the core's result records."""

from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from personal_stats.core import params, questions
from personal_stats.core.questions import BASE
from personal_stats.core.windows import WEEK, YEAR_PATTERN

_DATE = {"type": "string", "format": "date", "pattern": rf"^{YEAR_PATTERN}-\d{{2}}-\d{{2}}$"}
_MONTH = {"type": "string", "pattern": rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])$"}
_ID = {"type": "string", "pattern": f"^{params.ID_PATTERN}$"}
_ZONE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_+/-]+$",
         "examples": ["America/New_York", "Europe/Berlin", "UTC"]}  # fmt: skip


def _integer(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


# One to six day names, comma-separated, none twice (the lookahead): a string, not an array
# of `style: form, explode: false`, which generated clients send as repeated parameters.
_DAY = "|".join(WEEK)
_REST_DAYS = {
    "type": "string",
    "pattern": rf"^(?!.*\b(\w+)\b.*\b\1\b)({_DAY})(,({_DAY})){{0,5}}$",
    "examples": ["saturday,sunday"],
}
MENTOR_ID = {
    "name": "mentor_id", "in": "path", "required": True,
    "schema": _ID,
    "examples": {"demo": {"summary": "James Park in the demo data", "value": "mentor_b2c91a"}},
}  # fmt: skip


def _schema_of(kind: params.Kind) -> dict[str, Any]:
    if isinstance(kind, params.Month):
        return _MONTH
    if isinstance(kind, params.Day):
        return _DATE
    if isinstance(kind, params.WholeNumber):
        return _integer(kind.low, kind.high)
    if isinstance(kind, params.Named):
        return {"type": "string", "enum": [name.value for name in kind.names]}
    if isinstance(kind, params.Zone):
        # Not an enum of the ~600 names: generated clients turn them into identifiers, and
        # GMT+0, GMT-0 and GMT0 become one (a name outside the tz database is a 400).
        return _ZONE
    if isinstance(kind, params.Choice):
        return {"type": "string", "enum": list(kind.values)}
    if isinstance(kind, params.RestDays):
        return _REST_DAYS
    raise TypeError(f"no schema for {kind!r}")


def parameters(*records: type[params.Args]) -> list[dict[str, Any]]:
    """The query parameters of these argument records, as they declare them."""
    return [_query(each.wire, _schema_of(each.kind), each.description)
            for record in records for each in params.arguments(record)]  # fmt: skip


def rules(*records: type[params.Args]) -> str:
    """The text of the rules between the records' arguments."""
    return "".join(record.RULES for record in records)


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


# The rules between parameters, which a schema cannot state (each record's RULES): a
# schema-valid combination that breaks one of them is a 400 naming the parameter.


def _read(
    operation_id: str, summary: str, records: tuple[type[params.Args], ...], answer: Any
) -> dict[str, Any]:
    """A public GET of a mentor's: its parameters and their rules from the argument records,
    `answer` its 200 (with the validators every answer carries)."""
    return {
        "get": {
            "summary": summary,
            "description": rules(*records),
            "operationId": operation_id,
            "security": [],  # public: no token
            "parameters": [MENTOR_ID, *parameters(*records)],
            "responses": {
                "200": {**answer, "headers": VALIDATORS},
                "304": {"description": "Not modified since the ETag given in If-None-Match"},
                "400": _problem("Malformed mentor id or invalid parameters"),
                "404": _problem("No mentor with this id"),
                "503": _problem("The database cannot be reached"),
            },
        }
    }


def _operation(asked: questions.Asked) -> dict[str, Any]:
    schema = asked.rest.schema
    answer = {
        "description": "The answer",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    return _read(schema[0].lower() + schema[1:], asked.rest.summary, asked.records, answer)


def _card(operation_id: str, summary: str, *records: type[params.Args]) -> dict[str, Any]:
    """An SVG card: the question's arguments and the card's own."""
    answer = {
        "description": "The card, an SVG image (every text in it escaped)",
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    }
    return _read(operation_id, summary, (*records, params.CardArgs), answer)


_STREAM = {
    "get": {
        "summary": "Live updates of a mentor (Server-Sent Events)",
        "description": (
            "An event stream (`text/event-stream`): a `stats-changed` event whenever data "
            "that may change the mentor's figures is written (`data`: `mentor_id`, "
            "`data_version`, `own_data_changed`), `mentor-erased` when the mentor is erased, "
            "and a comment line at least every 15 s. A client that reconnects with "
            "`Last-Event-ID` (or `last_event_id` on its first connection) is told at once of "
            "what it missed."
        ),
        "operationId": "mentorEvents",
        "security": [],
        "parameters": [
            MENTOR_ID,
            _query("last_event_id", {"type": "integer", "minimum": 0},
                   "The data version last heard, on a first connection (the Last-Event-ID "
                   "header wins)."),
            {"name": "Last-Event-ID", "in": "header", "required": False,
             "schema": {"type": "string", "pattern": "^[0-9]+$"},
             "description": "The data version last heard (sent by EventSource on reconnect)."},
        ],
        "responses": {
            "200": {
                "description": "The stream, open until the client or the server ends it",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "400": _problem("Malformed mentor id or Last-Event-ID"),
            "404": _problem("No mentor with this id"),
            "503": _problem("No room for another stream: retry after Retry-After"),
        },
    }
}  # fmt: skip


def _schemas() -> dict[str, Any]:
    named = {asked.rest.schema: asked.rest.answer for asked in questions.QUESTIONS}
    mode: JsonSchemaMode = "serialization"
    keyed, definitions = TypeAdapter.json_schemas(
        [(name, mode, TypeAdapter(kind)) for name, kind in named.items()],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for (name, _), reference in keyed.items():
        schemas[name] = schemas.pop(reference["$ref"].rsplit("/", 1)[-1])
    schemas["Problem"] = PROBLEM
    # Each schema titled by its own name: generated clients name their models by title, and
    # two generic pages were both titled "Page".
    return {name: {**schema, "title": name} for name, schema in schemas.items()}


_WRITE_ERRORS = {
    "401": _problem("No token, a malformed Authorization header, or an unknown, revoked or "
                    "expired token (a token in the query string is never accepted)"),
    "429": _problem("Too many requests with this token: wait for Retry-After"),
    "503": _problem("The database cannot be reached or answered too late, or another write "
                    "held it too long"),
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
                        "schema": _ID,
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
        # Relative: the document describes whichever host serves it.
        "servers": [{"url": "/", "description": "This service"}],
        "paths": {
            **{f"{path}{asked.rest.path}": _operation(asked) for asked in questions.QUESTIONS},
            f"{path}/cards/summary.svg": _card(
                "summaryCard", "Summary card (SVG)", params.WindowArgs, params.RestArgs
            ),
            f"{path}/cards/calendar.svg": _card(
                "calendarCard", "Calendar card (SVG)", params.CalendarArgs
            ),
            f"{path}/events": _STREAM,
            **_write_operations(),
        },
        "components": {
            "schemas": {**_schemas(), "LocatedProblem": {**_LOCATED, "title": "LocatedProblem"}},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `personal-stats token create NAME`",
                }
            },
        },
    }
