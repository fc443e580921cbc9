"""401 with WWW-Authenticate for every kind of bad credential; 403 for a known user not allowed."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import SEEDED, TargetFactory, bearer
from tests.target.support import access_token, claims, forge, refresh_token

pytestmark = pytest.mark.anyio

PROTECTED = [
    ("GET", "/users/me"),
    ("GET", "/users/me/export"),
    ("GET", "/admin/users"),
    ("POST", "/auth/logout"),
]


def expired(user_id: str) -> dict[str, str]:
    payload = claims(user_id)
    payload["iat"] -= 3600
    payload["exp"] = payload["iat"] + 900
    return bearer(forge(payload))


# Each case builds the Authorization header from the active user's id.
BAD_CREDENTIALS: dict[str, Callable[[str], dict[str, str]]] = {
    "missing": lambda _id: {},
    "empty-header": lambda _id: {"Authorization": ""},
    "scheme-only": lambda _id: {"Authorization": "Bearer"},
    "wrong-scheme": lambda user_id: {"Authorization": f"Basic {access_token(user_id)}"},
    "not-a-jwt": lambda _id: bearer("not-a-jwt"),
    "garbage-segments": lambda _id: bearer("a.b.c"),
    "bad-signature": lambda user_id: bearer(forge(claims(user_id), secrets.token_hex(32))),
    "truncated-signature": lambda user_id: bearer(access_token(user_id)[:-4]),
    "expired": expired,
    "refresh-as-access": lambda user_id: bearer(refresh_token(user_id)),
    "sub-not-a-uuid": lambda _id: bearer(access_token("not-a-uuid")),
    "sub-sql-ish": lambda _id: bearer(access_token("' OR '1'='1")),
    "sub-empty": lambda _id: bearer(access_token("")),
    "sub-unknown-uuid": lambda _id: bearer(access_token(str(uuid.uuid4()))),
}


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def unauthenticated_properly(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.headers.get("WWW-Authenticate", "").startswith(
        "Bearer"
    )


async def test_bad_credentials_get_401_with_www_authenticate(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    async with target() as client:
        # The control: the same route with a good token answers.
        good = await client.get("/users/me", headers=bearer(access_token(user_id)))
        assert good.status_code == 200
        answers = {
            case: await client.get("/users/me", headers=make(user_id))
            for case, make in BAD_CREDENTIALS.items()
        }
    wrong = {
        case: (response.status_code, response.headers.get("WWW-Authenticate"))
        for case, response in answers.items()
        if not unauthenticated_properly(response)
    }
    assert wrong == {}


async def test_a_revoked_token_gets_401_with_www_authenticate(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    headers = bearer(access_token(seeded_ids[SEEDED.active.email]))
    async with target() as client:
        assert (await client.get("/users/me", headers=headers)).status_code == 200
        assert (await client.post("/auth/logout", headers=headers)).status_code == 200
        response = await client.get("/users/me", headers=headers)
    assert_unauthenticated(response)


async def test_every_protected_route_needs_a_token(target: TargetFactory) -> None:
    async with target() as client:
        for method, path in PROTECTED:
            assert_unauthenticated(await client.request(method, path))


async def test_an_inactive_user_gets_403(target: TargetFactory, seeded_ids: dict[str, str]) -> None:
    headers = bearer(access_token(seeded_ids[SEEDED.inactive.email]))
    async with target() as client:
        for path in ("/users/me", "/users/me/export", "/admin/users"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 403, path
            assert response.json() == {"detail": "Inactive user"}


async def test_a_missing_role_gets_403_not_401(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    async with target() as client:
        response = await client.get(
            "/admin/users", headers=bearer(access_token(seeded_ids[SEEDED.active.email]))
        )
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
