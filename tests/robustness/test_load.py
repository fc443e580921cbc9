"""The target under load: four real workers on one Redis, driven by concurrent asyncio clients.

- Many concurrent clients on ``/users/me`` (200 at full size): no transport error, no 5xx.
- A login flood from one address, far past the 5/minute limit: at most 5 get through, the rest are
  429s that come back fast; meanwhile ``/health`` keeps answering and another user logging in from
  another loopback address is not held up by the flood.

The assertions are coarse (the machine is small and shared); the figures are printed (``-s``) and
appended to ``$ROBUSTNESS_FIGURES`` when set. ``SOAK_SCALE=1`` runs the issue's full size.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SEEDED, bearer
from tests.robustness.measure import (
    Batch,
    bounded_gather,
    client,
    record_figures,
    summary,
    timed,
)
from tests.robustness.scale import scaled, soak_scale
from tests.target.live import LiveTarget, launch, redis_namespace

pytestmark = [pytest.mark.multiworker, pytest.mark.soak]

WORKERS = 4
LOGIN_LIMIT = 5
CLIENTS = scaled(200, floor=50)
REQUESTS_PER_CLIENT = scaled(4, floor=2)
FLOOD = scaled(200, floor=40)
# Wall-clock bounds for a whole batch: generous, so a slow shared machine is not a failure, but
# a hung target is.
BATCH_SECONDS = 180.0


@pytest.fixture
def four_workers(tmp_path: Path) -> Iterator[LiveTarget]:
    with (
        redis_namespace() as (url, prefix),
        launch(tmp_path, workers=WORKERS, redis_url=url, redis_prefix=prefix) as target,
    ):
        yield target


async def login_token(base_url: str, source: str, email: str, password: str) -> str:
    async with client(base_url, source) as http:
        response = await http.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def users_me_clients(base_url: str, token: str) -> Batch:
    async def one_client(index: int) -> list:
        async with client(base_url) as http:
            return [
                await timed(lambda: http.get("/users/me", headers=bearer(token)))
                for _ in range(REQUESTS_PER_CLIENT)
            ]

    started = time.perf_counter()
    per_client = await bounded_gather([one_client(i) for i in range(CLIENTS)], BATCH_SECONDS)
    batch = Batch([outcome for outcomes in per_client for outcome in outcomes])
    batch.wall = time.perf_counter() - started
    return batch


def test_concurrent_clients_on_users_me_get_no_error_and_no_5xx(
    four_workers: LiveTarget,
) -> None:
    target = four_workers
    token = asyncio.run(
        login_token(target.base_url, "127.0.0.1", SEEDED.active.email, SEEDED.active.password)
    )
    batch = asyncio.run(users_me_clients(target.base_url, token))

    total = CLIENTS * REQUESTS_PER_CLIENT
    record_figures(
        "users_me_concurrent",
        {
            "scale": soak_scale(),
            "workers": WORKERS,
            "clients": CLIENTS,
            "requests": total,
            "statuses": {str(k): v for k, v in batch.statuses().items()},
            "wall_s": round(batch.wall, 2),
            "throughput_rps": round(total / batch.wall, 1),
            **summary(batch.latencies()),
        },
    )
    assert len(batch.outcomes) == total
    assert batch.errors() == []
    assert batch.server_errors() == []
    assert batch.statuses() == {200: total}
    assert {o.headers.get("x-target-worker") for o in batch.outcomes if o.headers} and len(
        {o.headers.get("x-target-worker") for o in batch.outcomes if o.headers}
    ) > 1, "every request reached one worker"
    assert target.process.poll() is None, target.log_tail()


async def flood_while_others_work(target: LiveTarget) -> dict[str, Batch]:
    """The flood, /health polled in a loop, and another user's login, all at the same time."""
    wrong = {"username": SEEDED.active.email, "password": "not the password"}
    flood_done = asyncio.Event()

    async def flood() -> Batch:
        async def one() -> object:
            async with client(target.base_url, "127.0.0.1") as http:
                return await timed(lambda: http.post("/auth/login", data=wrong))

        started = time.perf_counter()
        batch = Batch(await bounded_gather([one() for _ in range(FLOOD)], BATCH_SECONDS))
        batch.wall = time.perf_counter() - started
        flood_done.set()
        return batch

    async def health() -> Batch:
        batch = Batch()
        async with client(target.base_url, "127.0.0.3") as http:
            deadline = time.monotonic() + BATCH_SECONDS
            # At least 10 polls, and on until the flood is over (bounded by count and time).
            for index in range(10_000):
                if time.monotonic() > deadline or (flood_done.is_set() and index >= 10):
                    break
                batch.outcomes.append(await timed(lambda: http.get("/health")))
                await asyncio.sleep(0.02)
        return batch

    async def other_user() -> Batch:
        await asyncio.sleep(0.2)  # once the flood is under way
        async with client(target.base_url, "127.0.0.2") as http:
            form = {"username": SEEDED.admin.email, "password": SEEDED.admin.password}
            outcome = await timed(lambda: http.post("/auth/login", data=form))
        return Batch([outcome])

    flood_batch, health_batch, other_batch = await asyncio.gather(flood(), health(), other_user())
    return {"flood": flood_batch, "health": health_batch, "other": other_batch}


def test_login_flood_gets_fast_429s_while_health_and_other_users_work(
    four_workers: LiveTarget,
) -> None:
    seen = asyncio.run(flood_while_others_work(four_workers))
    flood, health, other = seen["flood"], seen["health"], seen["other"]

    statuses = flood.statuses()
    limited = [o for o in flood.outcomes if o.status == 429]
    allowed_latency = flood.latencies(401)
    record_figures(
        "login_flood",
        {
            "scale": soak_scale(),
            "workers": WORKERS,
            "flood": FLOOD,
            "statuses": {str(k): v for k, v in statuses.items()},
            "flood_wall_s": round(flood.wall, 2),
            "429": summary(flood.latencies(429)),
            "401_bcrypt": summary(allowed_latency),
            "health": summary(health.latencies()),
            "other_user_login_ms": round(other.outcomes[0].seconds * 1000, 1),
        },
    )
    assert flood.errors() == [] and flood.server_errors() == []
    # One client address: 5 wrong passwords are checked, everything past the limit is refused.
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= LOGIN_LIMIT, statuses
    assert len(limited) >= FLOOD - LOGIN_LIMIT
    assert all(o.headers is not None and int(o.headers["retry-after"]) > 0 for o in limited)
    assert "access_token" not in " ".join(o.body for o in flood.outcomes)
    # "Quickly": a refusal costs no bcrypt (only LOGIN_LIMIT passwords were checked, above), and
    # no 429 waits anywhere near a hang. Only a coarse bound here: the 2-core machine is shared,
    # and the refusals queue behind the first logins' bcrypt (a CI run saw 429 p50 1.6 s against
    # 0.9 s for the 5 checked logins), so comparing the two medians measured the queue, not the
    # limiter. `make bench` measures latency precisely.
    assert summary(flood.latencies(429))["p95_ms"] < 10_000

    # /health stayed responsive throughout.
    assert len(health.outcomes) >= 10
    assert Counter(o.status for o in health.outcomes) == {200: len(health.outcomes)}
    assert summary(health.latencies())["p95_ms"] < 2_000, summary(health.latencies())
    assert max(health.latencies()) < 10.0, summary(health.latencies())

    # Another user, from another address, logged in during the flood.
    (login,) = other.outcomes
    assert login.status == 200, (login.status, login.body[:200])
    assert "access_token" in login.body
    assert login.seconds < 30.0
    assert four_workers.process.poll() is None, four_workers.log_tail()
