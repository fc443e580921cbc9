"""Security headers on every response, no Server banner, no-store, HSTS only over https."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SEEDED, TargetFactory, bearer
from tests.target.support import access_token, refresh_token

pytestmark = pytest.mark.anyio

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    # The legacy XSS auditor is switched off explicitly (see target_app/core/headers.py).
    "X-XSS-Protection": "0",
}
JSON = {"Content-Type": "application/json"}
PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "Authorization",
}


def header_problems(response: httpx.Response) -> dict[str, str | None]:
    problems = {
        name: response.headers.get(name)
        for name, value in EXPECTED.items()
        if response.headers.get(name) != value
    }
    if not response.headers.get("Permissions-Policy"):
        problems["Permissions-Policy"] = None
    if "Server" in response.headers:
        problems["Server"] = response.headers["Server"]
    if "X-Powered-By" in response.headers:
        problems["X-Powered-By"] = response.headers["X-Powered-By"]
    return problems


async def test_headers_on_every_kind_of_response(target: TargetFactory) -> None:
    async with target() as client:
        responses: dict[int | str, httpx.Response] = {
            200: await client.get("/health"),
            401: await client.get("/users/me"),
            404: await client.get("/no-such-route"),
            405: await client.delete("/health"),
            422: await client.post("/auth/register", content=b"{", headers=JSON),
        }
        for _ in range(3):
            await client.post("/auth/password-reset", json={"email": "x@example.com"})
        responses[429] = await client.post("/auth/password-reset", json={"email": "x@example.com"})
        preflight = await client.options("/auth/login", headers=PREFLIGHT)
    assert {status: r.status_code for status, r in responses.items()} == {
        status: status for status in responses
    }
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == PREFLIGHT["Origin"]
    responses["preflight"] = preflight
    problems = {
        status: problems
        for status, response in responses.items()
        if (problems := header_problems(response))
    }
    assert problems == {}


async def test_rejected_preflight_also_carries_the_headers(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.options(
            "/auth/login",
            headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 400
    assert header_problems(response) == {}


async def test_token_and_user_responses_are_not_cached(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    async with target() as client:
        responses = {
            "refresh": await client.post(
                "/auth/refresh", json={"refresh_token": refresh_token(user_id)}
            ),
            "me": await client.get("/users/me", headers=bearer(access_token(user_id))),
            "export": await client.get("/users/me/export", headers=bearer(access_token(user_id))),
            "admin": await client.get(
                "/admin/users", headers=bearer(access_token(seeded_ids[SEEDED.admin.email]))
            ),
            "login-failed": await client.post(
                "/auth/login", data={"username": SEEDED.active.email, "password": "wrong pass"}
            ),
        }
    assert {name: r.status_code for name, r in responses.items()} == {
        "refresh": 200,
        "me": 200,
        "export": 200,
        "admin": 200,
        "login-failed": 401,
    }
    assert {name: r.headers.get("Cache-Control") for name, r in responses.items()} == dict.fromkeys(
        responses, "no-store"
    )


async def test_successful_login_is_not_cached(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/login",
            data={"username": SEEDED.active.email, "password": SEEDED.active.password},
        )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


async def test_no_hsts_over_plain_http_by_default(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("/health")
    assert "Strict-Transport-Security" not in response.headers


async def test_hsts_over_https(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("https://testserver/health")
    assert response.status_code == 200
    assert_strong_hsts(response)


async def test_hsts_when_forced(target: TargetFactory) -> None:
    async with target(force_hsts=True) as client:
        ok = await client.get("/health")
        error = await client.get("/users/me")
    assert_strong_hsts(ok)
    assert_strong_hsts(error)


def assert_strong_hsts(response: httpx.Response) -> None:
    directives = [part.strip() for part in response.headers["Strict-Transport-Security"].split(";")]
    [max_age] = [d.partition("=")[2] for d in directives if d.lower().startswith("max-age=")]
    assert int(max_age) >= 365 * 24 * 3600
