"""Tokens: the claims issued, their lifetimes, and a decoder that pins the algorithm."""

from __future__ import annotations

import secrets
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from target_app.core.keys import generate_private_pem, load_keys
from target_app.core.security import TokenError, TokenService
from tests.conftest import SECRET, SEEDED, TargetFactory, login, make_settings
from tests.target.support import (
    ACCESS_SECONDS,
    REFRESH_SECONDS,
    claims,
    forge,
    hmac_signed,
    new_user_id,
    unsigned,
)

pytestmark = pytest.mark.anyio

RSA_PEM = generate_private_pem("RS256")


def service(**overrides: Any) -> TokenService:
    settings = make_settings(**overrides)
    return TokenService(settings, load_keys(settings))


def rsa_public_pem() -> bytes:
    private = serialization.load_pem_private_key(RSA_PEM.encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_issued_tokens_carry_the_claims_and_lifetimes(
    target: TargetFactory, seeded_ids: dict[str, str]
) -> None:
    async with target() as client:
        tokens = await login(client)
    access = jwt.decode(tokens["access_token"], SECRET, algorithms=["HS256"])
    refresh = jwt.decode(tokens["refresh_token"], SECRET, algorithms=["HS256"])
    for decoded in (access, refresh):
        assert {"sub", "exp", "iat", "jti", "type"} <= decoded.keys()
        assert decoded["sub"] == seeded_ids[SEEDED.active.email]
    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["exp"] - access["iat"] == ACCESS_SECONDS
    assert refresh["exp"] - refresh["iat"] == REFRESH_SECONDS
    assert access["jti"] != refresh["jti"]
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"


def test_every_issued_token_has_its_own_jti() -> None:
    tokens = service()
    jtis = {tokens.issue(new_user_id(), "access").claims["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_a_valid_token_decodes() -> None:
    sub = new_user_id()
    assert service().decode(forge(claims(sub)), "access")["sub"] == sub


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "type", "jti"])
def test_decode_requires_the_claim(missing: str) -> None:
    payload = claims(new_user_id())
    del payload[missing]
    with pytest.raises(TokenError):
        service().decode(forge(payload), "access")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_decode_rejects_alg_none_in_any_casing(alg: str) -> None:
    with pytest.raises(TokenError):
        service().decode(unsigned(claims(new_user_id()), alg), "access")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_hs256_mode_rejects_other_hmac_algorithms_even_with_the_right_secret(alg: str) -> None:
    token = forge(claims(new_user_id()), SECRET, alg)
    with pytest.raises(TokenError, match="alg"):
        service().decode(token, "access")


def test_rs256_mode_rejects_an_hs256_token_signed_with_the_secret() -> None:
    tokens = service(jwt_algorithm="RS256", jwt_private_key=RSA_PEM)
    with pytest.raises(TokenError):
        tokens.decode(forge(claims(new_user_id()), SECRET, "HS256"), "access")


def test_rs256_mode_rejects_an_hs256_token_keyed_with_its_public_key() -> None:
    """The algorithm-confusion attack on the secure verifier."""
    tokens = service(jwt_algorithm="RS256", jwt_private_key=RSA_PEM)
    assert tokens.keys.public_pem == rsa_public_pem()
    forged = hmac_signed(claims(new_user_id()), rsa_public_pem(), headers={"kid": "rs256-1"})
    with pytest.raises(TokenError):
        tokens.decode(forged, "access")


def test_rs256_mode_accepts_its_own_tokens_and_rejects_another_keys() -> None:
    tokens = service(jwt_algorithm="RS256", jwt_private_key=RSA_PEM)
    sub = new_user_id()
    assert tokens.decode(tokens.issue(sub, "access").token, "access")["sub"] == sub
    other_key = serialization.load_pem_private_key(
        generate_private_pem("RS256").encode(), password=None
    )
    with pytest.raises(TokenError):
        tokens.decode(forge(claims(sub), other_key, "RS256"), "access")


def test_es256_mode_rejects_an_rs256_token() -> None:
    tokens = service(jwt_algorithm="ES256", jwt_private_key=generate_private_pem("ES256"))
    rsa_key = serialization.load_pem_private_key(RSA_PEM.encode(), password=None)
    with pytest.raises(TokenError):
        tokens.decode(forge(claims(new_user_id()), rsa_key, "RS256"), "access")


def test_decode_rejects_a_bad_signature() -> None:
    token = forge(claims(new_user_id()), secrets.token_hex(32))
    with pytest.raises(TokenError):
        service().decode(token, "access")


def test_decode_rejects_an_expired_token_without_leeway() -> None:
    payload = claims(new_user_id())
    payload["exp"] = payload["iat"] - 1
    with pytest.raises(TokenError):
        service().decode(forge(payload), "access")


@pytest.mark.parametrize(("kind", "expected"), [("refresh", "access"), ("access", "refresh")])
def test_decode_checks_the_token_type(kind: str, expected: Any) -> None:
    with pytest.raises(TokenError, match="type"):
        service().decode(forge(claims(new_user_id(), kind)), expected)


@pytest.mark.parametrize("sub", [123, None, ["a"], {"id": 1}])
def test_decode_requires_sub_to_be_a_string(sub: object) -> None:
    payload = claims(new_user_id())
    payload["sub"] = sub
    with pytest.raises(TokenError):
        service().decode(forge(payload), "access")
