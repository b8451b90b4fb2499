"""Settings read from the environment when asked for, never at import time."""

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./personal_stats.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def from_env(cls) -> "Settings":
        """Settings from `PERSONAL_STATS_*` environment variables, defaults elsewhere."""
        env = os.environ
        return cls(
            database_url=env.get("PERSONAL_STATS_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env.get("PERSONAL_STATS_HOST", cls.host),
            port=int(env.get("PERSONAL_STATS_PORT", str(cls.port))),
        )
