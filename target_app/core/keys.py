"""Signing keys: an HMAC secret (HS256) or a key pair (RS256/ES256), and the public JWKS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from target_app.core.config import Settings

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class SigningKeys:
    algorithm: str
    signing_key: Any
    verifying_key: Any
    kid: str | None = None
    public_pem: bytes | None = None

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        if self.public_pem is None:
            return {"keys": []}
        algorithm = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.verifying_key))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
        return {"keys": [jwk]}


def load_keys(settings: Settings) -> SigningKeys:
    if settings.jwt_algorithm == "HS256":
        secret = settings.hmac_secret
        return SigningKeys("HS256", secret, secret)
    assert settings.jwt_private_key is not None, "config.validate() checks the key is present"
    private = serialization.load_pem_private_key(
        settings.jwt_private_key.get_secret_value().encode(), password=None
    )
    public = private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = f"{settings.jwt_algorithm.lower()}-1"
    return SigningKeys(settings.jwt_algorithm, private, public, kid=kid, public_pem=pem)


def generate_private_pem(algorithm: str) -> str:
    """A fresh key pair for RS256 or ES256, as PKCS#8 PEM (used by the launcher and tests)."""
    key: PrivateKey
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"no key pair for {algorithm}")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
