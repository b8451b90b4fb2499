"""The `personal-stats` command: serve, import and export-schema."""

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from personal_stats.db import create_engine, create_schema
from personal_stats.errors import ImportRejected
from personal_stats.ingest import ImportReport, has_mentors, import_files
from personal_stats.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    result: int = options.run(options)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personal-stats", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve REST, GraphQL and GraphiQL on one port")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.set_defaults(run=_serve)

    load = commands.add_parser("import", help="import JSON or JSON Lines files atomically")
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    load.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has mentors"
    )
    load.set_defaults(run=_import)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.set_defaults(run=_export_schema)
    return parser


def _serve(options: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env()
    settings = replace(
        settings,
        host=options.host or settings.host,
        port=options.port if options.port is not None else settings.port,
    )
    from personal_stats.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
    return 0


def _import(options: argparse.Namespace) -> int:
    try:
        report = asyncio.run(_import_files(options.files, options.if_empty))
    except ImportRejected as rejected:
        for problem in rejected.problems:
            print(problem, file=sys.stderr)
        print(f"import rejected: {len(rejected.problems)} problem(s); nothing was written",
              file=sys.stderr)  # fmt: skip
        return 1
    if report is None:
        print("the database already has mentors; nothing imported")
    else:
        print(
            f"imported {report.activity_types} activity types, {report.mentors} mentors, "
            f"{report.activities} activities"
        )
    return 0


async def _import_files(files: list[Path], if_empty: bool) -> ImportReport | None:
    engine = create_engine(Settings.from_env().database_url)
    try:
        await create_schema(engine)
        if if_empty and await has_mentors(engine):
            return None
        return await import_files(engine, files)
    finally:
        await engine.dispose()


def _export_schema(_options: argparse.Namespace) -> int:
    from personal_stats.graphql.schema import build_schema

    print(build_schema().as_str())
    return 0


if __name__ == "__main__":
    sys.exit(main())
