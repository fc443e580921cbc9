"""Shared fixtures: build the target app in-process (httpx over ASGI) with chosen flaws."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from target_app.core.config import Settings
from target_app.main import create_app
from target_app.seed import SeedUser, seed_users

SECRET = secrets.token_hex(32)
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Seeded:
    active: SeedUser
    inactive: SeedUser
    admin: SeedUser


SEEDED = Seeded(
    active=SeedUser("alice@example.com", PASSWORD),
    inactive=SeedUser("ivan@example.com", PASSWORD, is_active=False),
    admin=SeedUser("root@example.com", PASSWORD, role="admin"),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def seeded_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file with the seeded users, hashed once; each test copies it."""
    import asyncio

    path = tmp_path_factory.mktemp("seed") / "seed.db"
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{path}")
    asyncio.run(seed_users(settings, [SEEDED.active, SEEDED.inactive, SEEDED.admin]))
    return path


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "environment": "test",
        "redis_url": None,
        "redis_prefix": f"test-{secrets.token_hex(4)}",
        "_env_file": None,
    }
    values.update(overrides)
    flaws = values.pop("flaws", "")
    return Settings(target_flaws=flaws, **values)


@asynccontextmanager
async def serve(app: FastAPI, client_host: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield a client; app exceptions become 500s as in production."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=(client_host, 50000)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


TargetFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def target(seeded_db_template: Path, tmp_path: Path) -> TargetFactory:
    """``async with target(flaws="alg_none") as client:`` an in-process target with seeded users."""

    def factory(flaws: str = "", client_host: str = "127.0.0.1", **overrides: Any):  # type: ignore[no-untyped-def]
        db = tmp_path / f"target-{secrets.token_hex(4)}.db"
        shutil.copy(seeded_db_template, db)
        settings = make_settings(database_url=f"sqlite+aiosqlite:///{db}", flaws=flaws, **overrides)
        return serve(create_app(settings), client_host=client_host)

    return factory


async def login(client: httpx.AsyncClient, user: SeedUser = SEEDED.active) -> dict[str, Any]:
    response = await client.post(
        "/auth/login", data={"username": user.email, "password": user.password}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def seeded_ids(seeded_db_template: Path) -> dict[str, str]:
    """Email -> user id of the seeded users; every copy of the template has the same ids."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(seeded_db_template)) as db:
        return {email: user_id for email, user_id in db.execute("SELECT email, id FROM users")}


MACHINE_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The machine's Redis if it answers on 127.0.0.1:6379, else an embedded one for the session.

    Tests that share it pass their own ``redis_prefix``, so runs never see each other's keys.
    """
    import redis

    from target_app import embedded_redis

    try:
        redis.Redis.from_url(MACHINE_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        server = embedded_redis.start()
        try:
            yield server.url
        finally:
            server.stop()
    else:
        yield MACHINE_REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key namespace on the shared Redis; its keys are deleted afterwards."""
    import redis

    prefix = f"test-{secrets.token_hex(6)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
