"""Shared Redis state, in-process: two app instances stand in for two workers.

With REDIS_URL set, revocations and rate-limit counters live in Redis, so a second instance sees
what the first did. If Redis cannot be reached, the target fails closed (503), never open.
"""

from __future__ import annotations

import pytest

from target_app.embedded_redis import free_port
from tests.conftest import PASSWORD, SEEDED, TargetFactory, bearer, login
from tests.target.support import access_token, refresh_token, two_instances

pytestmark = pytest.mark.anyio

WRONG = {"username": SEEDED.active.email, "password": "not the password"}


@pytest.fixture
def shared(redis_url: str, redis_prefix: str) -> dict[str, str]:
    """Settings that put two instances on one Redis namespace."""
    return {"redis_url": redis_url, "redis_prefix": redis_prefix}


async def test_logout_on_one_instance_holds_on_the_other(
    target: TargetFactory, shared: dict[str, str], seeded_ids: dict[str, str]
) -> None:
    headers = bearer(access_token(seeded_ids[SEEDED.active.email]))
    async with two_instances(target, **shared) as (a, b):
        assert (await b.get("/users/me", headers=headers)).status_code == 200
        assert (await a.post("/auth/logout", headers=headers)).status_code == 200
        after = await b.get("/users/me", headers=headers)
    assert after.status_code == 401


async def test_refresh_rotation_and_reuse_detection_hold_across_instances(
    target: TargetFactory, shared: dict[str, str]
) -> None:
    async with two_instances(target, **shared) as (a, b):
        first = await login(a)
        rotated = await a.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200
        replay = await b.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401
        # The replay revoked the rotated token too, for both instances.
        stolen_after = await a.post(
            "/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )
    assert stolen_after.status_code == 401


async def test_login_counter_is_shared_across_instances(
    target: TargetFactory, shared: dict[str, str]
) -> None:
    async with two_instances(target, **shared) as (a, b):
        statuses = [(await a.post("/auth/login", data=WRONG)).status_code for _ in range(3)]
        statuses += [(await b.post("/auth/login", data=WRONG)).status_code for _ in range(2)]
        assert statuses == [401] * 5
        sixth = await b.post("/auth/login", data={**WRONG, "password": PASSWORD})
    assert sixth.status_code == 429
    assert int(sixth.headers["Retry-After"]) > 0


@pytest.fixture
def dead_redis_url() -> str:
    """A loopback port that nothing listens on."""
    return f"redis://127.0.0.1:{free_port()}/0"


async def test_unreachable_revocation_store_fails_closed(
    target: TargetFactory, seeded_ids: dict[str, str], dead_redis_url: str
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    async with target(redis_url=dead_redis_url) as client:
        me = await client.get("/users/me", headers=bearer(access_token(user_id)))
        refresh = await client.post("/auth/refresh", json={"refresh_token": refresh_token(user_id)})
    assert me.status_code == 503
    assert refresh.status_code == 503
    assert me.json() == {"detail": "Service temporarily unavailable"}


async def test_unreachable_limiter_storage_fails_closed(
    target: TargetFactory, dead_redis_url: str
) -> None:
    async with target(redis_url=dead_redis_url) as client:
        login_response = await client.post(
            "/auth/login", data={"username": SEEDED.active.email, "password": PASSWORD}
        )
        reset = await client.post("/auth/password-reset", json={"email": SEEDED.active.email})
    assert login_response.status_code == 503
    assert "access_token" not in login_response.text
    assert reset.status_code == 503
