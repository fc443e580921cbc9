"""The secure target answers its basic routes."""

from __future__ import annotations

import pytest

from tests.conftest import SEEDED, TargetFactory, bearer, login

pytestmark = pytest.mark.anyio


async def test_login_then_me(target: TargetFactory) -> None:
    async with target() as client:
        tokens = await login(client)
        response = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == SEEDED.active.email


async def test_health(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("/health")
    assert response.json() == {"status": "ok"}
