"""Settings from `PERSONAL_STATS_*` environment variables (or a `.env` file), read when asked
for, never at import time."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./personal_stats.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PERSONAL_STATS_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=10, ge=1, le=200)
    db_timeout: float = Field(default=5.0, gt=0, le=300)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
