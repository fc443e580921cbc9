"""Redis goes away under a running multi-worker target, and comes back.

The test owns the Redis (a redis-server with an fsynced append-only file, on a fixed port) and
hands it to the target with ``--redis-url``. While Redis is down or hung:

- revocation fails closed: every token, revoked or not, gets the documented 503
  ``{"detail": "Service temporarily unavailable"}``, so a revoked token is never accepted;
- the login limiter refuses (503) instead of falling back to per-process counters: a burst of
  logins past the limit lets none through;
- ``/health`` still answers, and nothing waits long.

When Redis returns on the same port (with its data), every worker serves again, the revocation
still holds, and the login limit counts again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEEDED, bearer
from tests.robustness.measure import record_figures
from tests.robustness.scale import scaled
from tests.robustness.services import OwnedRedis, owned_redis
from tests.target.live import LiveTarget, bounded, launch, worker_of

pytestmark = [pytest.mark.multiworker, pytest.mark.soak]

WORKERS = 2
LOGIN_LIMIT = 5
UNAVAILABLE = {"detail": "Service temporarily unavailable"}
ROUNDS = scaled(24, floor=8)  # requests of each kind while Redis is away
RIGHT = {"username": SEEDED.active.email, "password": SEEDED.active.password}
# A request during the outage may wait out the target's Redis socket timeout (2 s), no more.
OUTAGE_ANSWER_SECONDS = 6.0
RECOVERY_SECONDS = 30.0


@dataclass
class Sessions:
    revoked_access: str
    revoked_refresh: str
    live_access: str
    live_refresh: str


@pytest.fixture
def redis_and_target(tmp_path: Path) -> Iterator[tuple[OwnedRedis, LiveTarget]]:
    with (
        owned_redis() as server,
        launch(tmp_path, workers=WORKERS, redis_url=server.url, redis_prefix="robust") as target,
    ):
        yield server, target


def request(target: LiveTarget, method: str, path: str, source: str = "127.0.0.1", **kw):  # type: ignore[no-untyped-def]
    """One request over a new connection from ``source``; (seconds, response)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(
        base_url=target.base_url, transport=transport, timeout=20, trust_env=False
    ) as client:
        started = time.perf_counter()
        response = client.request(method, path, **kw)
        return time.perf_counter() - started, response


def two_sessions(target: LiveTarget) -> Sessions:
    """Log in twice (from two addresses) and log the first session out."""
    first = request(target, "POST", "/auth/login", "127.0.0.11", data=RIGHT)[1]
    second = request(target, "POST", "/auth/login", "127.0.0.12", data=RIGHT)[1]
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    a, b = first.json(), second.json()
    logout = request(
        target,
        "POST",
        "/auth/logout",
        headers=bearer(a["access_token"]),
        json={"refresh_token": a["refresh_token"]},
    )[1]
    assert logout.status_code == 200, logout.text
    return Sessions(a["access_token"], a["refresh_token"], b["access_token"], b["refresh_token"])


def assert_healthy_with_revocation(target: LiveTarget, sessions: Sessions) -> set[str]:
    """The live session works and the revoked one does not, on more than one worker."""
    workers: set[str] = set()
    for _ in bounded(32, 60):
        live = request(target, "GET", "/users/me", headers=bearer(sessions.live_access))[1]
        revoked = request(target, "GET", "/users/me", headers=bearer(sessions.revoked_access))[1]
        assert live.status_code == 200, live.text
        assert revoked.status_code == 401, revoked.text
        workers |= {worker_of(live), worker_of(revoked)}
        if len(workers) >= WORKERS:
            break
    refreshed = request(
        target, "POST", "/auth/refresh", json={"refresh_token": sessions.revoked_refresh}
    )[1]
    assert refreshed.status_code == 401, refreshed.text
    return workers


def outage_answers(target: LiveTarget, sessions: Sessions) -> dict[str, list]:
    """What the target says to each kind of request while Redis is away."""
    seen: dict[str, list] = {"revoked": [], "live": [], "refresh": [], "login": [], "health": []}
    for index in bounded(ROUNDS, 240):
        seen["revoked"].append(
            request(target, "GET", "/users/me", headers=bearer(sessions.revoked_access))
        )
        seen["live"].append(
            request(target, "GET", "/users/me", headers=bearer(sessions.live_access))
        )
        seen["refresh"].append(
            request(target, "POST", "/auth/refresh", json={"refresh_token": sessions.live_refresh})
        )
        # All logins from one address: well past the 5/minute limit by the end.
        seen["login"].append(request(target, "POST", "/auth/login", "127.0.0.21", data=RIGHT))
        if index % 4 == 0:
            seen["health"].append(request(target, "GET", "/health"))
    return seen


def assert_fails_closed(seen: dict[str, list]) -> None:
    for kind in ("revoked", "live", "refresh", "login"):
        answers = seen[kind]
        assert len(answers) >= 8, kind
        statuses = [response.status_code for _, response in answers]
        assert statuses == [503] * len(answers), (kind, statuses)
        for seconds, response in answers:
            assert response.json() == UNAVAILABLE, (kind, response.text)
            assert response.headers["content-type"] == "application/json"
            assert "Traceback" not in response.text and "access_token" not in response.text
            assert seconds < OUTAGE_ANSWER_SECONDS, (kind, seconds)
    # Every worker failed closed, not just one.
    assert len({worker_of(r) for _, r in seen["revoked"]}) == WORKERS, "one worker answered all"
    assert [r.status_code for _, r in seen["health"]] == [200] * len(seen["health"])


def wait_for_recovery(target: LiveTarget, sessions: Sessions) -> float:
    """Seconds until /users/me serves the live session again (bounded)."""
    started = time.monotonic()
    for _ in bounded(300, RECOVERY_SECONDS):
        response = request(target, "GET", "/users/me", headers=bearer(sessions.live_access))[1]
        if response.status_code == 200:
            return time.monotonic() - started
        assert response.status_code == 503, response.text
        time.sleep(0.1)
    raise AssertionError(f"the target did not recover within {RECOVERY_SECONDS} s")


def assert_login_limit_counts_again(target: LiveTarget) -> None:
    statuses = [
        request(target, "POST", "/auth/login", "127.0.0.31", data=RIGHT)[1].status_code
        for _ in range(LOGIN_LIMIT + 2)
    ]
    assert statuses == [200] * LOGIN_LIMIT + [429, 429], statuses


def test_redis_crash_fails_closed_and_the_target_recovers_when_it_returns(
    redis_and_target: tuple[OwnedRedis, LiveTarget],
) -> None:
    server, target = redis_and_target
    sessions = two_sessions(target)
    assert_healthy_with_revocation(target, sessions)

    server.kill()
    outage_started = time.monotonic()
    seen = outage_answers(target, sessions)
    outage = time.monotonic() - outage_started
    assert_fails_closed(seen)

    server.restart()  # same port, same append-only file
    recovered_in = wait_for_recovery(target, sessions)
    workers = assert_healthy_with_revocation(target, sessions)
    assert len(workers) == WORKERS
    assert_login_limit_counts_again(target)
    assert target.process.poll() is None, target.log_tail()
    assert "Traceback" not in target.log(), target.log_tail()
    record_figures(
        "redis_crash",
        {
            "outage_requests": sum(len(v) for v in seen.values()),
            "outage_s": round(outage, 2),
            "max_503_ms": round(max(s for k in seen for s, _ in seen[k]) * 1000, 1),
            "recovered_in_s": round(recovered_in, 2),
        },
    )


def test_hung_redis_fails_closed_within_the_socket_timeout_and_recovers(
    redis_and_target: tuple[OwnedRedis, LiveTarget],
) -> None:
    server, target = redis_and_target
    sessions = two_sessions(target)
    assert_healthy_with_revocation(target, sessions)

    server.freeze()
    try:
        answers = {
            "revoked": request(target, "GET", "/users/me", headers=bearer(sessions.revoked_access)),
            "live": request(target, "GET", "/users/me", headers=bearer(sessions.live_access)),
            "login": request(target, "POST", "/auth/login", "127.0.0.41", data=RIGHT),
        }
        health = request(target, "GET", "/health")
    finally:
        server.thaw()

    for kind, (seconds, response) in answers.items():
        assert response.status_code == 503, (kind, response.text)
        assert response.json() == UNAVAILABLE
        assert seconds < OUTAGE_ANSWER_SECONDS, (kind, seconds)
    assert health[1].status_code == 200 and health[0] < 2.0
    recovered_in = wait_for_recovery(target, sessions)
    assert_healthy_with_revocation(target, sessions)
    assert target.process.poll() is None, target.log_tail()
    record_figures(
        "redis_hung",
        {
            "503_ms": {k: round(s * 1000, 1) for k, (s, _) in answers.items()},
            "recovered_in_s": round(recovered_in, 2),
        },
    )
