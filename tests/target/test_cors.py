"""CORS: exact origins per environment with credentials, only the API's methods and headers."""

from __future__ import annotations

import pytest

from tests.conftest import TargetFactory

pytestmark = pytest.mark.anyio

ALLOWED = "https://app.example.com"  # the "test" environment's origin
NOT_ALLOWED = [
    "https://evil.example.com",
    "https://app.example.com.evil.com",
    "https://evilapp.example.com",
    "http://app.example.com",
    "https://app.example.com:8443",
    "null",
]
# What a browser may send without asking, plus the two headers the API reads.
SAFELISTED = {"accept", "accept-language", "content-language", "content-type"}
API_HEADERS = {"authorization", "content-type"}


def preflight(origin: str, method: str = "POST", headers: str | None = None) -> dict[str, str]:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        request["Access-Control-Request-Headers"] = headers
    return request


def split(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


async def test_allowed_origin_gets_its_origin_and_credentials(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("/health", headers={"Origin": ALLOWED})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in split(response.headers["Vary"])
    # A browser script may read the rate-limit answers.
    assert "retry-after" in split(response.headers["Access-Control-Expose-Headers"])


async def test_other_origins_get_no_allow_origin(target: TargetFactory) -> None:
    async with target() as client:
        simple = {
            origin: await client.get("/health", headers={"Origin": origin})
            for origin in NOT_ALLOWED
        }
        preflights = {
            origin: await client.options("/auth/login", headers=preflight(origin))
            for origin in NOT_ALLOWED
        }
    granted = {
        origin: response.headers["Access-Control-Allow-Origin"]
        for origin, response in [*simple.items(), *preflights.items()]
        if "Access-Control-Allow-Origin" in response.headers
    }
    assert granted == {}
    assert {response.status_code for response in preflights.values()} == {400}


async def test_preflight_grants_only_the_apis_methods_and_headers(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.options(
            "/auth/login", headers=preflight(ALLOWED, "POST", "Authorization, Content-Type")
        )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert split(response.headers["Access-Control-Allow-Methods"]) == {"get", "post"}
    assert split(response.headers["Access-Control-Allow-Headers"]) == SAFELISTED | API_HEADERS
    max_age = int(response.headers["Access-Control-Max-Age"])
    # Long enough to spare preflights, short enough that a policy change lands within hours.
    assert 0 < max_age <= 7200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_preflight_refuses_other_methods(target: TargetFactory, method: str) -> None:
    async with target() as client:
        response = await client.options("/users/me", headers=preflight(ALLOWED, method))
    assert response.status_code == 400
    assert method.lower() not in split(response.headers["Access-Control-Allow-Methods"])


async def test_preflight_refuses_other_headers(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.options(
            "/users/me", headers=preflight(ALLOWED, "GET", "Authorization, X-Evil")
        )
    assert response.status_code == 400
    assert "x-evil" not in split(response.headers.get("Access-Control-Allow-Headers", ""))


async def test_origins_follow_the_environment(target: TargetFactory) -> None:
    async with target(environment="development") as client:
        dev = await client.get("/health", headers={"Origin": "http://localhost:3000"})
        prod_origin = await client.get("/health", headers={"Origin": ALLOWED})
    assert dev.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Access-Control-Allow-Origin" not in prod_origin.headers


async def test_allowed_origins_setting_replaces_the_environment_list(
    target: TargetFactory,
) -> None:
    async with target(allowed_origins="https://one.example.org, https://two.example.org") as client:
        two = await client.get("/health", headers={"Origin": "https://two.example.org"})
        default = await client.get("/health", headers={"Origin": ALLOWED})
    assert two.headers["Access-Control-Allow-Origin"] == "https://two.example.org"
    assert "Access-Control-Allow-Origin" not in default.headers
