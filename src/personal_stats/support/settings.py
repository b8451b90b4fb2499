"""Settings from `PERSONAL_STATS_*` environment variables (or a `.env` file), read when asked
for, never at import time."""

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    max_in_flight: int = Field(default=64, ge=1)
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    max_head_bytes: int = Field(default=65_536, ge=4096)
    stall_timeout: float = Field(default=30.0, gt=0, le=3600)
    body_timeout: float = Field(default=10.0, gt=0, le=3600)
    max_ingest_bytes: int = Field(default=10_000_000, ge=1024)
    ingest_rate_per_minute: int = Field(default=600, ge=1)
    bulk_timeout: float = Field(default=3600.0, gt=0)
    events_min_interval: float = Field(default=0.5, gt=0, le=1)
    max_streams: int = Field(default=10_000, ge=1)
    max_streams_per_client: int = Field(default=500, ge=1)
    graphql_max_depth: int = Field(default=8, ge=1)
    graphql_max_aliases: int = Field(default=20, ge=0)
    graphql_max_tokens: int = Field(default=2_000, ge=10)
    graphql_max_cost: int = Field(default=1_000, ge=1)
    graphql_introspection: bool = True
    graphql_field_suggestions: bool = True
    # "trusted": only documents named by id run (SPEC 21); "any": any document runs.
    graphql_documents: Literal["any", "trusted"] = "any"
    # When set, GET /metrics asks for it as a bearer token (token names and write counts are
    # not for the public); never logged or shown.
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value
