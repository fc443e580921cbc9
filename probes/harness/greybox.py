"""The grey-box signing key: the profile's, once checked against a real token, or a cracked one."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from probes.harness.forging import split

NO_TIME_CHECKS = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


@dataclass(frozen=True)
class SigningKey:
    key: str
    algorithm: str
    source: str  # "profile" or "cracked"

    def sign(self, claims: dict[str, Any], like: str | None = None) -> str:
        """Sign claims as the target would, keeping the genuine token's header fields."""
        header = {k: v for k, v in split(like)[0].items() if k != "alg"} if like else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short cracked secrets make PyJWT warn
            return jwt.encode(claims, self.key, algorithm=self.algorithm, headers=header)

    def resign(self, token: str, **changes: Any) -> str:
        """A real token's claims with ``changes`` applied (``None`` deletes), re-signed."""
        claims = split(token)[1]
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return self.sign(claims, like=token)


def verifies(token: str, key: str, algorithm: str) -> bool:
    """Does ``key`` verify this real token's signature? (Time claims are not checked.)"""
    try:
        verifying: Any = key
        if not algorithm.startswith("HS"):
            private = serialization.load_pem_private_key(key.encode(), password=None)
            verifying = private.public_key()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jwt.decode(token, verifying, algorithms=[algorithm], options=NO_TIME_CHECKS)
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    return True
