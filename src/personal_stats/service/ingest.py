"""Import files: stream, validate every record, upsert, all in one transaction.

Activities are written in batches as they are read, so memory stays flat however large the
file; mentors and activity types (few) are kept until the end. References are checked once
everything has been read, with foreign keys deferred to the commit. The first problem stops
the writing, reading goes on to report every problem, and the transaction is rolled back:
nothing is written unless everything is valid.
"""

import asyncio
import io
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import ijson  # type: ignore[import-untyped]
import msgspec
from pydantic import ValidationError
from rich.progress import Progress

from personal_stats.core.errors import ImportRejected, Located, TooManyRecords
from personal_stats.core.records import (
    LINE,
    SECTIONS,
    ActivityRecord,
    ActivityTypeRecord,
    FastActivity,
    FastActivityType,
    FastMentor,
    MentorRecord,
    fast_line,
    messages,
)
from personal_stats.storage import ActivityWriter, NewActivity, Writes, WriteTransaction

BATCH = 10_000
YIELD_EVERY = 500  # records read between two turns of the event loop
TypeRecord = ActivityTypeRecord | FastActivityType
AnyMentorRecord = MentorRecord | FastMentor


@dataclass(frozen=True)
class ImportReport:
    activity_types: int
    mentors: int
    activities: int
    data_version: int  # after the import: the same as before when it changed nothing


@dataclass
class Reference:
    """Where an id was first referenced, and how many activities reference it."""

    location: str
    count: int = 0


@dataclass
class Importer:
    transaction: WriteTransaction
    writer: ActivityWriter
    types: dict[str, tuple[str, TypeRecord]] = field(default_factory=dict)
    mentors: dict[str, tuple[str, AnyMentorRecord]] = field(default_factory=dict)
    mentor_refs: dict[str, Reference] = field(default_factory=dict)
    type_refs: dict[str, Reference] = field(default_factory=dict)
    batch: list[NewActivity] = field(default_factory=list)
    activities: int = 0
    problems: list[Located] = field(default_factory=list)
    max_records: int | None = None
    records: int = 0

    async def count(self) -> None:
        """One more record read (valid or not): past `max_records`, the import stops. Every
        so often the event loop gets a turn: a server keeps answering during an ingest."""
        self.records += 1
        if self.max_records is not None and self.records > self.max_records:
            raise TooManyRecords(self.max_records)
        if self.records % YIELD_EVERY == 0:
            await asyncio.sleep(0)

    def problem(self, location: str, message: str, *, malformed: bool = False) -> None:
        self.problems.append(Located(location, message, malformed))

    async def add(self, location: str, record: Any, instant: datetime | None = None) -> None:
        """Take a valid record (a pydantic one, or a fast path's with its activity's instant)."""
        if isinstance(record, ActivityRecord | FastActivity):
            self.activities += 1
            _refer(self.mentor_refs, record.mentor_id, f"{location}.mentor_id")
            _refer(self.type_refs, record.activity_type_id, f"{location}.activity_type_id")
            self.batch.append(
                NewActivity(record.id, record.mentor_id, record.activity_type_id, record.status,
                            _instant(record, instant), record.duration_minutes)
            )  # fmt: skip
            if len(self.batch) >= BATCH:
                await self.flush()
        elif isinstance(record, MentorRecord | FastMentor):
            self.mentors[record.id] = (location, record)
        else:
            self.types[record.id] = (location, record)

    def reject(self, location: str, error: ValidationError, *, in_line: bool = False) -> None:
        for path, message in messages(error, in_line=in_line):
            self.problem(f"{location}.{path}", message)

    async def flush(self) -> None:
        # Writing while reading on would only trade the GIL between the two: measured slower.
        if self.batch and not self.problems:  # after the first problem, only read on
            await self.writer.write(self.batch)
        self.batch.clear()

    async def finish(self) -> ImportReport:
        await self.flush()
        self.problems += await self._reference_problems()
        if self.problems:
            raise ImportRejected(self.problems)
        await self.writer.before_references()
        types = [(r.id, r.code, r.name) for _, r in self.types.values()]
        mentors = [(r.id, r.name, r.timezone or "UTC") for _, r in self.mentors.values()]
        transaction = self.transaction
        types_changed, mentors_changed = await transaction.write_reference_data(types, mentors)
        writer = self.writer
        if await writer.finish():  # a first load: everyone's activities changed
            version = await transaction.make_version(None)
        elif writer.changed or types_changed or mentors_changed:
            changed = writer.changed | set(mentors_changed)
            version = await transaction.make_version(changed, writer.steps)
        else:
            version = await transaction.version()
        return ImportReport(len(types), len(mentors), self.activities, version)

    async def _reference_problems(self) -> list[Located]:
        """Unknown mentors and activity types, and activity-type codes used twice."""
        stored_types = await self.transaction.type_codes()
        problems = []
        code_owner = {code: type_id for type_id, code in stored_types.items()}
        for type_id, (location, record) in self.types.items():
            if code_owner.get(stored_types.get(type_id, "")) == type_id:
                del code_owner[stored_types[type_id]]
            owner = code_owner.setdefault(record.code, type_id)
            if owner != type_id:
                message = f"{record.code!r} is already the code of {owner!r}"
                problems.append(Located(f"{location}.code", message))
        unknown_mentors = self.mentor_refs.keys() - self.mentors.keys()
        if unknown_mentors:
            unknown_mentors -= await self.transaction.stored_mentors(unknown_mentors)
        problems += _unknown(self.mentor_refs, unknown_mentors, "mentor")
        unknown_types = self.type_refs.keys() - self.types.keys() - stored_types.keys()
        problems += _unknown(self.type_refs, unknown_types, "activity type")
        return problems


def _instant(record: ActivityRecord | FastActivity, instant: datetime | None) -> datetime:
    """A pydantic record carries its instant; the fast path's parsed it beside the record."""
    if isinstance(record, ActivityRecord):
        return record.started_at
    assert instant is not None
    return instant


def _refer(references: dict[str, Reference], key: str, location: str) -> None:
    reference = references.get(key)
    if reference is None:
        reference = references[key] = Reference(location)
    reference.count += 1


def _unknown(references: dict[str, Reference], ids: set[str], kind: str) -> list[Located]:
    problems = []
    for key in sorted(ids, key=lambda k: references[k].location):
        reference = references[key]
        more = f" (and {reference.count - 1} more activities)" if reference.count > 1 else ""
        problems.append(Located(reference.location, f"no {kind} with id {key!r}{more}"))
    return problems


@dataclass(frozen=True)
class Source:
    """Records to import: JSON Lines or a JSON document, opened anew for each pass."""

    name: str  # prefixed to every location when an import has several sources
    lines: bool  # JSON Lines, else a JSON document
    open: Callable[[], BinaryIO]
    size: int | None = None
    in_memory: bool = False  # a document parsed whole, not streamed


def file_source(path: Path) -> Source:
    return Source(str(path), path.suffix == ".jsonl", lambda: path.open("rb"), _size(path))


def body_source(body: bytes, *, lines: bool) -> Source:
    """A request's body: already in memory, so a document is parsed whole, by the standard
    library (whose integers have no size limit, unlike the streaming parser's)."""
    return Source("body", lines, lambda: io.BytesIO(body), len(body), in_memory=True)


async def import_files(
    writes: Writes, paths: Sequence[Path], *, show_progress: bool = False
) -> ImportReport:
    """Import the files atomically: every problem is reported and nothing is written, or
    every record is upserted by id."""
    return await import_sources(
        writes, [file_source(path) for path in paths], show_progress=show_progress
    )


async def import_sources(
    writes: Writes,
    sources: Sequence[Source],
    *,
    max_records: int | None = None,
    show_progress: bool = False,
    before_commit: Callable[[WriteTransaction], Awaitable[None]] | None = None,
) -> ImportReport:
    """Import the sources in one transaction (see the module's docstring); `max_records`
    stops an import that holds more records with `TooManyRecords`; `before_commit` adds to
    the transaction of a valid import."""
    await writes.drop_replaced()  # what an earlier first load left, if it could not
    async with writes.transaction() as transaction:
        writer = await transaction.activity_writer()
        importer = Importer(transaction, writer, max_records=max_records)
        with Progress(disable=not show_progress, transient=True) as progress:
            for source in sources:
                prefix = f"{source.name}: " if len(sources) > 1 else ""
                task = progress.add_task(f"importing {source.name}", total=source.size)

                def advance(done: int, task: Any = task) -> None:
                    progress.update(task, completed=done)

                await _read(importer, source, prefix, advance)
        report = await importer.finish()
        if before_commit is not None:
            await before_commit(transaction)
    await writes.drop_replaced()
    return report


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


async def _read(importer: Importer, source: Source, prefix: str, advance: Any) -> None:
    whole = prefix.removesuffix(": ")  # the location of a problem of the source as a whole
    try:
        if source.lines:
            with source.open() as file:
                await _read_lines(importer, file, prefix, advance)
        else:
            await _read_document(importer, source, prefix)
    except (TimeoutError, ConnectionError):
        raise  # the database's (a batch is written while reading), not the source's
    except OSError as error:
        importer.problem(whole, f"cannot read: {error.strerror or error}")
    except (ijson.JSONError, UnicodeDecodeError) as error:
        importer.problem(whole, f"not valid JSON: {error}", malformed=True)


async def _read_lines(importer: Importer, file: BinaryIO, prefix: str, advance: Any) -> None:
    done = 0
    for number, line in enumerate(file, start=1):
        done += len(line)
        if not line.strip():
            continue
        await importer.count()
        location = f"{prefix}line {number}"
        try:
            fast = fast_line(line)
            taken = fast if fast is not None else (LINE.validate_json(line), None)
        except RecursionError as error:
            importer.problem(location, f"not valid JSON: {_syntax_error(error)}", malformed=True)
            continue
        except ValidationError as error:
            if error.errors()[0]["type"] == "json_invalid":
                message = f"not valid JSON: {error.errors()[0]['msg']}"
                importer.problem(location, message, malformed=True)
            else:
                importer.reject(location, error, in_line=True)
            continue
        await importer.add(location, *taken)
        if number % BATCH == 0:
            advance(done)


async def _read_document(importer: Importer, source: Source, prefix: str) -> None:
    """One streaming pass over the document per section, so no section is held whole."""
    if source.in_memory:
        await _read_whole_document(importer, source, prefix)
        return
    for section, adapter in SECTIONS.items():
        with source.open() as file:
            items = _Items(file, section, importer, prefix)
            for index, raw in enumerate(items):
                await _take(importer, f"{prefix}{section}[{index}]", raw, adapter)
        if items.not_an_object:
            return


async def _read_whole_document(importer: Importer, source: Source, prefix: str) -> None:
    """A document in memory: split into its sections' items (msgspec checks the whole
    document's syntax at C speed without building it), then each item parsed and validated
    in turn, with the event loop given a turn every few hundred."""
    whole = prefix.removesuffix(": ")
    with source.open() as file:
        body = file.read()
    try:
        sections = _SECTIONS.decode(body)
    except msgspec.ValidationError:
        importer.problem(whole, "the document must be a JSON object")
        return
    except (msgspec.DecodeError, RecursionError) as error:
        importer.problem(whole, f"not valid JSON: {_syntax_error(error)}", malformed=True)
        return
    for section, adapter in SECTIONS.items():
        raw = sections.get(section)
        if raw is None:
            continue
        try:
            items = _ITEMS.decode(raw)
        except msgspec.ValidationError:
            importer.problem(f"{prefix}{section}", "must be a list")
            continue
        for index, item in enumerate(items or ()):
            location = f"{prefix}{section}[{index}]"
            try:  # the standard library's integers have no size limit, unlike msgspec's
                value = json.loads(bytes(item), parse_constant=_not_json)
            except (ValueError, RecursionError) as error:
                importer.problem(location, f"not valid JSON: {_syntax_error(error)}",
                                 malformed=True)  # fmt: skip
                continue
            await _take(importer, location, value, adapter)


_SECTIONS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw] | None)


def _syntax_error(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


async def _take(importer: Importer, location: str, raw: Any, adapter: Any) -> None:
    """One item of a document's section: validated, then added."""
    await importer.count()
    if not isinstance(raw, dict):
        importer.problem(location, "must be a JSON object")
        return
    try:
        record = adapter.validate_python(raw)
    except ValidationError as error:
        importer.reject(location, error)
        return
    await importer.add(location, record)


class _Items:
    """The items of the document's top-level list `section`, built one at a time."""

    def __init__(self, file: BinaryIO, section: str, importer: Importer, prefix: str) -> None:
        self.file, self.section, self.importer, self.prefix = file, section, importer, prefix
        self.not_an_object = False

    def __iter__(self) -> Iterator[Any]:
        item = f"{self.section}.item"
        builder: Any = None
        for number, (path, event, value) in enumerate(ijson.parse(self.file, use_float=True)):
            if number == 0 and event != "start_map":
                whole = self.prefix.removesuffix(": ")
                self.importer.problem(whole, "the document must be a JSON object")
                self.not_an_object = True
                return
            if builder is not None:
                builder.event(event, value)
                if path == item and event in ("end_map", "end_array"):
                    yield builder.value
                    builder = None
            elif path == item:
                if event in ("start_map", "start_array"):
                    builder = ijson.ObjectBuilder()
                    builder.event(event, value)
                else:
                    yield value
            elif path == self.section and event not in ("start_array", "end_array", "null"):
                self.importer.problem(f"{self.prefix}{self.section}", "must be a list")
                return
