"""Signature and algorithm attacks: forged tokens must never be accepted."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.forging import (
    alg_none_variants,
    b64url,
    compact,
    hmac_sign,
    psychic_signatures,
    split,
)
from probes.harness.judge import Attempt, Reference, accepted
from probes.harness.keys import probe_key, public_key_encodings
from probes.harness.listener import is_loopback_url, listening
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.sessions import SessionPool
from probes.harness.target import Target
from probes.harness.verdicts import TargetError

JWKS_PATHS = ("/.well-known/jwks.json", "/jwks.json")
KID_TRAVERSAL = "../../../../../../../../../../dev/null"
KID_SQL_KEY = "probe-kid-key"
KID_SQL = f"x' UNION SELECT '{KID_SQL_KEY}' -- "
FETCH_GRACE_S = 0.5


class Forger:
    """Builds forged tokens carrying ``claims`` (privilege-relevant where possible)."""

    def __init__(self, genuine: str, claims: dict[str, object]) -> None:
        self.genuine = genuine
        self.header = split(genuine)[0]
        self.claims = claims

    def with_key(self, alg: str, key: object, **header: object) -> str:
        import jwt

        fields = {k: v for k, v in {**self.header, **header}.items() if k != "alg"}
        return jwt.encode(self.claims, key, algorithm=alg, headers=fields)  # type: ignore[arg-type]

    def hmac(self, alg: str, key: bytes, **header: object) -> str:
        return hmac_sign({**self.header, **header, "alg": alg}, self.claims, key)


def published_keys(client: ProbeClient, target: Target) -> list[dict[str, object]]:
    paths = [p for p in (target.profile.endpoints.jwks, *JWKS_PATHS) if p]
    for path in paths:
        try:
            response = client.get(path, note="public keys")
            keys = response.json().get("keys", []) if response.is_success else []
        except (ValueError, AttributeError, TargetError):
            keys = []
        if keys:
            return [k for k in keys if isinstance(k, dict)]
    return []


def forgeries(
    forger: Forger, public_keys: list[dict[str, object]], listener_url: str | None
) -> dict[str, dict[str, str]]:
    """Family -> label -> forged token."""
    header = forger.header
    rsa, ec = probe_key("RS256"), probe_key("ES256")
    families: dict[str, dict[str, str]] = {
        "alg-none": alg_none_variants(forger.genuine, forger.claims),
        "signature": {
            "null signature": compact(header, forger.claims),
            "broken signature": compact(header, forger.claims, b64url(secrets.token_bytes(32))),
        },
        "blank-key": {
            f"{alg} with an empty key": forger.hmac(alg, b"") for alg in ("HS256", "HS384", "HS512")
        },
        "key-confusion": {
            f"HS256 keyed with {jwk.get('kid', 'key')} as {form}": forger.hmac("HS256", encoded)
            for jwk in public_keys
            for form, encoded in public_key_encodings(jwk).items()
        },
        "jwk": {
            "embedded RSA jwk": forger.with_key(
                "RS256", rsa.private, jwk=rsa.public_jwk(), kid=rsa.kid
            ),
            "embedded EC jwk": forger.with_key(
                "ES256", ec.private, jwk=ec.public_jwk(), kid=ec.kid
            ),
        },
        "kid": {
            "kid path traversal to /dev/null, empty key": forger.hmac(
                "HS256", b"", kid=KID_TRAVERSAL
            ),
            "kid SQL injection selecting a known key": forger.hmac(
                "HS256", KID_SQL_KEY.encode(), kid=KID_SQL
            ),
        },
        "psychic": psychic_signatures(forger.genuine, forger.claims),
    }
    if listener_url:
        families["jku"] = {
            "jku to the probe's listener": forger.with_key(
                "RS256", rsa.private, jku=f"{listener_url}/jwks.json", kid=rsa.kid
            )
        }
        families["x5u"] = {
            "x5u to the probe's listener": forger.with_key(
                "RS256", rsa.private, x5u=f"{listener_url}/cert.pem", kid=rsa.kid
            )
        }
    return families


@pytest.fixture(scope="module")
def claimed(
    sessions: SessionPool, user_token: str, references: dict[str, Reference]
) -> tuple[str, dict[str, object]]:
    """The identity forged tokens claim: the admin's sub if there is an admin, and an admin role."""
    claims = dict(split(user_token)[1])
    claims["role"] = "admin"
    claims["exp"] = int(time.time()) + 600
    if "admin" in references:
        claims["sub"] = split(sessions.get("admin").access)[1].get("sub")
        return "admin", claims
    return "user", claims


@pytest.fixture(scope="module")
def attempts(
    target: Target,
    redactor: Redactor,
    user_token: str,
    claimed: tuple[str, dict[str, object]],
    references: dict[str, Reference],
    judge_route: Route,
) -> Iterator[dict[str, list[Attempt]]]:
    """Every forgery sent once to the judge route, judged against the claimed identity's answer."""
    role, claims = claimed
    client = ProbeClient(target.base_url, redactor, budget=120)
    forger = Forger(user_token, claims)
    rsa = probe_key("RS256")
    jwks = json.dumps({"keys": [rsa.public_jwk()]}).encode()
    documents = {
        "/jwks.json": ("application/json", jwks),
        "/cert.pem": ("application/x-pem-file", rsa.certificate_pem().encode()),
    }
    results: dict[str, list[Attempt]] = {}
    with listening(documents) as listener:
        url = listener.url if is_loopback_url(target.base_url) else None
        families = forgeries(forger, published_keys(client, target), url)
        for family, tokens in families.items():
            results[family] = [
                send(client, judge_route, references[role], family, label, token)
                for label, token in tokens.items()
            ]
        time.sleep(FETCH_GRACE_S)  # a target that fetches keys asynchronously has had its chance
    results["_fetches"] = [fetch_attempt(path) for path in listener.hits] if url else []
    results["_listener"] = [] if url else None  # type: ignore[assignment]
    yield results
    client.close()


def send(
    client: ProbeClient, route: Route, reference: Reference, family: str, label: str, token: str
) -> Attempt:
    response = client.request(
        route.method, route.path, headers={"Authorization": f"Bearer {token}"}, note=label
    )
    return Attempt(
        family, label, response.status_code, accepted(response, reference), client.exchanges[-1]
    )


def fetch_attempt(path: str) -> Attempt:
    from probes.harness.evidence import Exchange

    exchange = Exchange(
        method="GET", url=path, request_headers={}, request_body="", note="fetched by the target"
    )
    return Attempt("fetch", path, 0, True, exchange)


def judge(probe: Probe, attempts: dict[str, list[Attempt]], family: str) -> None:
    """A finding when any forgery of the family was accepted like the genuine identity."""
    tried = attempts.get(family)
    if tried is None:
        probe.skip(f"no {family} forgery could be built for this target")
    if not tried:
        probe.skip(f"nothing to forge with for {family} (no public key published)")
    taken = [a for a in tried if a.accepted]
    if taken:
        labels = "; ".join(a.label for a in taken)
        probe.finding(
            f"{len(taken)} of {len(tried)} forged tokens accepted: {labels}",
            [a.exchange for a in taken],
        )


def check(
    check_id: str, family: str, doc: str
) -> Callable[[Probe, dict[str, list[Attempt]]], None]:
    @pytest.mark.check(check_id)
    def test(probe: Probe, attempts: dict[str, list[Attempt]]) -> None:
        judge(probe, attempts, family)

    test.__doc__ = doc
    return test


test_alg_none_is_rejected = check(
    "JWT-ALG-NONE",
    "alg-none",
    "A vulnerable target accepts unsigned tokens (alg none, any casing).",
)
test_signature_is_verified = check(
    "JWT-SIGNATURE-NOT-VERIFIED",
    "signature",
    "A vulnerable target accepts a null or broken signature.",
)
test_blank_hmac_key_is_rejected = check(
    "JWT-BLANK-KEY",
    "blank-key",
    "A vulnerable target accepts tokens HMAC-signed with an empty key.",
)
test_public_key_is_not_an_hmac_secret = check(
    "JWT-KEY-CONFUSION",
    "key-confusion",
    "A vulnerable target verifies HS256 with its RSA/EC public key as the secret.",
)
test_embedded_jwk_is_not_trusted = check(
    "JWT-JWK-HEADER-TRUSTED",
    "jwk",
    "A vulnerable target verifies with the key embedded in the token's jwk header.",
)
test_kid_is_not_injectable = check(
    "JWT-KID-INJECTION",
    "kid",
    "A vulnerable target loads its key from a path or query built from kid.",
)
test_psychic_signature_is_rejected = check(
    "JWT-PSYCHIC-SIGNATURE",
    "psychic",
    "A vulnerable target accepts ECDSA signatures with r = s = 0 (CVE-2022-21449).",
)


@pytest.mark.check("JWT-JKU-INJECTION")
def test_jku_is_not_followed(probe: Probe, attempts: dict[str, list[Attempt]]) -> None:
    """A vulnerable target fetches keys from a jku URL the token names (SSRF), or trusts them."""
    judge_remote_key(probe, attempts, "jku", "/jwks.json")


@pytest.mark.check("JWT-X5U-INJECTION")
def test_x5u_is_not_followed(probe: Probe, attempts: dict[str, list[Attempt]]) -> None:
    """A vulnerable target fetches a certificate from the token's x5u URL (SSRF), or trusts it."""
    judge_remote_key(probe, attempts, "x5u", "/cert.pem")


def judge_remote_key(
    probe: Probe, attempts: dict[str, list[Attempt]], family: str, path: str
) -> None:
    if attempts.get("_listener") is None:
        probe.skip("the target is not on this host; the probe's listener binds to loopback only")
    fetched = [a for a in attempts["_fetches"] if a.label == path]
    if fetched:
        probe.finding(
            f"the target fetched {path} from the probe's listener (SSRF via {family})",
            [a.exchange for a in attempts[family]],
        )
    judge(probe, attempts, family)


@pytest.mark.check("JWT-FORGERY-SERVER-ERROR")
def test_forgeries_cause_no_server_error(probe: Probe, attempts: dict[str, list[Attempt]]) -> None:
    """A vulnerable target fails with 5xx on a forged token."""
    errors = [
        a
        for family, tried in attempts.items()
        if not family.startswith("_")
        for a in tried
        if a.status >= 500
    ]
    if errors:
        probe.finding(
            f"{len(errors)} forged tokens caused a server error: "
            + "; ".join(a.label for a in errors),
            [a.exchange for a in errors],
        )


@pytest.mark.check("JWT-CLAIMS-BEFORE-SIGNATURE")
def test_claims_are_not_used_before_the_signature(
    probe: Probe, client: ProbeClient, user_token: str, judge_route: Route
) -> None:
    """A vulnerable target reads claims of a badly signed token and reflects them back."""
    marker = f"probe-marker-{secrets.token_hex(6)}"
    header, claims, signature = split(user_token)
    for name in ("sub", "name", "email"):
        tampered = compact(header, {**claims, name: marker}, signature)
        response = client.request(
            judge_route.method,
            judge_route.path,
            headers={"Authorization": f"Bearer {tampered}"},
            note=f"marker in {name}",
        )
        if marker in response.text:
            probe.finding(
                f"a token with a broken signature had its {name} claim reflected in the answer",
                client.exchanges[-1:],
            )
