"""Key material for forgeries: the probe's own key pairs, public-key encodings, JWKs, a cert."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass(frozen=True)
class ProbeKey:
    """A key pair the probe controls: a target that trusts it can be forged against."""

    algorithm: str
    private: Any
    kid: str

    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return dict(jwk)

    def certificate_pem(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe.invalid")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


@cache
def probe_key(algorithm: str) -> ProbeKey:
    if algorithm == "RS256":
        return ProbeKey(
            "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048), "probe-rsa"
        )
    return ProbeKey("ES256", ec.generate_private_key(ec.SECP256R1()), "probe-ec")


def public_key_encodings(jwk: dict[str, Any]) -> dict[str, bytes]:
    """The forms a confused verifier may use as its HMAC secret: SPKI PEM, PKCS#1 PEM, OpenSSH,
    each with and without a trailing newline."""
    kty = jwk.get("kty")
    public: Any
    if kty == "RSA":
        public = RSAAlgorithm.from_jwk(jwk)
    elif kty == "EC":
        public = ECAlgorithm.from_jwk(jwk)
    else:
        return {}
    if hasattr(public, "public_key"):
        public = public.public_key()
    forms = {
        "SPKI PEM": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "OpenSSH": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    }
    if kty == "RSA":
        forms["PKCS#1 PEM"] = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
    encodings: dict[str, bytes] = {}
    for name, value in forms.items():
        stripped = value.rstrip(b"\n")
        encodings[f"{name}, no trailing newline"] = stripped
        encodings[f"{name}, trailing newline"] = stripped + b"\n"
    return encodings
