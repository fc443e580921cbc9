"""Every planted flaw: its insecure behaviour is there when switched on, and absent when off.

Each test is registered with ``@shows(name)``; ``test_every_flaw_has_a_test`` keeps the catalogue
and this module in step. The per-process flaws (``memory_limiter``, ``revocation_per_process``) are
shown here with two app instances on one Redis; the multi-worker tests show them under uvicorn.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from target_app.core.config import WEAK_SECRET, ConfigError
from target_app.core.keys import generate_private_pem
from target_app.flaws import CATALOGUE, FlawSet, UnknownFlawError, parse_flaws
from target_app.main import create_app
from tests.conftest import PASSWORD, SEEDED, TargetFactory, bearer, login, make_settings
from tests.harness.servers import closed_port
from tests.target.support import (
    access_token,
    claims,
    forge,
    hmac_signed,
    hmac_valid,
    new_user_id,
    refresh_token,
    timed,
    two_instances,
    unsigned,
    unverified,
)

pytestmark = pytest.mark.anyio

F = TypeVar("F", bound=Callable[..., Any])
SHOWN: set[str] = set()


def shows(*names: str) -> Callable[[F], F]:
    """Mark a test as the demonstration of these flaws."""
    for name in names:
        assert name in CATALOGUE, name
    SHOWN.update(names)
    return lambda test: test


WRONG = {"username": SEEDED.active.email, "password": "not the password"}
EVIL = "https://evil.example.net"


@pytest.fixture
def alice(seeded_ids: dict[str, str]) -> str:
    return seeded_ids[SEEDED.active.email]


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/users/me", headers=bearer(token))


async def me_status(target: TargetFactory, flaws: str, token: str, **settings: Any) -> int:
    async with target(flaws=flaws, **settings) as client:
        return (await me(client, token)).status_code


# --- the catalogue itself ------------------------------------------------------------------------

REQUIRED_BY_ISSUE = {
    "alg_none", "signature_unchecked", "weak_secret", "no_exp_required", "long_lived_tokens",
    "expired_accepted", "type_confusion", "key_confusion", "jwk_header_trusted",
    "kid_path_traversal", "logout_noop", "revocation_per_process", "refresh_inactive_user",
    "refresh_reuse", "early_return_login", "broken_dummy_hash", "login_delay_ms",
    "enumeration_message", "no_login_limit", "memory_limiter", "xff_trusted",
    "sensitive_routes_unlimited", "no_retry_after", "cors_wildcard_credentials",
    "cors_null_origin", "cors_unanchored_regex", "cors_any_method_header", "invalid_token_403",
    "inactive_401", "no_www_authenticate", "bad_sub_500", "no_security_headers",
    "headers_missing_on_errors_and_preflight", "server_banner", "no_cache_control",
}  # fmt: skip
# Beyond the issue's list: each gives a catalogue check a flaw to catch.
EXTRA = {"revocation_fail_open"}
CHECK_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


def test_the_catalogue_holds_every_flaw_the_issue_asks_for() -> None:
    assert set(CATALOGUE) == REQUIRED_BY_ISSUE | EXTRA


def test_every_flaw_has_a_test() -> None:
    assert set(CATALOGUE) - SHOWN == set()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_flaw_is_described_and_names_its_checks(name: str) -> None:
    flaw = CATALOGUE[name]
    assert flaw.name == name
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    assert flaw.category in {"jwt", "session", "login", "ratelimit", "cors", "status", "headers"}
    assert flaw.description.strip()
    assert "\n" not in flaw.description
    assert flaw.detected_by
    assert [c for c in flaw.detected_by if not CHECK_ID.fullmatch(c)] == []


def test_the_per_process_flaws_are_marked() -> None:
    per_process = {name for name, flaw in CATALOGUE.items() if flaw.per_process}
    assert per_process == {"memory_limiter", "revocation_per_process"}
    assert parse_flaws("memory_limiter").per_process
    assert not parse_flaws("alg_none,logout_noop").per_process


def test_parse_flaws_reads_names_and_values() -> None:
    flaws = parse_flaws(" alg_none , ,login_delay_ms=20,")
    assert flaws.names == ["alg_none", "login_delay_ms"]
    assert flaws.on("alg_none")
    assert not flaws.on("logout_noop")
    assert flaws.value("login_delay_ms") == 20
    assert str(flaws) == "alg_none,login_delay_ms=20"
    assert parse_flaws(str(flaws)) == flaws
    assert parse_flaws("") == parse_flaws(None) == FlawSet()


def test_parse_flaws_rejects_an_unknown_name_and_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownFlawError) as raised:
        parse_flaws("alg_none,alg_nnoe")
    message = str(raised.value)
    assert "unknown flaw 'alg_nnoe'" in message
    assert "valid flaws:" in message
    assert all(name in message for name in CATALOGUE)


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("alg_none=1", "takes no value"),
        ("login_delay_ms", "needs a whole number"),
        ("login_delay_ms=abc", "needs a whole number"),
        ("login_delay_ms=-5", "needs a whole number"),
    ],
)
def test_parse_flaws_rejects_bad_values(spec: str, complaint: str) -> None:
    with pytest.raises(UnknownFlawError, match=complaint):
        parse_flaws(spec)


def test_asking_about_an_unknown_flaw_is_an_error() -> None:
    with pytest.raises(UnknownFlawError):
        parse_flaws("alg_none").on("no_such_flaw")


def test_the_target_refuses_to_start_with_an_unknown_flaw() -> None:
    with pytest.raises(UnknownFlawError, match="valid flaws"):
        create_app(make_settings(flaws="bogus"))


async def test_flaws_combine(target: TargetFactory, alice: str) -> None:
    token = access_token(alice)
    async with target(flaws="alg_none,no_security_headers,logout_noop") as client:
        forged = await me(client, unsigned(claims(alice)))
        await client.post("/auth/logout", headers=bearer(token))
        after_logout = await me(client, token)
    assert forged.status_code == 200
    assert after_logout.status_code == 200
    assert "X-Content-Type-Options" not in forged.headers


# --- JWT -----------------------------------------------------------------------------------------


@shows("alg_none")
async def test_alg_none(target: TargetFactory, alice: str) -> None:
    casings = ["none", "None", "NONE", "nOnE"]
    answers = {}
    for flaws in ("alg_none", ""):
        async with target(flaws=flaws) as client:
            answers[flaws] = [
                (await me(client, unsigned(claims(alice), alg))).status_code for alg in casings
            ]
    assert answers == {"alg_none": [200] * 4, "": [401] * 4}


@shows("signature_unchecked")
async def test_signature_unchecked(target: TargetFactory, seeded_ids: dict[str, str]) -> None:
    # Any key will do: here, an admin token signed with the attacker's own secret.
    token = forge(claims(seeded_ids[SEEDED.admin.email]), key="attacker-chosen-key" * 2)
    statuses = {}
    for flaws in ("signature_unchecked", ""):
        async with target(flaws=flaws) as client:
            statuses[flaws] = (await client.get("/admin/users", headers=bearer(token))).status_code
    assert statuses == {"signature_unchecked": 200, "": 401}


@shows("weak_secret")
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_weak_secret(target: TargetFactory, alice: str) -> None:
    forged = hmac_signed(claims(alice), WEAK_SECRET.encode())
    # The start-up check is bypassed: no secret is configured at all.
    async with target(flaws="weak_secret", jwt_secret=None) as client:
        issued = await login(client)
        accepted = await me(client, forged)
    assert hmac_valid(issued["access_token"], WEAK_SECRET.encode())
    assert accepted.status_code == 200
    # The secure target signs with its own secret and refuses the dictionary word.
    assert await me_status(target, "", forged) == 401


@shows("no_exp_required")
async def test_no_exp_required(target: TargetFactory, alice: str) -> None:
    payload = claims(alice)
    del payload["exp"]
    forever = forge(payload)
    async with target(flaws="no_exp_required") as client:
        issued = await login(client)
        accepted = await me(client, forever)
    assert "exp" not in unverified(issued["access_token"])
    assert "exp" not in unverified(issued["refresh_token"])
    assert accepted.status_code == 200
    assert await me_status(target, "", forever) == 401


@shows("long_lived_tokens")
async def test_long_lived_tokens(target: TargetFactory) -> None:
    lifetimes = {}
    for flaws in ("long_lived_tokens", ""):
        async with target(flaws=flaws) as client:
            access = unverified((await login(client))["access_token"])
        lifetimes[flaws] = access["exp"] - access["iat"]
    assert lifetimes == {"long_lived_tokens": 7 * 24 * 3600, "": 15 * 60}


@shows("expired_accepted")
async def test_expired_accepted(target: TargetFactory, alice: str) -> None:
    payload = claims(alice)
    payload["iat"] -= 2 * 3600
    payload["exp"] = payload["iat"] + 15 * 60  # expired 1h45m ago
    expired = forge(payload)
    assert await me_status(target, "expired_accepted", expired) == 200
    assert await me_status(target, "", expired) == 401


@shows("type_confusion")
async def test_type_confusion(target: TargetFactory, alice: str) -> None:
    answers = {}
    for flaws in ("type_confusion", ""):
        async with target(flaws=flaws) as client:
            refresh_as_access = await me(client, refresh_token(alice))
            access_at_refresh = await client.post(
                "/auth/refresh", json={"refresh_token": access_token(alice)}
            )
        answers[flaws] = (refresh_as_access.status_code, access_at_refresh.status_code)
    assert answers == {"type_confusion": (200, 200), "": (401, 401)}


@shows("key_confusion")
async def test_key_confusion(target: TargetFactory, alice: str) -> None:
    private_pem = generate_private_pem("RS256")
    rs256 = {"jwt_algorithm": "RS256", "jwt_private_key": private_pem}
    answers = {}
    for flaws in ("key_confusion", ""):
        async with target(flaws=flaws, **rs256) as client:
            # The attacker knows only the public key, from the JWKS, and uses it as an HMAC key.
            [jwk] = (await client.get("/.well-known/jwks.json")).json()["keys"]
            public_pem = jwt.PyJWK(jwk).key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            forged = hmac_signed(claims(alice), public_pem, headers={"kid": jwk["kid"]})
            answers[flaws] = (await me(client, forged)).status_code
    assert answers == {"key_confusion": 200, "": 401}


def test_key_confusion_needs_rs256() -> None:
    with pytest.raises(ConfigError, match="RS256"):
        create_app(make_settings(flaws="key_confusion"))


@shows("jwk_header_trusted")
async def test_jwk_header_trusted(target: TargetFactory, alice: str) -> None:
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    embedded = RSAAlgorithm.to_jwk(attacker_key.public_key(), as_dict=True)
    token = forge(claims(alice), attacker_key, "RS256", headers={"jwk": embedded})
    assert await me_status(target, "jwk_header_trusted", token) == 200
    assert await me_status(target, "", token) == 401


@shows("kid_path_traversal")
async def test_kid_path_traversal(target: TargetFactory, alice: str) -> None:
    # The kid walks out of the key folder to /dev/null: the HMAC key becomes empty.
    token = hmac_signed(claims(alice), b"", headers={"kid": "../" * 12 + "dev/null"})
    assert await me_status(target, "kid_path_traversal", token) == 200
    assert await me_status(target, "", token) == 401


# --- session -------------------------------------------------------------------------------------


@shows("logout_noop")
async def test_logout_noop(target: TargetFactory, alice: str) -> None:
    answers = {}
    for flaws in ("logout_noop", ""):
        token = access_token(alice)
        async with target(flaws=flaws) as client:
            logout = await client.post("/auth/logout", headers=bearer(token))
            assert logout.status_code == 200
            answers[flaws] = (await me(client, token)).status_code
    assert answers == {"logout_noop": 200, "": 401}


@shows("revocation_per_process")
async def test_revocation_per_process(
    target: TargetFactory, alice: str, redis_url: str, redis_prefix: str
) -> None:
    answers = {}
    for flaws in ("revocation_per_process", ""):
        token = access_token(alice)
        shared = {"redis_url": redis_url, "redis_prefix": f"{redis_prefix}:{flaws or 'secure'}"}
        async with two_instances(target, flaws=flaws, **shared) as (a, b):
            assert (await a.post("/auth/logout", headers=bearer(token))).status_code == 200
            answers[flaws] = ((await me(a, token)).status_code, (await me(b, token)).status_code)
    # The instance that logged out refuses the token either way; only a shared store tells the
    # other instance.
    assert answers == {"revocation_per_process": (401, 200), "": (401, 401)}


@shows("revocation_fail_open")
async def test_revocation_fail_open(
    target: TargetFactory, alice: str, redis_url: str, redis_prefix: str
) -> None:
    dead_redis = f"redis://127.0.0.1:{closed_port()}/0"
    answers = {}
    for flaws in ("revocation_fail_open", ""):
        token = access_token(alice)
        prefix = f"{redis_prefix}:{flaws or 'secure'}"
        async with target(flaws=flaws, redis_url=redis_url, redis_prefix=prefix) as client:
            assert (await client.post("/auth/logout", headers=bearer(token))).status_code == 200
            with_redis = (await me(client, token)).status_code
        async with target(flaws=flaws, redis_url=dead_redis, redis_prefix=prefix) as client:
            without_redis = (await me(client, token)).status_code
        answers[flaws] = (with_redis, without_redis)
    # Secure: the revocation check fails closed (503) while its store is unreachable.
    assert answers == {"revocation_fail_open": (401, 200), "": (401, 503)}


@shows("refresh_inactive_user")
async def test_refresh_inactive_user(target: TargetFactory, seeded_ids: dict[str, str]) -> None:
    token = refresh_token(seeded_ids[SEEDED.inactive.email])
    answers = {}
    for flaws in ("refresh_inactive_user", ""):
        async with target(flaws=flaws) as client:
            response = await client.post("/auth/refresh", json={"refresh_token": token})
        answers[flaws] = response.status_code
        if response.status_code == 200:
            assert (
                unverified(response.json()["access_token"])["sub"]
                == (seeded_ids[SEEDED.inactive.email])
            )
    assert answers == {"refresh_inactive_user": 200, "": 403}


@shows("refresh_reuse")
async def test_refresh_reuse(target: TargetFactory, alice: str) -> None:
    answers = {}
    for flaws in ("refresh_reuse", ""):
        token = refresh_token(alice)
        async with target(flaws=flaws) as client:
            first = await client.post("/auth/refresh", json={"refresh_token": token})
            assert first.status_code == 200
            replayed = await client.post("/auth/refresh", json={"refresh_token": token})
        answers[flaws] = replayed.status_code
    assert answers == {"refresh_reuse": 200, "": 401}


# --- login ---------------------------------------------------------------------------------------


async def login_medians(target: TargetFactory, flaws: str, samples: int = 3) -> tuple[float, float]:
    """Median seconds of a rejected login: (wrong password for a known user, unknown user)."""
    known, unknown = WRONG, {**WRONG, "username": "nobody@example.com"}
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    async with target(flaws=flaws, login_limit="1000/minute") as client:
        await client.post("/auth/login", data=unknown)  # warm-up
        for _ in range(samples):
            for name, form in (("known", known), ("unknown", unknown)):
                elapsed, response = await timed(client.post("/auth/login", data=form))
                assert response.status_code == 401
                times[name].append(elapsed)
    return statistics.median(times["known"]), statistics.median(times["unknown"])


@shows("early_return_login", "broken_dummy_hash", "login_delay_ms")
@pytest.mark.timing
async def test_login_timing_flaws(target: TargetFactory) -> None:
    # Off: both kinds of rejected login cost one bcrypt verify (test_timing.py measures closer).
    known, unknown = await login_medians(target, "")
    assert unknown > 0.6 * known, ("secure", known, unknown)
    assert known - unknown < 0.25, ("secure", known, unknown)
    # On: unknown users answer at once, without bcrypt ...
    for flaw in ("early_return_login", "broken_dummy_hash"):
        known, unknown = await login_medians(target, flaw)
        assert unknown < 0.25 * known, (flaw, known, unknown)
    # ... or known users pay an extra half second.
    known, unknown = await login_medians(target, "login_delay_ms=500")
    assert known - unknown > 0.4, ("login_delay_ms=500", known, unknown)


def test_the_broken_dummy_hash_is_refused_by_bcrypt_at_once() -> None:
    from target_app.core.passwords import BROKEN_DUMMY_HASH, PasswordHasher

    hasher = PasswordHasher(12)
    assert not hasher.verify("anything", BROKEN_DUMMY_HASH)
    # The secure target's dummy hash is a real one of the same cost.
    assert hasher.dummy_hash.startswith("$2b$12$")
    assert len(hasher.dummy_hash) == 60


@shows("enumeration_message")
async def test_enumeration_message(target: TargetFactory) -> None:
    unknown_user = {"username": "nobody@example.com", "password": PASSWORD}
    answers = {}
    for flaws in ("enumeration_message", ""):
        async with target(flaws=flaws) as client:
            wrong = await client.post("/auth/login", data=WRONG)
            unknown = await client.post("/auth/login", data=unknown_user)
        answers[flaws] = (wrong.status_code, wrong.text), (unknown.status_code, unknown.text)
    flawed_wrong, flawed_unknown = answers["enumeration_message"]
    assert flawed_wrong[0] == 401
    assert flawed_unknown == (404, '{"detail":"User not found"}')
    secure_wrong, secure_unknown = answers[""]
    assert secure_wrong == secure_unknown
    assert secure_wrong[0] == 401


# --- rate limits ---------------------------------------------------------------------------------


# The limit is checked before the password, so the rate-limit tests log in as an unknown user on
# a target that also has early_return_login: each attempt then costs no bcrypt. Only the flaw
# under test differs between the two runs.
CHEAP = "early_return_login"
UNKNOWN = {"username": "nobody@example.com", "password": "not the password"}


async def login_statuses(client: httpx.AsyncClient, attempts: int, **kwargs: Any) -> list[int]:
    return [
        (await client.post("/auth/login", data=UNKNOWN, **kwargs)).status_code
        for _ in range(attempts)
    ]


@shows("no_login_limit")
async def test_no_login_limit(target: TargetFactory) -> None:
    async with target(flaws=f"no_login_limit,{CHEAP}") as client:
        flawed = await login_statuses(client, 20)
    async with target(flaws=CHEAP) as client:
        secure = await login_statuses(client, 6)
    assert flawed == [401] * 20
    assert secure == [401] * 5 + [429]


@shows("memory_limiter")
async def test_memory_limiter(target: TargetFactory, redis_url: str, redis_prefix: str) -> None:
    answers = {}
    for flaws in ("memory_limiter", ""):
        shared = {"redis_url": redis_url, "redis_prefix": f"{redis_prefix}:{flaws or 'secure'}"}
        async with two_instances(target, flaws=f"{CHEAP},{flaws}", **shared) as (a, b):
            assert await login_statuses(a, 5) == [401] * 5
            answers[flaws] = (await login_statuses(a, 1), await login_statuses(b, 1))
    # Each instance limits its own clients; only shared counters make the second one see them.
    assert answers == {"memory_limiter": ([429], [401]), "": ([429], [429])}


@shows("xff_trusted")
async def test_xff_trusted(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("xff_trusted", ""):
        async with target(flaws=f"{CHEAP},{flaws}") as client:
            answers[flaws] = [
                (
                    await client.post(
                        "/auth/login", data=UNKNOWN, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                    )
                ).status_code
                for n in range(10)
            ]
    # A new claimed address per attempt escapes the limit only when the header is trusted.
    assert answers == {"xff_trusted": [401] * 10, "": [401] * 5 + [429] * 5}


@shows("sensitive_routes_unlimited")
async def test_sensitive_routes_unlimited(target: TargetFactory, alice: str) -> None:
    answers = {}
    for flaws in ("sensitive_routes_unlimited", ""):
        async with target(flaws=flaws) as client:
            resets = [
                (await client.post("/auth/password-reset", json={"email": "a@b.c"})).status_code
                for _ in range(4)
            ]
            verifications = [
                (await client.post("/auth/verify-email", json={"token": "t"})).status_code
                for _ in range(6)
            ]
            exports = [
                (
                    await client.get("/users/me/export", headers=bearer(access_token(alice)))
                ).status_code
                for _ in range(11)
            ]
        answers[flaws] = (resets[-1], verifications[-1], exports[-1])
        if flaws:
            assert set(resets) == set(verifications) == {202}
            assert set(exports) == {200}
    assert answers == {"sensitive_routes_unlimited": (202, 202, 200), "": (429, 429, 429)}


@shows("no_retry_after")
async def test_no_retry_after(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("no_retry_after", ""):
        async with target(flaws=flaws) as client:
            for _ in range(3):
                await client.post("/auth/password-reset", json={"email": "a@b.c"})
            limited = await client.post("/auth/password-reset", json={"email": "a@b.c"})
        assert limited.status_code == 429
        answers[flaws] = "Retry-After" in limited.headers
    assert answers == {"no_retry_after": False, "": True}


# --- CORS ----------------------------------------------------------------------------------------


async def cors_answers(
    target: TargetFactory, flaws: str, origin: str
) -> tuple[httpx.Response, httpx.Response]:
    """A credentialed simple request and a preflight, both from ``origin``."""
    async with target(flaws=flaws) as client:
        simple = await client.get("/health", headers={"Origin": origin, "Cookie": "session=1"})
        preflight = await client.options(
            "/users/me",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
    return simple, preflight


def granted(response: httpx.Response, origin: str) -> bool:
    """The browser would let a credentialed script from ``origin`` read this response."""
    return (
        response.headers.get("Access-Control-Allow-Origin") == origin
        and response.headers.get("Access-Control-Allow-Credentials") == "true"
    )


@shows("cors_wildcard_credentials", "cors_null_origin", "cors_unanchored_regex")
@pytest.mark.parametrize(
    ("flaw", "origins"),
    [
        ("cors_wildcard_credentials", [EVIL]),
        ("cors_null_origin", ["null"]),
        ("cors_unanchored_regex", ["https://evilexample.com", "https://attacker.examplezcom"]),
    ],
)
async def test_cors_origin_flaws(target: TargetFactory, flaw: str, origins: list[str]) -> None:
    for origin in origins:
        simple, preflight = await cors_answers(target, flaw, origin)
        assert granted(simple, origin), origin
        assert granted(preflight, origin), origin
        assert preflight.status_code == 200
        simple, preflight = await cors_answers(target, "", origin)
        assert "Access-Control-Allow-Origin" not in simple.headers
        assert "Access-Control-Allow-Origin" not in preflight.headers


@shows("cors_any_method_header")
async def test_cors_any_method_header(target: TargetFactory) -> None:
    request = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "X-Evil, X-Other",
    }
    answers = {}
    for flaws in ("cors_any_method_header", ""):
        async with target(flaws=flaws) as client:
            answers[flaws] = await client.options("/users/me", headers=request)
    flawed = answers["cors_any_method_header"]
    assert flawed.status_code == 200
    assert "DELETE" in flawed.headers["Access-Control-Allow-Methods"]
    assert "PUT" in flawed.headers["Access-Control-Allow-Methods"]
    assert flawed.headers["Access-Control-Allow-Headers"] == "X-Evil, X-Other"
    secure = answers[""]
    assert secure.status_code == 400
    assert "DELETE" not in secure.headers["Access-Control-Allow-Methods"]


# --- status codes --------------------------------------------------------------------------------


@shows("invalid_token_403")
async def test_invalid_token_403(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("invalid_token_403", ""):
        async with target(flaws=flaws) as client:
            missing = await client.get("/users/me")
            invalid = await me(client, "not-a-jwt")
        answers[flaws] = (missing.status_code, invalid.status_code)
    assert answers == {"invalid_token_403": (403, 403), "": (401, 401)}


@shows("inactive_401")
async def test_inactive_401(target: TargetFactory, seeded_ids: dict[str, str]) -> None:
    token = access_token(seeded_ids[SEEDED.inactive.email])
    assert await me_status(target, "inactive_401", token) == 401
    assert await me_status(target, "", token) == 403


@shows("no_www_authenticate")
async def test_no_www_authenticate(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("no_www_authenticate", ""):
        async with target(flaws=flaws) as client:
            response = await client.get("/users/me")
        assert response.status_code == 401
        answers[flaws] = response.headers.get("WWW-Authenticate")
    assert answers["no_www_authenticate"] is None
    assert answers[""] is not None
    assert answers[""].startswith("Bearer")


@shows("bad_sub_500")
async def test_bad_sub_500(target: TargetFactory) -> None:
    not_a_uuid, unknown_uuid = access_token("not-a-uuid"), access_token(new_user_id())
    answers = {}
    for flaws in ("bad_sub_500", ""):
        async with target(flaws=flaws) as client:
            answers[flaws] = (
                (await me(client, not_a_uuid)).status_code,
                (await me(client, unknown_uuid)).status_code,
            )
    # Only the non-UUID sub crashes the flawed target; an unknown UUID is a 401 either way.
    assert answers == {"bad_sub_500": (500, 401), "": (401, 401)}


# --- headers -------------------------------------------------------------------------------------

CORE_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


def has_security_headers(response: httpx.Response) -> bool:
    return all(name in response.headers for name in CORE_HEADERS)


@shows("no_security_headers")
async def test_no_security_headers(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("no_security_headers", ""):
        async with target(flaws=flaws) as client:
            response = await client.get("/health")
        answers[flaws] = {name: response.headers.get(name) for name in CORE_HEADERS}
    assert answers["no_security_headers"] == dict.fromkeys(CORE_HEADERS)
    assert None not in answers[""].values()


@shows("headers_missing_on_errors_and_preflight")
async def test_headers_missing_on_errors_and_preflight(target: TargetFactory) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    answers = {}
    for flaws in ("headers_missing_on_errors_and_preflight", ""):
        async with target(flaws=flaws) as client:
            responses = {
                "ok": await client.get("/health"),
                "401": await client.get("/users/me"),
                "404": await client.get("/nowhere"),
                "422": await client.post("/auth/register", json={}),
                "preflight": await client.options("/users/me", headers=preflight),
            }
        answers[flaws] = {name: has_security_headers(r) for name, r in responses.items()}
    assert answers["headers_missing_on_errors_and_preflight"] == {
        "ok": True,
        "401": False,
        "404": False,
        "422": False,
        "preflight": False,
    }
    assert answers[""] == dict.fromkeys(answers[""], True)


@shows("server_banner")
async def test_server_banner(target: TargetFactory) -> None:
    answers = {}
    for flaws in ("server_banner", ""):
        async with target(flaws=flaws) as client:
            response = await client.get("/health")
        answers[flaws] = (response.headers.get("Server"), response.headers.get("X-Powered-By"))
    assert answers == {"server_banner": ("uvicorn", "FastAPI"), "": (None, None)}


@shows("no_cache_control")
async def test_no_cache_control(target: TargetFactory, alice: str) -> None:
    answers = {}
    for flaws in ("no_cache_control", ""):
        async with target(flaws=flaws) as client:
            user = await me(client, access_token(alice))
            tokens = await client.post(
                "/auth/refresh", json={"refresh_token": refresh_token(alice)}
            )
        assert user.status_code == tokens.status_code == 200
        answers[flaws] = (user.headers.get("Cache-Control"), tokens.headers.get("Cache-Control"))
    assert answers == {"no_cache_control": (None, None), "": ("no-store", "no-store")}
