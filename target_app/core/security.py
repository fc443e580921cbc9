"""Issuing and verifying JWTs (PyJWT), with the planted-flaw branches kept visible.

The secure path is the last line of ``_verify``: one pinned algorithm, required claims, no leeway.
Every other branch reproduces a named mistake from the flaw catalogue; it runs only when on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import jwt

from target_app.core.config import Settings
from target_app.core.keys import SigningKeys

TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]
EXPIRED_LEEWAY = timedelta(hours=24)
LONG_ACCESS_LIFETIME = timedelta(days=7)
# The kid_path_traversal flaw reads keys from here, joined with the token's kid unchecked.
KEY_DIR = Path(__file__).resolve().parent.parent / "keys"
_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_MAX_KEY_FILE = 64 * 1024


class TokenError(Exception):
    """The token is missing, malformed, badly signed, expired, revoked or of the wrong type."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: dict[str, Any]


class TokenService:
    def __init__(self, settings: Settings, keys: SigningKeys) -> None:
        self.settings = settings
        self.keys = keys
        self.flaws = settings.flaws

    # --- issuing ---------------------------------------------------------------------------------

    def lifetime(self, token_type: TokenType) -> timedelta:
        if token_type == "refresh":
            return timedelta(days=self.settings.refresh_token_days)
        if self.flaws.on("long_lived_tokens"):
            return LONG_ACCESS_LIFETIME
        return timedelta(minutes=self.settings.access_token_minutes)

    def issue(self, user_id: str, token_type: TokenType) -> IssuedToken:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "type": token_type,
        }
        if not self.flaws.on("no_exp_required"):
            claims["exp"] = now + int(self.lifetime(token_type).total_seconds())
        headers = {"kid": self.keys.kid} if self.keys.kid else None
        token = jwt.encode(claims, self.keys.signing_key, self.keys.algorithm, headers=headers)
        return IssuedToken(token, claims)

    # --- verifying -------------------------------------------------------------------------------

    def decode(self, token: str, expected: TokenType) -> dict[str, Any]:
        try:
            claims = self._verify(token)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OSError) as exc:
            raise TokenError(str(exc) or type(exc).__name__) from exc
        if not isinstance(claims.get("sub"), str):
            raise TokenError("sub must be a string")
        if claims.get("type") != expected and not self.flaws.on("type_confusion"):
            raise TokenError("wrong token type")
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        alg = str(header.get("alg", ""))
        if self.flaws.on("alg_none") and alg.lower() == "none":
            return self._claims_without_signature(token)
        if self.flaws.on("signature_unchecked"):
            return self._claims_without_signature(token)
        if self.flaws.on("jwk_header_trusted") and isinstance(header.get("jwk"), dict):
            embedded = jwt.PyJWK(header["jwk"])
            return self._decode_with(token, embedded.key, [alg])
        if self.flaws.on("kid_path_traversal") and isinstance(header.get("kid"), str):
            key = _read_key_file(KEY_DIR / header["kid"])
            return self._claims_after_hmac(token, alg, key)
        if self.flaws.on("key_confusion") and alg.startswith("HS"):
            assert self.keys.public_pem is not None
            return self._claims_after_hmac(token, alg, self.keys.public_pem)
        return self._decode_with(token, self.keys.verifying_key, [self.keys.algorithm])

    def _options(self) -> dict[str, Any]:
        required = [
            c for c in REQUIRED_CLAIMS if c != "exp" or not self.flaws.on("no_exp_required")
        ]
        return {"require": required}

    def _leeway(self) -> timedelta:
        return EXPIRED_LEEWAY if self.flaws.on("expired_accepted") else timedelta(0)

    def _decode_with(self, token: str, key: Any, algorithms: list[str]) -> dict[str, Any]:
        return jwt.decode(
            token, key, algorithms=algorithms, options=self._options(), leeway=self._leeway()
        )

    def _claims_without_signature(self, token: str) -> dict[str, Any]:
        options = {**self._options(), "verify_signature": False, "verify_exp": True}
        return jwt.decode(token, options=options, leeway=self._leeway())

    def _claims_after_hmac(self, token: str, alg: str, key: bytes) -> dict[str, Any]:
        # Hand-rolled, as the flawed libraries did: PyJWT itself refuses PEM keys as HMAC secrets.
        digest = _HMAC_DIGESTS.get(alg)
        if digest is None:
            raise TokenError(f"unsupported alg {alg!r}")
        signing_input, _, signature = token.rpartition(".")
        expected = hmac.new(key, signing_input.encode(), digest).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            raise TokenError("signature verification failed")
        return self._claims_without_signature(token)


def _read_key_file(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_MAX_KEY_FILE)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
