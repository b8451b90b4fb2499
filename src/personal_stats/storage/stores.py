"""The store a database URL names: the one place that chooses a read driver."""

from personal_stats.storage.base import Store
from personal_stats.storage.engine import is_sqlite
from personal_stats.support.settings import Settings


def open_store(settings: Settings) -> Store:
    if is_sqlite(settings.database_url):
        from personal_stats.storage.sqlite import SqliteStore

        return SqliteStore(settings)
    from personal_stats.storage.postgres import PostgresStore

    return PostgresStore(settings)
