"""Documents named instead of sent (SPEC 21).

A request may name its document by `documentId` (`"sha256:"` and the SHA-256 of the
document's exact text, in lower-case hex): the service's own documents (the dashboard's)
are known, and those added by `personal-stats documents add` are found in the database.
Apollo's automatic persisted queries name it by `extensions.persistedQuery.sha256Hash`: a
hash alone runs a document known by it, a hash with its `query` is checked and remembered
(in this worker, the least recently used let go first) before it runs. In trusted mode only
known documents run: a request that carries a text is refused, and nothing is remembered.

Each way gives the text; the text then takes the way every text takes (`Documents`: the
limits, the prepared document kept by text), so every way answers alike.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from personal_stats.adapters.graphql.documents import Kept
from personal_stats.support.document_ids import DOCUMENT_ID, SHA256_HEX, sha256_of

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
REQUIRED = "PERSISTED_QUERY_REQUIRED"
BAD_REQUEST = "BAD_REQUEST"


class Refused(Exception):
    """A request whose document cannot be had: answered with one error, before execution."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def error(self) -> GraphQLError:
        return GraphQLError(str(self), extensions={"code": self.code})


def _texts() -> Kept[str]:
    """Texts by hex: at most 1,024 and 2,000,000 characters of texts."""
    return Kept(1024, 2_000_000, lambda _sha256, text: len(text))


@dataclass(frozen=True)
class Named:
    """What a request runs: its document's text, whether the request named it by id (not
    sent it), and the APQ hash to remember it by once it proves a valid document."""

    text: Any  # a str, or whatever a malformed request sent as its `query`
    by_id: bool = False
    remember_as: str | None = None


@dataclass
class Persisted:
    """The documents a worker knows by id: `shipped` (the service's own, by hex), those found
    in the database by `find_stored`, and those APQ registered; `trusted` runs only the first
    two."""

    trusted: bool
    shipped: Mapping[str, str]
    find_stored: Callable[[str], Awaitable[str | None]]
    found: Kept[str] = field(default_factory=lambda: _texts())
    registered: Kept[str] = field(default_factory=lambda: _texts())

    async def named(self, parameters: Mapping[str, Any]) -> Named:
        """The document this request runs (`Refused` when there is none it may run). An
        empty `query` beside an id counts as none (graphql-ws sends no subscribe without one)."""
        query = parameters.get("query")
        if query == "" and ("documentId" in parameters or "extensions" in parameters):
            query = None
        if "documentId" in parameters:
            if query is not None:
                raise Refused(BAD_REQUEST, "Send either a query or a documentId, not both.")
            return Named(await self._by_document_id(parameters["documentId"]), by_id=True)
        extensions = parameters.get("extensions")
        if isinstance(extensions, dict) and "persistedQuery" in extensions:
            return await self._by_apq(extensions["persistedQuery"], query)
        if query is not None and self.trusted:
            raise Refused(
                REQUIRED,
                "This service runs only the documents it knows: name one by its documentId "
                "(documents are added with `personal-stats documents add`).",
            )
        return Named(query)

    def remember(self, named: Named) -> None:
        """Remember an APQ document once it proved valid."""
        if named.remember_as is not None and not self.trusted:
            self.registered.put(named.remember_as, named.text)

    async def _by_document_id(self, document_id: object) -> str:
        match = DOCUMENT_ID.fullmatch(document_id) if isinstance(document_id, str) else None
        if match is None:
            raise Refused(
                BAD_REQUEST, 'A documentId is "sha256:" and 64 lower-case hexadecimal digits.'
            )
        text = await self._known(match[1])
        if text is None:
            raise Refused(NOT_FOUND, f"No document has the id {document_id}.")
        return text

    async def _by_apq(self, persisted: object, query: object) -> Named:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise Refused(BAD_REQUEST, "Only version 1 of persistedQuery is supported.")
        sha256 = persisted.get("sha256Hash")
        if not (isinstance(sha256, str) and SHA256_HEX.fullmatch(sha256)):
            raise Refused(
                BAD_REQUEST, "persistedQuery.sha256Hash is 64 lower-case hexadecimal digits."
            )
        if query is None:
            text = await self._known(sha256)
            if text is None and not self.trusted:
                text = self.registered.get(sha256)
            if text is None:
                raise Refused(NOT_FOUND, "PersistedQueryNotFound")
            return Named(text, by_id=True)
        if self.trusted:
            raise Refused(REQUIRED, "This service runs only the documents it knows: send the "
                          "hash alone (automatic persisted queries are off).")  # fmt: skip
        if not isinstance(query, str) or sha256_of(query) != sha256:
            raise Refused(BAD_REQUEST, "provided sha does not match query")
        return Named(query, remember_as=sha256)

    async def _known(self, sha256: str) -> str | None:
        text = self.shipped.get(sha256) or self.found.get(sha256)
        if text is None:
            text = await self.find_stored(sha256)
            if text is not None:
                self.found.put(sha256, text)
        return text
