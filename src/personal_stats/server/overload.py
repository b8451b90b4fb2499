"""The answer to a request past the worker's limit of requests in flight, built in one place:
the middleware sends it as a response (`busy`), the protocol writes the same answer's bytes
at the socket before any ASGI work (`BUSY`, `BUSY_HEAD`)."""

from http import HTTPStatus

from starlette.responses import Response

from personal_stats.http.problems import problem

AT_THE_LIMIT = "The service is at its limit of requests in flight; try again shortly."
RETRY_AFTER_SECONDS = 1
NOSNIFF = (b"x-content-type-options", b"nosniff")  # on every answer of the service


def busy() -> Response:
    return problem(503, AT_THE_LIMIT, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _raw(response: Response) -> tuple[bytes, bytes]:
    """The response as HTTP/1.1 bytes: its head, and its body."""
    status = response.status_code
    first = b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())
    lines = b"".join(b"%s: %s\r\n" % pair for pair in [*response.raw_headers, NOSNIFF])
    return first + lines + b"\r\n", bytes(response.body)


BUSY_HEAD, _BODY = _raw(busy())
BUSY = BUSY_HEAD + _BODY
