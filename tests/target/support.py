"""Helpers for the in-process target tests: forged tokens, a second client, timings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from tests.conftest import SECRET

ACCESS_SECONDS = 15 * 60
REFRESH_SECONDS = 7 * 24 * 3600
HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(
    sub: str, kind: str = "access", *, lifetime: int | None = None, **extra: Any
) -> dict[str, Any]:
    """A full claim set as the target issues it; ``extra`` overrides or adds claims."""
    now = int(time.time())
    if lifetime is None:
        lifetime = REFRESH_SECONDS if kind == "refresh" else ACCESS_SECONDS
    payload: dict[str, Any] = {
        "sub": sub,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "type": kind,
    }
    payload.update(extra)
    return payload


def forge(
    payload: dict[str, Any],
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    """Sign with PyJWT; by default with the test target's own HS256 secret."""
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def access_token(sub: str, **extra: Any) -> str:
    return forge(claims(sub, "access", **extra))


def refresh_token(sub: str, **extra: Any) -> str:
    return forge(claims(sub, "refresh", **extra))


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    """An ``alg: none`` token: header and payload, empty signature."""
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(payload)}."


def hmac_signed(
    payload: dict[str, Any], key: bytes, alg: str = "HS256", headers: dict[str, Any] | None = None
) -> str:
    """HMAC by hand, for keys PyJWT refuses (a PEM public key, an empty key)."""
    header = {"alg": alg, "typ": "JWT", **(headers or {})}
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), HMAC_DIGESTS[alg]).digest()
    return f"{signing_input}.{b64url(signature)}"


def unverified(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def app_of(client: httpx.AsyncClient) -> FastAPI:
    """The FastAPI app behind a client from the ``target`` fixture."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


@asynccontextmanager
async def peer(client: httpx.AsyncClient, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second client of the same running app, connecting from another socket address."""
    transport = httpx.ASGITransport(
        app=app_of(client), raise_app_exceptions=False, client=(host, 50001)
    )
    async with httpx.AsyncClient(transport=transport, base_url=client.base_url) as other:
        yield other


async def timed(request: Awaitable[httpx.Response]) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = await request
    return time.perf_counter() - start, response


def new_user_id() -> str:
    return str(uuid.uuid4())


def hmac_valid(token: str, key: bytes, alg: str = "HS256") -> bool:
    """Whether ``token`` carries a correct HMAC under ``key`` (by hand, for any key length)."""
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(key, signing_input.encode(), HMAC_DIGESTS[alg]).digest()
    return hmac.compare_digest(b64url(expected), signature)


@asynccontextmanager
async def two_instances(
    target: Callable[..., Any], **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps with the same settings (give them one ``redis_url`` and ``redis_prefix``)."""
    async with target(**settings) as first, target(**settings) as second:
        yield first, second
