"""Building tokens for probes: tampering with real ones, and signing with a known key."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, payload and raw signature segment of a compact JWS, without any check."""
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature


def with_bad_signature(token: str) -> str:
    """The same header and payload, with a random signature of the same length."""
    header, payload, signature = token.split(".")
    forged = b64url(secrets.token_bytes(max(len(unb64url(signature)), 16)))
    return f"{header}.{payload}.{forged}"


def sign(
    claims: dict[str, Any], key: str, algorithm: str, header: dict[str, Any] | None = None
) -> str:
    """Sign with the target's own key (grey box): HS secret, or a PEM private key."""
    return jwt.encode(claims, key, algorithm=algorithm, headers=header)


def resign(token: str, key: str, algorithm: str, **changes: Any) -> str:
    """A real token's claims with ``changes`` applied (``None`` deletes), re-signed."""
    _header, payload, _sig = split(token)
    for name, value in changes.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return sign(payload, key, algorithm)


MALFORMED_TOKENS = ("not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30", "a.b.c")
