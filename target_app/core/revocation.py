"""Revocation store: revoked jtis, and each user's live refresh tokens (for theft response).

Redis is the store whenever more than one process serves the API. If Redis cannot be reached the
store raises ``StoreUnavailable``; the API turns that into 503, so a revoked token is never let
through (fail closed).
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError


class StoreUnavailable(RuntimeError):
    """The revocation store could not be reached; callers must fail closed."""


class RevocationStore(Protocol):
    async def revoke(self, jti: str, ttl_seconds: int) -> None: ...
    async def is_revoked(self, jti: str) -> bool: ...
    async def track_refresh(self, user_id: str, jti: str, ttl_seconds: int) -> None: ...
    async def revoke_all_refresh(self, user_id: str, ttl_seconds: int) -> None: ...
    async def close(self) -> None: ...


class RedisRevocationStore:
    def __init__(self, url: str, prefix: str, *, fail_open: bool = False) -> None:
        self._redis = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        # The planted flaw revocation_fail_open: "Redis is down, so nothing is revoked".
        self._fail_open = fail_open

    async def revoke(self, jti: str, ttl_seconds: int) -> None:
        await self._call(self._redis.set(self._revoked(jti), 1, ex=max(ttl_seconds, 1)))

    async def is_revoked(self, jti: str) -> bool:
        try:
            return bool(await self._call(self._redis.exists(self._revoked(jti))))
        except StoreUnavailable:
            if self._fail_open:
                return False
            raise

    async def track_refresh(self, user_id: str, jti: str, ttl_seconds: int) -> None:
        key = self._refresh_set(user_id)
        await self._call(self._redis.sadd(key, jti))
        await self._call(self._redis.expire(key, max(ttl_seconds, 1)))

    async def revoke_all_refresh(self, user_id: str, ttl_seconds: int) -> None:
        key = self._refresh_set(user_id)
        members = await self._call(self._redis.smembers(key))
        for jti in members:
            await self.revoke(jti.decode(), ttl_seconds)
        await self._call(self._redis.delete(key))

    async def close(self) -> None:
        await self._redis.aclose()

    def _revoked(self, jti: str) -> str:
        return f"{self._prefix}:revoked:{jti}"

    def _refresh_set(self, user_id: str) -> str:
        return f"{self._prefix}:refresh:{user_id}"

    @staticmethod
    async def _call(awaitable):  # type: ignore[no-untyped-def]
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise StoreUnavailable("revocation store unavailable") from exc


class MemoryRevocationStore:
    """Per-process store: correct for one process only (the secure target refuses more)."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}
        self._refresh: dict[str, set[str]] = {}

    async def revoke(self, jti: str, ttl_seconds: int) -> None:
        self._revoked[jti] = time.monotonic() + max(ttl_seconds, 1)

    async def is_revoked(self, jti: str) -> bool:
        expiry = self._revoked.get(jti)
        if expiry is None:
            return False
        if expiry < time.monotonic():
            del self._revoked[jti]
            return False
        return True

    async def track_refresh(self, user_id: str, jti: str, ttl_seconds: int) -> None:
        self._refresh.setdefault(user_id, set()).add(jti)

    async def revoke_all_refresh(self, user_id: str, ttl_seconds: int) -> None:
        for jti in self._refresh.pop(user_id, set()):
            await self.revoke(jti, ttl_seconds)

    async def close(self) -> None:
        return None
