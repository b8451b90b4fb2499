"""Alembic environment: runs on the connection handed over by `personal_stats.storage.migrate`, or,
from the `alembic` command line, on the database named by the settings."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from personal_stats.storage import models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from personal_stats.storage.engine import create_engine
    from personal_stats.support.settings import Settings

    engine = create_engine(Settings())
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
connection = context.config.attributes.get("connection")
if connection is None:
    asyncio.run(run_from_settings())
else:
    run_on(connection)
