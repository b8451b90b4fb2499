"""The statements of the write API's tokens (see `personal_stats.core.tokens`)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select, update

from personal_stats.core.tokens import SCOPES, TokenInfo, digest, new_token
from personal_stats.storage.models import ApiToken, table_of


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.name, tuple(row.scopes.split()), row.created_at, row.last_used_at,
                     row.revoked_at, row.expires_at)  # fmt: skip


async def create(
    engine: AsyncEngine, name: str, scopes: tuple[str, ...], expires_in: timedelta | None = None
) -> str:
    """A new token (32 random bytes) under a new name; only its SHA-256 is stored. It
    expires `expires_in` from now, if given."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)[0]!r}; known: {', '.join(SCOPES)}")
    token = new_token()
    now = datetime.now(UTC)
    expires_at = None if expires_in is None else now + expires_in
    row = ApiToken(name=name, token_sha256=digest(token), scopes=" ".join(dict.fromkeys(scopes)),
                   created_at=now, expires_at=expires_at)  # fmt: skip
    try:
        async with engine.begin() as connection:
            values = row.model_dump(exclude={"id"})
            await connection.execute(table_of(ApiToken).insert(), [values])
    except IntegrityError:
        if any(found.name == name for found in await list_all(engine)):
            raise ValueError(f"a token named {name!r} exists already") from None
        raise
    return token


async def list_all(engine: AsyncEngine) -> list[TokenInfo]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(ApiToken).order_by(col(ApiToken.name)))
        return [_info(ApiToken.model_validate(row._mapping)) for row in rows]


async def revoke(engine: AsyncEngine, name: str) -> bool:
    """Revoke the named token; False when there is none (or it was revoked already)."""
    async with engine.begin() as connection:
        found = await connection.execute(
            update(ApiToken)
            .where(col(ApiToken.name) == name, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return bool(found.rowcount)


async def authenticate(engine: AsyncEngine, token: str) -> TokenInfo | None:
    """The live token with this value: not revoked, not expired; else None (a read: writes
    wait for the write lock)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(ApiToken).where(
                col(ApiToken.token_sha256) == digest(token), col(ApiToken.revoked_at).is_(None)
            )
        )
        row = found.first()
    if row is None:
        return None
    info = _info(ApiToken.model_validate(row._mapping))
    if info.expires_at is not None and info.expires_at <= datetime.now(UTC):
        return None
    return info


async def note_use(connection: AsyncConnection, name: str) -> None:
    """Note the token's use, in the write transaction of the request that used it."""
    await connection.execute(
        update(ApiToken).where(col(ApiToken.name) == name).values(last_used_at=datetime.now(UTC))
    )
