"""Bad input gets a 4xx, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, SEEDED, TargetFactory, bearer
from tests.target.support import access_token, refresh_token, unverified

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Logins are limited to 5 a minute; these tests send more on purpose.
UNLIMITED = {"login_limit": "1000/minute"}

NON_UUID_SUBS = [
    "not-a-uuid",
    "",
    " ",
    "0",
    "-1",
    "' OR '1'='1",
    "../../etc/passwd",
    "ä" * 40,
    "x" * 5000,
    "12345678-1234-1234-1234-1234567890123",  # one digit too many
]


async def test_non_uuid_subs_get_401(target: TargetFactory) -> None:
    async with target() as client:
        answers = {
            sub: (
                (await client.get("/users/me", headers=bearer(access_token(sub)))).status_code,
                (
                    await client.post("/auth/refresh", json={"refresh_token": refresh_token(sub)})
                ).status_code,
            )
            for sub in NON_UUID_SUBS
        }
    assert {sub: codes for sub, codes in answers.items() if codes != (401, 401)} == {}


async def test_over_long_password_at_login_is_an_ordinary_401(target: TargetFactory) -> None:
    async with target(**UNLIMITED) as client:
        answers = {
            (user, size): await client.post(
                "/auth/login", data={"username": user, "password": "p" * size}
            )
            for user in (SEEDED.active.email, "nobody@example.com")
            for size in (73, 10_000)
        }
    assert {key: r.status_code for key, r in answers.items()} == dict.fromkeys(answers, 401)
    assert {r.json()["detail"] for r in answers.values()} == {"Incorrect username or password"}


async def test_over_long_password_at_registration_is_422(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/register", json={"email": "long@example.com", "password": "p" * 10_000}
        )
    assert response.status_code == 422


MALFORMED_JSON = [
    b"",
    b"{",
    b"not json",
    b"[]",
    b"null",
    b"123",
    b'{"email": 5, "password": ["x"], "token": {}, "refresh_token": 7}',
    b'{"email": "\\ud800@example.com", "password": "\\udfff\\udfffpassword", '
    b'"token": "\\ud800", "refresh_token": "\\ud800"}',
    b'{"email": "nul\\u0000@example.com", "password": "nul\\u0000password", '
    b'"token": "\\u0000", "refresh_token": "\\u0000"}',
    b"\xff\xfe\x00{",
    b'{"email": "' + b"a" * 100_000 + b'"}',
]
JSON_ROUTES = ["/auth/register", "/auth/refresh", "/auth/password-reset", "/auth/verify-email"]


@pytest.mark.parametrize("path", JSON_ROUTES)
async def test_malformed_json_is_422(target: TargetFactory, path: str) -> None:
    async with target() as client:
        answers = {
            body[:40]: (await client.post(path, content=body, headers=JSON)).status_code
            for body in MALFORMED_JSON
        }
    assert {body: status for body, status in answers.items() if status != 422} == {}


async def test_malformed_json_at_logout_is_422(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    bodies = [
        b"{",
        b"not json",
        b"[]",
        b'{"refresh_token": 7}',
        b'{"refresh_token": "\\ud800"}',
        b'{"refresh_token": "\\u0000"}',
    ]
    async with target() as client:
        answers = {
            body: (
                await client.post(
                    "/auth/logout",
                    content=body,
                    headers={**JSON, **bearer(access_token(user_id))},
                )
            ).status_code
            for body in bodies
        }
    assert answers == dict.fromkeys(bodies, 422)


async def test_malformed_login_forms_are_4xx(target: TargetFactory) -> None:
    cases = {
        "no-body": {"content": b""},
        "json": {"json": {"username": SEEDED.active.email, "password": PASSWORD}},
        "missing-password": {"data": {"username": SEEDED.active.email}},
        "missing-username": {"data": {"password": PASSWORD}},
        "garbage-urlencoded": {"content": b"%%%&&&===\xff\xfe", "headers": FORM},
        "broken-multipart": {
            "content": b"--xyz\r\nContent-Disposition: form-data\r\n\r\nabc",
            "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
        },
        "multipart-without-boundary": {
            "content": b"abc",
            "headers": {"Content-Type": "multipart/form-data"},
        },
        "xml": {"content": b"<login/>", "headers": {"Content-Type": "application/xml"}},
    }
    async with target(**UNLIMITED) as client:
        answers = {
            name: (await client.post("/auth/login", **kwargs)).status_code  # type: ignore[arg-type]
            for name, kwargs in cases.items()
        }
    assert {name: s for name, s in answers.items() if s not in (400, 422)} == {}


async def test_odd_but_valid_form_values_get_401(target: TargetFactory) -> None:
    odd = [
        "%ff%fe",  # percent-escapes that are not UTF-8
        "a%00b",  # NUL
        "%ED%A0%80",  # an encoded lone surrogate
    ]
    async with target(**UNLIMITED) as client:
        answers = {
            value: (
                await client.post(
                    "/auth/login",
                    content=f"username={value}&password={value}".encode(),
                    headers=FORM,
                )
            ).status_code
            for value in odd
        }
    assert answers == dict.fromkeys(odd, 401)


async def test_a_10kb_authorization_header_gets_401(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    huge = {"Authorization": "Bearer " + "a" * 10 * 1024}
    padded = bearer(access_token(seeded_ids[SEEDED.active.email], padding="x" * 10 * 1024))
    async with target() as client:
        answers = [
            await client.get("/users/me", headers=huge),
            await client.post("/auth/logout", headers=huge),
            # A well-signed but 10 KB token is refused by size before it is parsed.
            await client.get("/users/me", headers=padded),
        ]
        huge_refresh = await client.post("/auth/refresh", json={"refresh_token": "a" * 10 * 1024})
    assert [r.status_code for r in answers] == [401, 401, 401]
    assert all(r.headers["WWW-Authenticate"].startswith("Bearer") for r in answers)
    assert huge_refresh.status_code == 422


UNICODE_EMAILS = ["zoë@exämple.com", "用户@例子.公司", "пользователь@пример.рф", "🙂@😀.com"]


async def test_unicode_usernames_register_and_log_in(target: TargetFactory) -> None:
    email = "zoë.ñandú@exämple.com"
    password = "pässwörd 🙂 ünïcode"
    async with target() as client:
        created = await client.post("/auth/register", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        logged_in = await client.post("/auth/login", data={"username": email, "password": password})
        assert logged_in.status_code == 200
        me = await client.get("/users/me", headers=bearer(logged_in.json()["access_token"]))
    assert me.json()["email"] == email
    assert unverified(logged_in.json()["access_token"])["sub"] == created.json()["id"]


async def test_unknown_unicode_usernames_get_401(target: TargetFactory) -> None:
    odd = [
        *UNICODE_EMAILS,
        "\u202eevil@example.com",  # right-to-left override
        "a\u0301\u0301\u0301@example.com",  # stacked combining marks
        "x" * 10_000,
    ]
    async with target(**UNLIMITED) as client:
        answers = {
            name[:30]: (
                await client.post("/auth/login", data={"username": name, "password": PASSWORD})
            ).status_code
            for name in odd
        }
    assert answers == dict.fromkeys(answers, 401)


async def test_unicode_password_reset_is_accepted(target: TargetFactory) -> None:
    async with target() as client:
        answers = [
            (await client.post("/auth/password-reset", json={"email": email})).status_code
            for email in UNICODE_EMAILS[:3]
        ]
    assert answers == [202, 202, 202]
