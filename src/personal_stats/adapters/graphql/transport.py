"""GraphQL over HTTP (graphql.github.io/graphql-over-http): the media type a request is
answered in, and its status. With `application/graphql-response+json` the status tells a
request that failed before execution (4xx, and no `data` entry) from one that executed (200);
with `application/json` every well-formed request gets a 200, as clients written before the
new media type expect."""

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def answer_media_type(accept: str | None) -> str | None:
    """`application/graphql-response+json` when the client accepts it at least as much as
    `application/json`; `application/json` when it accepts that (or anything: `*/*`,
    `application/*`, or no Accept header, as older clients send); None when it accepts
    neither (answered 406)."""
    if not accept:
        return JSON
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        media = media.lower()
        weights[media] = max(weights.get(media, 0.0), weight)
    new = weights.get(GRAPHQL_RESPONSE, 0.0)
    old = max(weights.get(JSON, 0.0), weights.get("application/*", 0.0), weights.get("*/*", 0.0))
    if new > 0 and new >= old:
        return GRAPHQL_RESPONSE
    return JSON if old > 0 else None


def began(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """Whether execution began: the result has data, or a field's error (errors raised
    before execution, in parsing, validation or variable coercion, have no path)."""
    return data is not None or any(error.path is not None for error in errors or ())


def status_and_payload(
    media_type: str,
    data: object,
    errors: Sequence[GraphQLError] | None,
    payload: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    """The status of a result (its `data` and `errors`) in this media type, and its
    payload: with `application/graphql-response+json`, a request that never began executing
    is a 400 without a `data` entry."""
    if media_type == GRAPHQL_RESPONSE and not began(data, errors):
        return 400, {key: value for key, value in payload.items() if key != "data"}
    return 200, payload
