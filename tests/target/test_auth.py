"""Every endpoint of the secure target, and the rules each one enforces."""

from __future__ import annotations

import jwt
import pytest

from target_app.core.keys import generate_private_pem
from tests.conftest import PASSWORD, SEEDED, TargetFactory, bearer, login
from tests.target.support import access_token, new_user_id, refresh_token, unverified

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a perfectly fine passphrase"


# --- register ------------------------------------------------------------------------------------


async def test_register_creates_an_active_user_who_can_log_in(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/register", json={"email": "new@example.com", "password": NEW_PASSWORD}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["email"] == "new@example.com"
        assert body["is_active"] is True
        assert body["role"] == "user"
        assert "password" not in response.text
        assert "hashed" not in response.text
        logged_in = await client.post(
            "/auth/login", data={"username": "new@example.com", "password": NEW_PASSWORD}
        )
    assert logged_in.status_code == 200
    assert unverified(logged_in.json()["access_token"])["sub"] == body["id"]


async def test_register_duplicate_email_is_409(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/register", json={"email": SEEDED.active.email, "password": NEW_PASSWORD}
        )
    assert response.status_code == 409
    assert response.json() == {"detail": "Email already registered"}


async def test_register_refuses_passwords_over_72_bytes(target: TargetFactory) -> None:
    cases = {
        "72 ASCII bytes": ("p" * 72, 201),
        "73 ASCII bytes": ("p" * 73, 422),
        # 37 characters but 74 bytes in UTF-8: the limit is bcrypt's, in bytes.
        "74 UTF-8 bytes": ("é" * 37, 422),
        "1000 bytes": ("p" * 1000, 422),
    }
    async with target() as client:
        answers = {
            name: (
                await client.post(
                    "/auth/register", json={"email": f"u{n}@example.com", "password": password}
                )
            ).status_code
            for n, (name, (password, _)) in enumerate(cases.items())
        }
    assert answers == {name: status for name, (_, status) in cases.items()}


# --- login ---------------------------------------------------------------------------------------


async def test_login_returns_a_bearer_token_pair(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/login", data={"username": SEEDED.active.email, "password": PASSWORD}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    # Seconds the access token has left: its 15 minutes, less the time spent issuing it.
    assert 15 * 60 - 2 <= body["expires_in"] <= 15 * 60
    access = unverified(body["access_token"])
    refresh = unverified(body["refresh_token"])
    assert access["sub"] == refresh["sub"] == seeded_ids[SEEDED.active.email]


async def test_login_failure_is_identical_for_unknown_user_and_wrong_password(
    target: TargetFactory,
) -> None:
    async with target() as client:
        wrong = await client.post(
            "/auth/login", data={"username": SEEDED.active.email, "password": "wrong password"}
        )
        unknown = await client.post(
            "/auth/login", data={"username": "nobody@example.com", "password": PASSWORD}
        )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.json() == unknown.json() == {"detail": "Incorrect username or password"}
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


async def test_login_takes_an_oauth2_password_form_not_json(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/login", json={"username": SEEDED.active.email, "password": PASSWORD}
        )
    assert response.status_code == 422


# --- refresh -------------------------------------------------------------------------------------


async def test_refresh_rotates_and_revokes_the_old_refresh_token(target: TargetFactory) -> None:
    async with target() as client:
        first = await login(client)
        rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        # The new pair works ...
        me = await client.get("/users/me", headers=bearer(second["access_token"]))
        assert me.status_code == 200
        # ... and the old refresh token is spent.
        again = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.headers["WWW-Authenticate"].startswith("Bearer")


async def test_refresh_token_reuse_revokes_all_the_users_refresh_tokens(
    target: TargetFactory,
) -> None:
    async with target() as client:
        stolen = await login(client)
        # The legitimate client rotates; a second session exists too.
        rotated = (
            await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        ).json()
        other_session = await login(client)
        # The thief replays the spent token: theft is detected ...
        replay = await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert replay.status_code == 401
        assert "reuse" in replay.json()["detail"].lower()
        # ... and every refresh token of that user is now dead.
        for token in (rotated["refresh_token"], other_session["refresh_token"]):
            response = await client.post("/auth/refresh", json={"refresh_token": token})
            assert response.status_code == 401, response.text


async def test_inactive_user_cannot_refresh(target: TargetFactory) -> None:
    async with target() as client:
        tokens = await login(client, SEEDED.inactive)
        response = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert response.status_code == 403
    assert response.json() == {"detail": "Inactive user"}


async def test_refresh_for_a_user_that_does_not_exist_is_401(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post(
            "/auth/refresh", json={"refresh_token": refresh_token(new_user_id())}
        )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_access_token_is_refused_at_refresh(target: TargetFactory) -> None:
    async with target() as client:
        tokens = await login(client)
        response = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["access_token"]}
        )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- logout --------------------------------------------------------------------------------------


async def test_logout_revokes_the_access_token(target: TargetFactory) -> None:
    async with target() as client:
        tokens = await login(client)
        headers = bearer(tokens["access_token"])
        assert (await client.get("/users/me", headers=headers)).status_code == 200
        logout = await client.post("/auth/logout", headers=headers)
        assert logout.status_code == 200
        after = await client.get("/users/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


async def test_logout_revokes_the_refresh_token_when_sent(target: TargetFactory) -> None:
    async with target() as client:
        tokens = await login(client)
        logout = await client.post(
            "/auth/logout",
            headers=bearer(tokens["access_token"]),
            json={"refresh_token": tokens["refresh_token"]},
        )
        assert logout.status_code == 200
        refresh = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert refresh.status_code == 401
    assert me.status_code == 401


async def test_logout_cannot_revoke_another_users_refresh_token(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    victim_refresh = refresh_token(seeded_ids[SEEDED.admin.email])
    async with target() as client:
        attacker = access_token(seeded_ids[SEEDED.active.email])
        logout = await client.post(
            "/auth/logout", headers=bearer(attacker), json={"refresh_token": victim_refresh}
        )
        assert logout.status_code == 200
        victim = await client.post("/auth/refresh", json={"refresh_token": victim_refresh})
    assert victim.status_code == 200


async def test_logout_needs_an_access_token(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.post("/auth/logout")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- password reset and e-mail verification -----------------------------------------------------


async def test_password_reset_answers_the_same_for_known_and_unknown_accounts(
    target: TargetFactory,
) -> None:
    async with target() as client:
        known = await client.post("/auth/password-reset", json={"email": SEEDED.active.email})
        unknown = await client.post("/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content


async def test_verify_email_answers_the_same_whatever_the_token(target: TargetFactory) -> None:
    async with target() as client:
        first = await client.post("/auth/verify-email", json={"token": "a-token"})
        second = await client.post("/auth/verify-email", json={"token": "another-token"})
    assert first.status_code == second.status_code == 202
    assert first.content == second.content


# --- users and admin -----------------------------------------------------------------------------


async def test_users_me_returns_the_current_user(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    async with target() as client:
        response = await client.get("/users/me", headers=bearer(access_token(user_id)))
    assert response.status_code == 200
    assert response.json() == {
        "id": user_id,
        "email": SEEDED.active.email,
        "is_active": True,
        "role": "user",
    }


async def test_export_returns_the_users_data(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    user_id = seeded_ids[SEEDED.active.email]
    async with target() as client:
        response = await client.get("/users/me/export", headers=bearer(access_token(user_id)))
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user_id
    assert "exported_at" in response.json()


async def test_admin_users_is_403_for_a_non_admin(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    async with target() as client:
        response = await client.get(
            "/admin/users", headers=bearer(access_token(seeded_ids[SEEDED.active.email]))
        )
    assert response.status_code == 403
    assert response.json() == {"detail": "Admin role required"}


async def test_admin_users_lists_users_for_an_admin(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    async with target() as client:
        response = await client.get(
            "/admin/users", headers=bearer(access_token(seeded_ids[SEEDED.admin.email]))
        )
    assert response.status_code == 200
    emails = {user["email"] for user in response.json()}
    assert emails == {SEEDED.active.email, SEEDED.inactive.email, SEEDED.admin.email}
    assert "hashed_password" not in response.text


# --- metadata ------------------------------------------------------------------------------------


async def test_health(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_jwks_is_empty_for_hs256(target: TargetFactory) -> None:
    async with target() as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    # A shared HMAC secret has no public half: nothing may be published.
    assert response.json() == {"keys": []}


@pytest.mark.parametrize(("algorithm", "kty"), [("RS256", "RSA"), ("ES256", "EC")])
async def test_asymmetric_tokens_verify_against_the_served_jwks(
    target: TargetFactory, algorithm: str, kty: str
) -> None:
    private_pem = generate_private_pem(algorithm)
    async with target(jwt_algorithm=algorithm, jwt_private_key=private_pem) as client:
        jwks = (await client.get("/.well-known/jwks.json")).json()
        tokens = await login(client)
        me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    [jwk] = jwks["keys"]
    assert jwk["kty"] == kty
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    # Only the public half is published.
    assert "d" not in jwk
    for token in (tokens["access_token"], tokens["refresh_token"]):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == algorithm
        assert header["kid"] == jwk["kid"]
        verified = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[algorithm])
        assert verified["sub"] == me.json()["id"]
