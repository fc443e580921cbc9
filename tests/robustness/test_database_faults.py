"""The database goes away under a running target, and comes back.

The target reaches a scratch PostgreSQL database through a loopback TCP proxy the test controls.
Cutting the proxy resets every connection and refuses new ones, as a stopped or crashed server
would. Meanwhile every route that needs the database answers a JSON 503 without a stack trace,
``/health`` still answers, and once the proxy listens again the target serves as before.

PostgreSQL unreachable means a skip with the reason, unless ``REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from target_app.db import DB_TIMEOUT_S
from tests.conftest import PASSWORD, SEEDED, bearer
from tests.robustness.measure import record_figures
from tests.robustness.scale import scaled
from tests.robustness.services import TcpProxy, tcp_proxy
from tests.target.live import LiveTarget, bounded, launch
from tests.target.test_postgres import postgres_url  # noqa: F401 - the scratch-database fixture

pytestmark = [pytest.mark.postgres, pytest.mark.soak]

UNAVAILABLE = {"detail": "Database unavailable"}
ROUNDS = scaled(16, floor=4)
RECOVERY_SECONDS = 30.0
# The target gives up on a hung database after a few waits, each bounded by its command or
# connect timeout (DB_TIMEOUT_S): the pooled connection's pre-ping, then a reconnect. A loaded CI
# machine once chained three of them; the bound allows six.
HUNG_ANSWER_SECONDS = 6 * DB_TIMEOUT_S
STACK_TRACE_MARKS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "Error:")


def through(proxy: TcpProxy, url: str) -> str:
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


def call(target: LiveTarget, method: str, path: str, **kwargs) -> tuple[float, httpx.Response]:  # type: ignore[no-untyped-def]
    """(seconds, response); a request still unanswered after 60 s fails the test."""
    started = time.perf_counter()
    with httpx.Client(base_url=target.base_url, timeout=60, trust_env=False) as client:
        response = client.request(method, path, **kwargs)
    return time.perf_counter() - started, response


def database_routes(target: LiveTarget, access: str, index: int) -> dict[str, tuple]:
    """One request of each kind that needs the database."""
    email = f"outage-{index}-{secrets.token_hex(3)}@example.com"
    return {
        "users/me": call(target, "GET", "/users/me", headers=bearer(access)),
        "register": call(
            target, "POST", "/auth/register", json={"email": email, "password": PASSWORD}
        ),
        "password-reset": call(
            target, "POST", "/auth/password-reset", json={"email": SEEDED.active.email}
        ),
        "admin/users": call(target, "GET", "/admin/users", headers=bearer(access)),
    }


def test_database_outage_is_a_json_503_and_the_target_recovers(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    upstream = make_url(postgres_url)
    with (
        tcp_proxy((upstream.host or "127.0.0.1", upstream.port or 5432)) as proxy,
        launch(
            tmp_path,
            workers=1,
            database_url=through(proxy, postgres_url),
            # Logins and password resets are limited per address (5/minute, 3/hour); the outage
            # sends more of both, all from 127.0.0.1. The limiter is not under test here.
            env={"LOGIN_LIMIT": "1000/minute", "PASSWORD_RESET_LIMIT": "1000/hour"},
        ) as target,
    ):
        login = target.request(
            "POST",
            "/auth/login",
            data={"username": SEEDED.admin.email, "password": SEEDED.admin.password},
        )
        assert login.status_code == 200, login.text
        access = login.json()["access_token"]
        before = database_routes(target, access, 0)
        assert {k: r.status_code for k, (_, r) in before.items()} == {
            "users/me": 200,
            "register": 201,
            "password-reset": 202,
            "admin/users": 200,
        }
        assert proxy.connections >= 1

        proxy.cut()
        cut_at = time.monotonic()
        seen: list[tuple[str, float, httpx.Response]] = []
        for index in bounded(ROUNDS, 120):
            answers = database_routes(target, access, index + 1)
            answers["login"] = call(
                target,
                "POST",
                "/auth/login",
                data={"username": SEEDED.active.email, "password": SEEDED.active.password},
            )
            seen += [(kind, seconds, response) for kind, (seconds, response) in answers.items()]
            if len(seen) >= 5 * ROUNDS:
                break
        health = call(target, "GET", "/health")
        outage = time.monotonic() - cut_at

        proxy.restore()
        recovered_in = None
        started = time.monotonic()
        for _ in bounded(300, RECOVERY_SECONDS):
            response = target.request("GET", "/users/me", headers=bearer(access))
            if response.status_code == 200:
                recovered_in = time.monotonic() - started
                break
            assert response.status_code == 503, response.text
            time.sleep(0.1)
        after = database_routes(target, access, 999)
        relogin = target.request(
            "POST",
            "/auth/login",
            data={"username": SEEDED.active.email, "password": SEEDED.active.password},
        )
        log = target.log()

    kinds = {kind for kind, _, _ in seen}
    assert kinds == {"users/me", "register", "password-reset", "admin/users", "login"}
    assert len(seen) >= 5 * 4
    for kind, seconds, response in seen:
        assert response.status_code == 503, (kind, response.status_code, response.text)
        assert response.headers["content-type"] == "application/json", kind
        assert response.json() == UNAVAILABLE, (kind, response.text)
        assert not [mark for mark in STACK_TRACE_MARKS if mark in response.text], response.text
        assert seconds < 10.0, (kind, seconds)
    assert health[1].status_code == 200

    assert recovered_in is not None, f"no recovery within {RECOVERY_SECONDS} s"
    assert {k: r.status_code for k, (_, r) in after.items()} == {
        "users/me": 200,
        "register": 201,
        "password-reset": 202,
        "admin/users": 200,
    }
    assert relogin.status_code == 200, relogin.text
    # The target logged the outage (by exception type), and nothing went unhandled. (The log may
    # hold SQLAlchemy's own traceback for a pooled connection it failed to reset: a log line,
    # never a response.)
    assert "database unavailable: " in log
    assert "unhandled error" not in log and "Exception in ASGI application" not in log, log[-3000:]
    record_figures(
        "database_outage",
        {
            "outage_requests": len(seen),
            "outage_s": round(outage, 2),
            "max_503_ms": round(max(s for _, s, _ in seen) * 1000, 1),
            "recovered_in_s": round(recovered_in, 2),
        },
    )


def test_hung_database_is_a_json_503_within_a_bound_and_the_target_recovers(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The database stops answering without closing anything (a hung server, or its host gone
    from the network): requests must not hang with it, and must not end in a 500."""
    upstream = make_url(postgres_url)
    with (
        tcp_proxy((upstream.host or "127.0.0.1", upstream.port or 5432)) as proxy,
        launch(tmp_path, workers=1, database_url=through(proxy, postgres_url)) as target,
    ):
        login = target.request(
            "POST",
            "/auth/login",
            data={"username": SEEDED.admin.email, "password": SEEDED.admin.password},
        )
        assert login.status_code == 200, login.text
        access = login.json()["access_token"]

        proxy.freeze()
        try:
            # A pooled connection that hangs, then (the pool discards it) a new one that does.
            hung = [call(target, "GET", "/users/me", headers=bearer(access)) for _ in range(2)]
            health = call(target, "GET", "/health")
        finally:
            proxy.thaw()
        recovered = None
        for _ in bounded(300, RECOVERY_SECONDS):
            response = target.request("GET", "/users/me", headers=bearer(access))
            if response.status_code == 200:
                recovered = response
                break
            time.sleep(0.1)
        log = target.log()

    for seconds, response in hung:
        assert response.status_code == 503, response.text
        assert response.json() == UNAVAILABLE
        assert seconds < HUNG_ANSWER_SECONDS, seconds
    assert health[1].status_code == 200
    assert recovered is not None, f"no recovery within {RECOVERY_SECONDS} s"
    assert "unhandled error" not in log, log[-3000:]
    record_figures(
        "database_hung",
        {"503_ms": [round(seconds * 1000, 1) for seconds, _ in hung]},
    )
