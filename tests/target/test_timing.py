"""Login timing, asserted coarsely; the probes measure it precisely.

An unknown user costs one full bcrypt verify against a real dummy hash, like a wrong password. And
bcrypt runs in the threadpool, so logins in flight never hold up other requests.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from tests.conftest import SEEDED, TargetFactory
from tests.target.support import timed

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

SAMPLES = 7


def login_form(username: str) -> dict[str, str]:
    return {"username": username, "password": "not the password"}


async def test_unknown_user_and_wrong_password_take_comparable_time(
    target: TargetFactory,
) -> None:
    forms = {
        "wrong password": login_form(SEEDED.active.email),
        "unknown user": login_form("nobody@example.com"),
        # Refused before bcrypt could see it, but made to cost the same.
        "over-long password": {"username": SEEDED.active.email, "password": "p" * 100},
    }
    async with target(login_limit="1000/minute") as client:
        # Warm up every path before measuring.
        for form in forms.values():
            assert (await client.post("/auth/login", data=form)).status_code == 401
        times: dict[str, list[float]] = {name: [] for name in forms}
        for _ in range(SAMPLES):  # interleaved, so drift hits all alike
            for name, form in forms.items():
                elapsed, response = await timed(client.post("/auth/login", data=form))
                assert response.status_code == 401
                times[name].append(elapsed)
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    slowest = max(medians.values())
    # Every path pays for bcrypt at cost 12 ...
    assert min(medians.values()) > 0.05, medians
    # ... and none is tellable from the others by the median.
    assert {name: m for name, m in medians.items() if m < 0.8 * slowest} == {}, medians


async def health_during(
    client: httpx.AsyncClient, work: list[asyncio.Task[httpx.Response]]
) -> tuple[float, int]:
    """Ask for /health shortly after ``work`` started; seconds from the start, and tasks pending.

    Timed from before the pause: a handler that blocked the event loop would hold up the pause
    itself, not only the request.
    """
    started = time.perf_counter()
    await asyncio.sleep(0.02)  # let the work reach bcrypt
    health = await client.get("/health")
    seconds = time.perf_counter() - started
    pending = sum(not task.done() for task in work)
    assert health.status_code == 200
    return seconds, pending


async def test_health_is_answered_promptly_during_8_concurrent_logins(
    target: TargetFactory,
) -> None:
    async with target(login_limit="1000/minute") as client:
        started = time.perf_counter()
        logins = [
            asyncio.create_task(client.post("/auth/login", data=login_form(SEEDED.active.email)))
            for _ in range(8)
        ]
        health_seconds, pending = await health_during(client, logins)
        answers = await asyncio.gather(*logins)
        all_logins_seconds = time.perf_counter() - started
    assert [a.status_code for a in answers] == [401] * 8
    # The health check came back while logins were still running, and well before the last.
    assert pending > 0, (health_seconds, all_logins_seconds)
    assert health_seconds < 1.0, (health_seconds, all_logins_seconds)
    assert health_seconds < all_logins_seconds / 2, (health_seconds, all_logins_seconds)


async def test_health_is_answered_promptly_during_8_concurrent_registrations(
    target: TargetFactory,
) -> None:
    async with target() as client:
        started = time.perf_counter()
        registrations = [
            asyncio.create_task(
                client.post(
                    "/auth/register",
                    json={"email": f"user{n}@example.com", "password": "a fine passphrase"},
                )
            )
            for n in range(8)
        ]
        health_seconds, pending = await health_during(client, registrations)
        answers = await asyncio.gather(*registrations)
        all_seconds = time.perf_counter() - started
    assert [a.status_code for a in answers] == [201] * 8
    assert pending > 0, (health_seconds, all_seconds)
    assert health_seconds < 1.0, (health_seconds, all_seconds)
    assert health_seconds < all_seconds / 2, (health_seconds, all_seconds)
