"""Real uvicorn workers behind one loopback port: shared Redis state holds across them, and the
per-process flaws really multiply limits and lose logouts.

Every request goes over a fresh TCP connection, so the kernel may hand it to any worker; the
``X-Target-Worker`` diagnostic header (``--diagnostic-headers``) names the worker that answered.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import SEEDED, bearer
from tests.target.live import (
    LiveTarget,
    bounded,
    children,
    launch,
    pid_alive,
    redis_namespace,
    worker_of,
)

pytestmark = pytest.mark.multiworker

WORKERS = 4
LOGIN_LIMIT = 5
LOGIN_FORM = {"username": SEEDED.active.email, "password": SEEDED.active.password}

LiveFactory = Callable[..., AbstractContextManager[LiveTarget]]


@pytest.fixture
def shared_redis() -> Iterator[tuple[str | None, str]]:
    with redis_namespace() as namespace:
        yield namespace


@pytest.fixture
def live(tmp_path: Path, shared_redis: tuple[str | None, str]) -> LiveFactory:
    """``with live(flaws=...) as target``: four workers sharing one Redis (the machine's if it
    answers, else the launcher's embedded one)."""
    url, prefix = shared_redis

    def start(
        flaws: str | None = None, workers: int = WORKERS
    ) -> AbstractContextManager[LiveTarget]:
        return launch(tmp_path, workers=workers, flaws=flaws, redis_url=url, redis_prefix=prefix)

    return start


def fan_out(
    target: LiveTarget, count: int, method: str, path: str, **kwargs: Any
) -> list[httpx.Response]:
    """``count`` concurrent requests, each over its own new connection."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(target.request, method, path, **kwargs) for _ in range(count)]
        return [future.result() for future in futures]


def login(target: LiveTarget) -> tuple[dict[str, Any], str]:
    response = target.request("POST", "/auth/login", data=LOGIN_FORM)
    assert response.status_code == 200, response.text
    return response.json(), worker_of(response)


def replay_me(
    target: LiveTarget, token: str, *, at_least: int, spread: int, max_count: int = 64
) -> list[tuple[int, str]]:
    """GET /users/me with ``token`` over fresh connections: ``at_least`` times, and on until
    ``spread`` distinct workers have answered (bounded in count and time)."""
    seen: list[tuple[int, str]] = []
    for _ in bounded(max_count, 60):
        response = target.request("GET", "/users/me", headers=bearer(token))
        seen.append((response.status_code, worker_of(response)))
        if len(seen) >= at_least and len({w for _, w in seen}) >= spread:
            break
    return seen


def test_login_limit_holds_at_5_across_workers(live: LiveFactory) -> None:
    with live() as target:
        responses = fan_out(target, 12, "POST", "/auth/login", data=LOGIN_FORM)

    allowed = [r for r in responses if r.status_code != 429]
    limited = [r for r in responses if r.status_code == 429]
    assert len(allowed) == LOGIN_LIMIT, Counter(r.status_code for r in responses)
    assert all(r.status_code == 200 for r in allowed)
    assert all(r.headers.get("retry-after") for r in limited)
    workers = Counter(worker_of(r) for r in responses)
    assert len(workers) > 1, f"all requests reached one worker: {workers}"
    # With per-process counters a worker refuses only after allowing 5 itself. A worker that
    # refused having allowed fewer knew about logins that other workers allowed.
    allowed_by = Counter(worker_of(r) for r in allowed)
    assert any(allowed_by[worker_of(r)] < LOGIN_LIMIT for r in limited), allowed_by


def test_logout_holds_across_workers(live: LiveFactory) -> None:
    with live() as target:
        tokens, _ = login(target)
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        before = replay_me(target, access, at_least=4, spread=2, max_count=16)
        logout = target.request(
            "POST", "/auth/logout", headers=bearer(access), json={"refresh_token": refresh}
        )
        after = replay_me(target, access, at_least=16, spread=3)
        refresh_after = [
            target.request("POST", "/auth/refresh", json={"refresh_token": refresh})
            for _ in range(4)
        ]

    assert {status for status, _ in before} == {200}, before
    assert logout.status_code == 200, logout.text
    logout_worker = worker_of(logout)
    assert len(after) >= 16
    assert {status for status, _ in after} == {401}, after
    after_workers = {worker for _, worker in after}
    assert len(after_workers) > 1 and after_workers - {logout_worker}, after
    assert [r.status_code for r in refresh_after] == [401] * 4


def test_refresh_rotation_and_reuse_detection_across_workers(live: LiveFactory) -> None:
    with live() as target:
        tokens, _ = login(target)
        chain = [tokens["refresh_token"]]
        rotated_by: list[str] = []
        for _ in bounded(16, 60):
            response = target.request("POST", "/auth/refresh", json={"refresh_token": chain[-1]})
            assert response.status_code == 200, response.text
            chain.append(response.json()["refresh_token"])
            rotated_by.append(worker_of(response))
            if len(rotated_by) >= 4 and len(set(rotated_by)) >= 2:
                break

        # The first token was rotated away by rotated_by[0]; replay it until another worker answers.
        reuse: list[httpx.Response] = []
        for _ in bounded(32, 60):
            reuse.append(target.request("POST", "/auth/refresh", json={"refresh_token": chain[0]}))
            if worker_of(reuse[-1]) != rotated_by[0]:
                break
        # The theft response revoked the newest token too, for every worker.
        newest: list[httpx.Response] = []
        for _ in bounded(32, 60):
            newest.append(
                target.request("POST", "/auth/refresh", json={"refresh_token": chain[-1]})
            )
            if len(newest) >= 6 and len({worker_of(r) for r in newest}) >= 2:
                break

    assert len(set(chain)) == len(chain), "a rotation handed back a token already issued"
    assert len(set(rotated_by)) >= 2, f"every rotation landed on one worker: {rotated_by}"
    assert [r.status_code for r in reuse] == [401] * len(reuse)
    assert any(worker_of(r) != rotated_by[0] for r in reuse), "no other worker saw the reuse"
    assert all("reuse" in r.json()["detail"].lower() for r in reuse)
    assert [r.status_code for r in newest] == [401] * len(newest)
    assert len({worker_of(r) for r in newest}) >= 2


def test_memory_limiter_flaw_multiplies_the_login_limit(live: LiveFactory) -> None:
    responses: list[httpx.Response] = []
    with live(flaws="memory_limiter") as target:
        for _ in bounded(6, 90):
            responses += fan_out(target, 8, "POST", "/auth/login", data=LOGIN_FORM)
            if sum(r.status_code != 429 for r in responses) > LOGIN_LIMIT:
                break

    allowed_by = Counter(worker_of(r) for r in responses if r.status_code != 429)
    assert sum(allowed_by.values()) > LOGIN_LIMIT, f"{len(responses)} requests: {allowed_by}"
    assert len(allowed_by) >= 2
    # Each worker counts for itself: none allows more than the limit on its own.
    assert max(allowed_by.values()) <= LOGIN_LIMIT


def test_revocation_per_process_flaw_lets_a_logged_out_token_through(live: LiveFactory) -> None:
    with live(flaws="revocation_per_process") as target:
        tokens, _ = login(target)
        access = tokens["access_token"]
        logout = target.request("POST", "/auth/logout", headers=bearer(access))
        seen: list[tuple[int, str]] = []
        for _ in bounded(64, 60):
            response = target.request("GET", "/users/me", headers=bearer(access))
            seen.append((response.status_code, worker_of(response)))
            if response.status_code == 200:
                break

    assert logout.status_code == 200, logout.text
    logout_worker = worker_of(logout)
    leaked = [worker for status, worker in seen if status == 200]
    assert leaked, f"the logged-out token was refused by every worker: {seen}"
    assert logout_worker not in leaked
    # The worker that handled the logout remembers it; only the others let the token through.
    assert all(status == 401 for status, worker in seen if worker == logout_worker)


def test_two_workers_without_redis_url_start_and_stop_an_embedded_redis(tmp_path: Path) -> None:
    with launch(tmp_path, workers=2) as target:
        url = target.embedded_redis_url()
        assert url is not None, target.log_tail()
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        assert client.ping()
        servers = [
            pid for pid, name in children(target.process.pid).items() if name == "redis-server"
        ]
        assert len(servers) == 1, children(target.process.pid)
        [redis_pid] = servers
        # redis-server runs inside its --dir, the launcher's temporary work directory.
        redis_dir = Path(os.readlink(f"/proc/{redis_pid}/cwd"))
        assert redis_dir.is_dir()

        # The workers really keep their shared state there: a logout lands in the embedded Redis.
        tokens, _ = login(target)
        logout = target.request("POST", "/auth/logout", headers=bearer(tokens["access_token"]))
        assert logout.status_code == 200
        assert client.keys("target:rev:revoked:*"), "the logout left no key in the embedded Redis"
        after = replay_me(target, tokens["access_token"], at_least=8, spread=2, max_count=32)
        assert {status for status, _ in after} == {401}, after

        returncode = target.stop()
        assert returncode == 0, target.log_tail()
        assert not pid_alive(redis_pid), "the embedded redis-server outlived the target"
        assert not redis_dir.exists(), "the embedded Redis work directory was left behind"
        with pytest.raises(redis.ConnectionError):
            client.ping()
        client.close()
