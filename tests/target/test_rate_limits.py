"""Rate limits in one process: login per client IP, the sensitive routes, export per user.

Limits across several workers are shown by the multi-worker tests; here the limiter runs on its
per-app memory storage, which is correct for a single process.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD, SEEDED, TargetFactory, bearer
from tests.target.support import access_token, peer

pytestmark = pytest.mark.anyio

WRONG = {"username": SEEDED.active.email, "password": "not the password"}
RIGHT = {"username": SEEDED.active.email, "password": PASSWORD}


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["Retry-After"])


async def test_login_allows_5_a_minute_per_client_ip(target: TargetFactory) -> None:
    async with target(client_host="192.0.2.10") as client:
        for attempt in range(5):
            response = await client.post("/auth/login", data=WRONG)
            assert response.status_code == 401, f"attempt {attempt + 1}: {response.text}"
        # The 6th is refused even with the right password, with a time to wait.
        sixth = await client.post("/auth/login", data=RIGHT)
        assert 0 < retry_after(sixth) <= 60
        assert sixth.headers["X-RateLimit-Limit"] == "5"
        assert sixth.headers["X-RateLimit-Remaining"] == "0"
        # Another client address has its own budget.
        async with peer(client, "192.0.2.11") as other:
            elsewhere = await other.post("/auth/login", data=RIGHT)
    assert elsewhere.status_code == 200


async def test_forwarding_headers_are_ignored_without_a_trusted_proxy(
    target: TargetFactory,
) -> None:
    async with target(client_host="192.0.2.10") as client:
        for attempt in range(6):
            spoof = f"198.51.100.{attempt + 1}"
            response = await client.post(
                "/auth/login",
                data=WRONG,
                headers={
                    "X-Forwarded-For": spoof,
                    "X-Real-IP": spoof,
                    "Forwarded": f"for={spoof}",
                    "True-Client-IP": spoof,
                },
            )
    # Six different claimed addresses from one socket: still one client, still limited.
    assert retry_after(response) > 0


async def test_forwarded_for_is_honoured_from_a_configured_proxy(target: TargetFactory) -> None:
    proxy = "10.0.0.1"
    async with target(client_host=proxy, trusted_proxies=[proxy]) as client:
        for _ in range(5):
            response = await client.post(
                "/auth/login", data=WRONG, headers={"X-Forwarded-For": "203.0.113.5"}
            )
            assert response.status_code == 401
        # The client behind the proxy is limited, even if it prepends a spoofed hop ...
        spoofed = await client.post(
            "/auth/login", data=WRONG, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.5"}
        )
        assert retry_after(spoofed) > 0
        # ... while another client behind the same proxy is not.
        other_client = await client.post(
            "/auth/login", data=WRONG, headers={"X-Forwarded-For": "203.0.113.6"}
        )
        assert other_client.status_code == 401
        # A peer that is not a configured proxy is keyed by its own address, whatever it claims:
        # claiming the exhausted client's address does not get it limited (or unlimited).
        async with peer(client, "10.0.0.2") as untrusted:
            claimed = await untrusted.post(
                "/auth/login", data=WRONG, headers={"X-Forwarded-For": "203.0.113.5"}
            )
        assert claimed.status_code == 401


async def test_password_reset_allows_3_an_hour(target: TargetFactory) -> None:
    async with target() as client:
        for attempt in range(3):
            response = await client.post("/auth/password-reset", json={"email": f"{attempt}@x.io"})
            assert response.status_code == 202
        fourth = await client.post("/auth/password-reset", json={"email": "other@x.io"})
    # The window is an hour: the wait is longer than a minute and at most an hour.
    assert 60 < retry_after(fourth) <= 3600


async def test_verify_email_is_limited(target: TargetFactory) -> None:
    async with target() as client:
        answers = [
            (await client.post("/auth/verify-email", json={"token": f"t{n}"})).status_code
            for n in range(10)
        ]
        last = await client.post("/auth/verify-email", json={"token": "last"})
    assert answers[0] == 202
    assert 429 in answers
    assert retry_after(last) > 0


async def test_export_allows_10_an_hour_per_user(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    alice = bearer(access_token(seeded_ids[SEEDED.active.email]))
    root = bearer(access_token(seeded_ids[SEEDED.admin.email]))
    async with target() as client:
        for attempt in range(10):
            response = await client.get("/users/me/export", headers=alice)
            assert response.status_code == 200, f"export {attempt + 1}"
        eleventh = await client.get("/users/me/export", headers=alice)
        assert 60 < retry_after(eleventh) <= 3600
        # The budget follows the user, not the address: a new address does not help alice ...
        async with peer(client, "192.0.2.99") as elsewhere:
            moved = await elsewhere.get("/users/me/export", headers=alice)
        assert moved.status_code == 429
        # ... and another user from the same address has a budget of their own.
        other_user = await client.get("/users/me/export", headers=root)
    assert other_user.status_code == 200
