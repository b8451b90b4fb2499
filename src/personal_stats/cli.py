"""The `personal-stats` command: serve, import, seed, migrate, export-schema, erase, token
and documents."""

import argparse
import asyncio
import re
import resource
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from personal_stats.core import tokens
from personal_stats.core.errors import ImportRejected
from personal_stats.core.params import is_valid_id
from personal_stats.service.ingest import ImportReport, import_files
from personal_stats.service.seed import Plan, seed
from personal_stats.storage import Writes
from personal_stats.storage.engine import DatabaseError, create_engine
from personal_stats.storage.migrate import current_revision, upgrade
from personal_stats.support.logs import logging_config
from personal_stats.support.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:  # named, without the values given (one may be a secret)
        for problem in error.errors():
            name = "PERSONAL_STATS_" + "_".join(map(str, problem["loc"])).upper()
            print(f"{name}: {problem['msg']}", file=sys.stderr)
        return 2
    result: int = options.run(options, settings)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personal-stats", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve REST, GraphQL and GraphiQL on one port")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.set_defaults(run=_serve)

    load = commands.add_parser("import", help="import JSON or JSON Lines files atomically")
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    load.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has mentors"
    )
    load.set_defaults(run=_import)

    seed = commands.add_parser("seed", help="write deterministic synthetic data")
    seed.add_argument("--mentors", type=_positive, required=True, help="how many mentors")
    seed.add_argument("--years", type=_positive, required=True, help="years of history")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    seed.add_argument(
        "--end", type=date.fromisoformat, default=date(2026, 11, 28),
        help="last day of the history, YYYY-MM-DD (default 2026-11-28)",
    )  # fmt: skip
    seed.set_defaults(run=_seed)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest")
    migrate.set_defaults(run=_migrate)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument(
        "--federation", action="store_true",
        help="print the Apollo Federation 2 subgraph's SDL (with @link and @key)",
    )  # fmt: skip
    export.set_defaults(run=_export_schema)

    erase = commands.add_parser(
        "erase", help="erase a mentor and every activity of theirs (as the write API does)"
    )
    erase.add_argument("mentor_id", type=_identifier, metavar="MENTOR_ID")
    erase.add_argument(
        "--vacuum", action="store_true",
        help="then rewrite the tables without the deleted rows where the engine keeps them "
        "(VACUUM FULL: each table is locked while it runs)",
    )  # fmt: skip
    erase.set_defaults(run=_erase)

    token = commands.add_parser("token", help="create, list and revoke write API tokens")
    actions = token.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument(
        "name", type=_identifier, help="a name for the token (1-64 of A-Z a-z 0-9 _ -)"
    )
    create.add_argument(
        "--scope", action="append", choices=tokens.SCOPES,
        help="a scope, repeatable: ingest (push and delete records), erase (erase a mentor); "
        "default: ingest",
    )  # fmt: skip
    create.add_argument(
        "--expires-in", type=_days, metavar="DAYSd", help="expire after this many days (e.g. 90d)"
    )
    create.set_defaults(run=_token_create)
    listing = actions.add_parser("list", help="list tokens: name, scopes, created, last used")
    listing.set_defaults(run=_token_list)
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    revoke.set_defaults(run=_token_revoke)

    documents = commands.add_parser("documents", help="add and list persisted GraphQL documents")
    doings = documents.add_subparsers(required=True, metavar="ACTION")
    add = doings.add_parser(
        "add", help="add .graphql files (one document each) and JSON manifests "
        '({"<sha256 hex>": "<text>"}); nothing is added if any is wrong',
    )  # fmt: skip
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.set_defaults(run=_documents_add)
    shown = doings.add_parser("list", help="list persisted documents: id, added, operations")
    shown.set_defaults(run=_documents_list)
    return parser


WORKER_HEALTHCHECK_SECONDS = 30


def _serve(options: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from personal_stats.frameworks.uvicorn import Multiprocess
    from personal_stats.server.app import create_app
    from personal_stats.server.protocol import GuardedHttpToolsProtocol

    given = {name: getattr(options, name) for name in ("host", "port", "workers")}
    settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    open_files_for(settings.max_streams)
    # Each worker process builds its app from these settings (pickled to it), not from the
    # environment.
    config = uvicorn.Config(
        partial(create_app, settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=logging_config(settings.log_level),
        access_log=False,  # the app writes its own access log
        http=GuardedHttpToolsProtocol,
        # A WebSocket message past the body limit closes its connection (1009) unread.
        ws_max_size=settings.max_body_bytes,
        # Compressing every event took a share of a worker fanning dashboards out to many
        # subscribers (bench/README.md); a text frame of JSON goes as it is.
        ws_per_message_deflate=False,
        loop=event_loop(settings.workers),
        # A worker answers the supervisor's pings once its interpreter has started and
        # imported the service: on a loaded machine that took over uvicorn's 5 s, and the
        # supervisor killed every new worker, again and again, before it could serve.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    if settings.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3  # as uvicorn's own command: the app did not start


# Besides its streams, a worker's other connections, database connections and files.
FILES_BESIDE_STREAMS = 1_024


def open_files_for(streams: int) -> int:
    """Raise the process's soft limit of open files (often 1,024) towards its hard limit, so
    that a worker can hold `streams` streams (each an open connection); a hard limit below
    that is reported, not exceeded. The soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = streams + FILES_BESIDE_STREAMS
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < wanted:
        print(f"personal-stats: open files are limited to {soft}: fewer than "
              f"PERSONAL_STATS_MAX_STREAMS={streams} streams fit", file=sys.stderr)  # fmt: skip
    return soft


def event_loop(workers: int) -> Literal["asyncio", "uvloop"]:
    """asyncio's own loop for one worker, uvloop for several. asyncio's accepts every
    connection waiting at once: uvloop accepts one a turn of its loop, and under overload
    left new connections in the kernel's queue for seconds. With several workers on one
    socket, taking one a turn is what spreads them: asyncio's gave one of two workers 28 of
    32 connections (docs/internals.md, "Overload")."""
    return "asyncio" if workers == 1 else "uvloop"


def _identifier(text: str) -> str:
    if not is_valid_id(text):
        raise argparse.ArgumentTypeError("must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
    return text


async def _with_writes(settings: Settings, work: Any, *, bulk: bool = False) -> Any:
    """`work` done with the database's writes, its schema upgraded first."""
    engine = create_engine(settings, bulk=bulk)
    try:
        await upgrade(engine)
        return await work(Writes(engine))
    finally:
        await engine.dispose()


def _days(text: str) -> timedelta:
    if not re.fullmatch(r"[1-9][0-9]{0,4}d", text):
        raise argparse.ArgumentTypeError("must be a whole number of days from 1 to 99999, e.g. 90d")
    return timedelta(days=int(text[:-1]))


def _token_create(options: argparse.Namespace, settings: Settings) -> int:
    scopes = tuple(dict.fromkeys(options.scope or [tokens.INGEST]))
    try:
        value = asyncio.run(
            _with_writes(
                settings, lambda w: w.create_token(options.name, scopes, options.expires_in)
            )
        )
    except ValueError as error:
        print(f"token not created: {error}", file=sys.stderr)
        return 1
    print(value)
    print(f"token {options.name!r} ({' '.join(scopes)}) created; it is shown only this once",
          file=sys.stderr)  # fmt: skip
    return 0


def _token_list(_options: argparse.Namespace, settings: Settings) -> int:
    found = asyncio.run(_with_writes(settings, Writes.tokens))
    print(f"{'name':24} {'scopes':14} {'created':20} {'last used':20} {'expires':20} revoked")
    for token in found:
        print(f"{token.name:24} {' '.join(token.scopes):14} {_when(token.created_at):20} "
              f"{_when(token.last_used_at):20} {_when(token.expires_at):20} "
              f"{_when(token.revoked_at)}")  # fmt: skip
    return 0


def _erase(options: argparse.Namespace, settings: Settings) -> int:
    def erase(writes: Writes) -> Any:
        return writes.erase_for_good(options.mentor_id, options.vacuum)

    version, vacuumed = asyncio.run(_with_writes(settings, erase))
    if version is None:
        print(f"no mentor with id {options.mentor_id!r}", file=sys.stderr)
        return 1
    print(f"mentor {options.mentor_id!r} erased (data version {version})")
    if options.vacuum:
        print("tables rewritten without the deleted rows" if vacuumed
              else "nothing to vacuum: this engine's erasure left no trace")  # fmt: skip
    return 0


def _token_revoke(options: argparse.Namespace, settings: Settings) -> int:
    if not asyncio.run(_with_writes(settings, lambda w: w.revoke_token(options.name))):
        print(f"no live token named {options.name!r}", file=sys.stderr)
        return 1
    print(f"token {options.name!r} revoked")
    return 0


def _when(instant: datetime | None) -> str:
    return "-" if instant is None else instant.strftime("%Y-%m-%d %H:%M:%S")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seed(options: argparse.Namespace, settings: Settings) -> int:
    plan = Plan(options.mentors, options.years, options.seed, options.end)

    def run(writes: Writes) -> Any:
        return seed(writes, plan, show_progress=sys.stderr.isatty())

    started = time.perf_counter()
    written = asyncio.run(_with_writes(settings, run, bulk=True))
    seconds = time.perf_counter() - started
    print(f"seeded {plan.mentors} mentors and {written} activities in {seconds:.1f} s")
    return 0


def _import(options: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    try:
        report = asyncio.run(_import_files(settings, options.files, options.if_empty))
    except ImportRejected as rejected:
        for problem in rejected.problems:
            print(problem, file=sys.stderr)
        print(f"import rejected: {len(rejected.problems)} problem(s); nothing was written",
              file=sys.stderr)  # fmt: skip
        return 1
    except (DatabaseError, OSError) as error:
        print(f"import failed: {error}; nothing was written", file=sys.stderr)
        return 1
    if report is None:
        print("the database already has mentors; nothing imported")
    else:
        seconds = time.perf_counter() - started
        print(
            f"imported {report.activity_types} activity types, {report.mentors} mentors, "
            f"{report.activities} activities in {seconds:.1f} s"
        )
    return 0


async def _import_files(
    settings: Settings, files: list[Path], if_empty: bool
) -> ImportReport | None:
    async def run(writes: Writes) -> ImportReport | None:
        if if_empty and await writes.has_mentors():
            return None
        return await import_files(writes, files, show_progress=sys.stderr.isatty())

    result: ImportReport | None = await _with_writes(settings, run, bulk=True)
    return result


def _migrate(_options: argparse.Namespace, settings: Settings) -> int:
    async def run() -> str | None:
        engine = create_engine(settings, bulk=True)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    print(f"database schema at revision {asyncio.run(run())}")
    return 0


def _documents_add(options: argparse.Namespace, settings: Settings) -> int:
    from personal_stats.adapters.graphql.manifests import BadDocuments, read_documents
    from personal_stats.adapters.graphql.schema import build_schema

    try:
        found = read_documents(options.files, build_schema(settings).documents)
    except BadDocuments as bad:
        for problem in bad.problems:
            print(problem, file=sys.stderr)
        print(f"no document added: {len(bad.problems)} problem(s)", file=sys.stderr)
        return 1
    new = asyncio.run(_with_writes(settings, lambda w: w.add_documents(found)))
    for sha256 in new:
        print(f"sha256:{sha256}")
    print(f"{len(new)} document(s) added, {len(found) - len(new)} known already", file=sys.stderr)
    return 0


def _documents_list(_options: argparse.Namespace, settings: Settings) -> int:
    from personal_stats.adapters.graphql.manifests import operation_names

    found = asyncio.run(_with_writes(settings, Writes.documents))
    print(f"{'id':71} {'added':20} operations")
    for sha256, added_at, text in found:
        print(f"sha256:{sha256} {_when(added_at):20} {' '.join(operation_names(text))}")
    return 0


def _export_schema(options: argparse.Namespace, settings: Settings) -> int:
    from personal_stats.adapters.graphql.schema import build_schema, plain_sdl

    schema = build_schema(settings)
    print(schema.as_str() if options.federation else plain_sdl(schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
