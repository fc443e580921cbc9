"""The basic flow against the machine's PostgreSQL (in-process, and through the launcher with two
workers), and workers creating the tables at once. Each test gets a scratch database, dropped
afterwards.

PostgreSQL unreachable means a skip with the reason, unless ``REQUIRE_POSTGRES=1`` (CI), where it
is a failure. ``TEST_POSTGRES_URL`` overrides the server (default ``postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from target_app.main import create_app
from target_app.seed import seed_users
from tests.conftest import PASSWORD, SEEDED, bearer, make_settings, serve
from tests.target.live import launch, redis_namespace
from tests.target.test_db_startup import ROUNDS, race_create_tables

pytestmark = pytest.mark.postgres

BASE_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(BASE_URL), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch database on the machine's PostgreSQL, as an asyncpg SQLAlchemy URL."""
    where = make_url(BASE_URL).render_as_string(hide_password=True)
    reason = None
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL unreachable at {where}: {type(exc).__name__}: {exc}"
    if reason:
        _unavailable(reason)
    name = f"target_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def stored_users(url: str) -> dict[str, str]:
    """Email -> password hash, read straight from PostgreSQL."""
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        rows = await connection.fetch("SELECT email, hashed_password FROM users")
    finally:
        await connection.close()
    return {row["email"]: row["hashed_password"] for row in rows}


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def basic_flow(client: httpx.AsyncClient) -> str:
    """Register, login, /users/me, refresh, logout, and the seeded roles. Returns the new email."""
    email = f"pg-{secrets.token_hex(4)}@example.com"
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    user = registered.json()
    assert (user["email"], user["role"], user["is_active"]) == (email, "user", True)
    uuid.UUID(user["id"])
    # The unique index is PostgreSQL's; its IntegrityError must still be a 409.
    again = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert again.status_code == 409, again.text

    first = await login(client, email)
    me = await client.get("/users/me", headers=bearer(first["access_token"]))
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["email"]) == (user["id"], email)

    refreshed = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get("/users/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]

    logout = await client.post(
        "/auth/logout",
        headers=bearer(second["access_token"]),
        json={"refresh_token": second["refresh_token"]},
    )
    assert logout.status_code == 200, logout.text
    me = await client.get("/users/me", headers=bearer(second["access_token"]))
    assert me.status_code == 401
    for token in (second["refresh_token"], first["refresh_token"]):
        response = await client.post("/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401, response.text

    # The seeded users live in the same database.
    admin = await login(client, SEEDED.admin.email)
    listed = await client.get("/admin/users", headers=bearer(admin["access_token"]))
    assert listed.status_code == 200, listed.text
    assert {SEEDED.active.email, SEEDED.admin.email, email} <= {u["email"] for u in listed.json()}
    inactive = await login(client, SEEDED.inactive.email)
    me = await client.get("/users/me", headers=bearer(inactive["access_token"]))
    assert me.status_code == 403
    return email


@pytest.mark.anyio
async def test_basic_flow_in_process_against_postgres(postgres_url: str) -> None:
    settings = make_settings(database_url=postgres_url)
    await seed_users(settings, [SEEDED.active, SEEDED.inactive, SEEDED.admin])
    async with serve(create_app(settings)) as client:
        email = await basic_flow(client)

    users = await stored_users(postgres_url)
    assert {email, SEEDED.active.email, SEEDED.inactive.email, SEEDED.admin.email} == set(users)
    assert users[email].startswith("$2b$12$")


@pytest.mark.multiworker
def test_basic_flow_through_the_launcher_with_two_workers_on_postgres(
    postgres_url: str, tmp_path: Path
) -> None:
    async def flow(base_url: str) -> str:
        async with httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=20,
            trust_env=False,
        ) as client:
            return await basic_flow(client)

    with (
        redis_namespace() as (redis_url, prefix),
        launch(
            tmp_path, workers=2, database_url=postgres_url, redis_url=redis_url, redis_prefix=prefix
        ) as target,
    ):
        email = asyncio.run(flow(target.base_url))

    users = asyncio.run(stored_users(postgres_url))
    # The launcher seeded into PostgreSQL; the workers registered there.
    assert {email, SEEDED.active.email, SEEDED.inactive.email, SEEDED.admin.email} == set(users)
    assert users[email].startswith("$2b$12$")


@pytest.mark.anyio
async def test_workers_creating_postgres_tables_at_once_all_start(postgres_url: str) -> None:
    # Each round needs fresh tables: drop them between rounds.
    for round_ in range(ROUNDS):
        results = await race_create_tables(postgres_url)
        assert [r for r in results if r is not None] == [], f"round {round_}"
        connection = await asyncpg.connect(_asyncpg_dsn(postgres_url), timeout=5)
        try:
            await connection.execute("DROP TABLE users")
        finally:
            await connection.close()
