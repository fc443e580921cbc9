"""The planted-flaw catalogue.

Each flaw reproduces one real mistake. It is switched on by name (``TARGET_FLAWS=a,b``), carries a
one-line description, and names the probe ``check_id``s that must report it (``detected_by``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flaw:
    name: str
    category: str
    description: str
    detected_by: tuple[str, ...]
    # The flaw only shows with several worker processes (per-process state).
    per_process: bool = False
    # The flaw takes a numeric value, e.g. ``login_delay_ms=20``.
    takes_value: bool = False
    # The flaw only exists under this signing algorithm family.
    requires_algorithm: str | None = None


_CATALOGUE: tuple[Flaw, ...] = (
    # --- JWT -------------------------------------------------------------------------------------
    Flaw(
        "alg_none", "jwt", "Unsigned tokens (alg none, any casing) are accepted.", ("JWT-ALG-NONE",)
    ),
    Flaw(
        "signature_unchecked",
        "jwt",
        "Token claims are read without verifying the signature (so every forgery works).",
        (
            "JWT-SIGNATURE-NOT-VERIFIED",
            "JWT-ALG-NONE",
            "JWT-BLANK-KEY",
            "JWT-JWK-HEADER-TRUSTED",
            "JWT-JKU-INJECTION",
            "JWT-X5U-INJECTION",
            "JWT-KID-INJECTION",
            "JWT-PSYCHIC-SIGNATURE",
            "JWT-FUZZ-ACCEPTED",
            # PyJWT skips nbf and iat checks along with the signature.
            "JWT-NBF-IGNORED",
            "JWT-IAT-FUTURE-ACCEPTED",
        ),
    ),
    Flaw(
        "weak_secret",
        "jwt",
        "HS256 secret is the dictionary word 'mysecretkey'; the start-up length check is bypassed.",
        ("JWT-WEAK-SECRET",),
    ),
    Flaw(
        "no_exp_required",
        "jwt",
        "Tokens are issued without exp, and tokens without exp are accepted.",
        ("JWT-NO-EXP", "JWT-EXP-NOT-REQUIRED"),
    ),
    Flaw(
        "long_lived_tokens",
        "jwt",
        "Access tokens live 7 days instead of 15 minutes.",
        ("JWT-ACCESS-LIFETIME-EXCESSIVE",),
    ),
    Flaw(
        "expired_accepted",
        "jwt",
        "A 24-hour leeway lets expired tokens through (and not-yet-valid ones).",
        ("JWT-EXPIRED-ACCEPTED", "JWT-NBF-IGNORED", "JWT-IAT-FUTURE-ACCEPTED"),
    ),
    Flaw(
        "type_confusion",
        "jwt",
        "The type claim is not checked: refresh works as access, access works at refresh.",
        ("JWT-TYPE-CONFUSION",),
    ),
    Flaw(
        "key_confusion",
        "jwt",
        "RS256 verifier trusts the header alg and uses the public key as an HMAC secret "
        "(python-jose < 3.4).",
        ("JWT-KEY-CONFUSION",),
        requires_algorithm="RS256",
    ),
    Flaw(
        "jwk_header_trusted",
        "jwt",
        "The verifier uses the key embedded in the token's jwk header.",
        ("JWT-JWK-HEADER-TRUSTED",),
    ),
    Flaw(
        "kid_path_traversal",
        "jwt",
        "The kid header is joined to a key directory unchecked and the file read as the HMAC key.",
        ("JWT-KID-INJECTION",),
    ),
    # --- Session ---------------------------------------------------------------------------------
    Flaw(
        "logout_noop",
        "session",
        "Logout answers 200 but revokes nothing (neither the access nor the refresh token).",
        ("JWT-LOGOUT-NOOP", "JWT-REFRESH-AFTER-LOGOUT"),
    ),
    Flaw(
        "revocation_per_process",
        "session",
        "Revoked jtis are kept in a per-process set, so other workers still accept them.",
        ("JWT-REVOCATION-NOT-SHARED",),
        per_process=True,
    ),
    Flaw(
        "revocation_fail_open",
        "session",
        "When Redis cannot be reached, the revocation check answers 'not revoked' (fail open).",
        ("JWT-REVOCATION-FAIL-OPEN",),
    ),
    Flaw(
        "refresh_inactive_user",
        "session",
        "Refresh does not check that the user still exists and is active.",
        ("JWT-REFRESH-INACTIVE-USER",),
    ),
    Flaw(
        "refresh_reuse",
        "session",
        "Refresh tokens are not rotated: an old refresh token keeps working.",
        ("JWT-REFRESH-REUSE",),
    ),
    # --- Login -----------------------------------------------------------------------------------
    Flaw(
        "early_return_login",
        "login",
        "Unknown users are rejected before any bcrypt work.",
        ("AUTH-TIMING-ENUMERATION",),
    ),
    Flaw(
        "broken_dummy_hash",
        "login",
        "Unknown users are checked against a malformed dummy hash, which bcrypt rejects at once.",
        ("AUTH-TIMING-ENUMERATION",),
    ),
    Flaw(
        "login_delay_ms",
        "login",
        "Known users get an extra delay of N ms (tunable, for measuring timing power).",
        ("AUTH-TIMING-ENUMERATION",),
        takes_value=True,
    ),
    Flaw(
        "enumeration_message",
        "login",
        "Unknown users get a different status and message than a wrong password.",
        ("AUTH-ENUMERATION-CONTENT",),
    ),
    # --- Rate limits -----------------------------------------------------------------------------
    Flaw("no_login_limit", "ratelimit", "The login route has no rate limit.", ("RL-MISSING",)),
    Flaw(
        "memory_limiter",
        "ratelimit",
        "Limiter counters live in each worker's memory, so the limit multiplies by the workers.",
        ("RL-MULTIPLIED",),
        per_process=True,
    ),
    Flaw(
        "xff_trusted",
        "ratelimit",
        "The limiter keys on a client-supplied X-Forwarded-For.",
        ("RL-BYPASS-HEADER",),
    ),
    Flaw(
        "sensitive_routes_unlimited",
        "ratelimit",
        "Only login is limited: password-reset, verify-email and export are not.",
        ("RL-MISSING",),
    ),
    Flaw(
        "no_retry_after", "ratelimit", "429 responses carry no Retry-After.", ("RL-NO-RETRY-AFTER",)
    ),
    # --- CORS ------------------------------------------------------------------------------------
    Flaw(
        "cors_wildcard_credentials",
        "cors",
        "allow_origins=['*'] with credentials: Starlette reflects any origin with credentials.",
        # Any origin includes null and every look-alike of the trusted one: each class reports.
        ("CORS-ORIGIN-REFLECTED", "CORS-NULL-ORIGIN", "CORS-ORIGIN-BYPASS"),
    ),
    Flaw("cors_null_origin", "cors", "The 'null' origin is allowed.", ("CORS-NULL-ORIGIN",)),
    Flaw(
        "cors_unanchored_regex",
        "cors",
        r"Origins are matched by the regex 'https://.*example.com' (unescaped dot, any prefix).",
        ("CORS-ORIGIN-BYPASS",),
    ),
    Flaw(
        "cors_any_method_header",
        "cors",
        "Preflights grant any method and any header.",
        ("CORS-PREFLIGHT-BROAD",),
    ),
    # --- Status codes ----------------------------------------------------------------------------
    Flaw(
        "invalid_token_403",
        "status",
        "A missing or invalid token gets 403 instead of 401.",
        ("AUTHZ-403-FOR-UNAUTHENTICATED",),
    ),
    Flaw(
        "inactive_401",
        "status",
        "An authenticated but inactive user gets 401 instead of 403.",
        ("AUTHZ-401-FOR-FORBIDDEN",),
    ),
    Flaw(
        "no_www_authenticate",
        "status",
        "401 responses carry no WWW-Authenticate header.",
        ("AUTHZ-NO-WWW-AUTHENTICATE",),
    ),
    Flaw(
        "bad_sub_500",
        "status",
        "A sub that is not a UUID raises an unhandled error (500).",
        ("SERVER-ERROR-ON-BAD-TOKEN",),
    ),
    # --- Headers ---------------------------------------------------------------------------------
    Flaw(
        "no_security_headers",
        "headers",
        "No security headers at all.",
        (
            "HDR-MISSING-NOSNIFF",
            "HDR-MISSING-FRAME-DENY",
            "HDR-MISSING-CSP",
            "HDR-MISSING-REFERRER-POLICY",
            "HDR-MISSING-CACHE-CONTROL",
        ),
    ),
    Flaw(
        "headers_missing_on_errors_and_preflight",
        "headers",
        "Security headers are set only on successful non-preflight responses.",
        ("HDR-MISSING-ON-ERRORS",),
    ),
    Flaw(
        "server_banner",
        "headers",
        "Server and X-Powered-By banners name the stack.",
        ("HDR-SERVER-BANNER",),
    ),
    Flaw(
        "no_cache_control",
        "headers",
        "Token and user responses carry no Cache-Control: no-store.",
        ("HDR-MISSING-CACHE-CONTROL",),
    ),
)

CATALOGUE: dict[str, Flaw] = {flaw.name: flaw for flaw in _CATALOGUE}


class UnknownFlawError(ValueError):
    """A flaw name that is not in the catalogue, or a malformed value."""


@dataclass(frozen=True)
class FlawSet:
    """The flaws switched on for one target, with their values (``None`` for plain switches)."""

    active: dict[str, int | None] = field(default_factory=dict)

    def on(self, name: str) -> bool:
        if name not in CATALOGUE:
            raise UnknownFlawError(f"no such flaw: {name!r}")
        return name in self.active

    def value(self, name: str, default: int = 0) -> int:
        value = self.active.get(name)
        return default if value is None else value

    @property
    def names(self) -> list[str]:
        return sorted(self.active)

    @property
    def per_process(self) -> bool:
        return any(CATALOGUE[name].per_process for name in self.active)

    def __str__(self) -> str:
        return ",".join(
            name if value is None else f"{name}={value}"
            for name, value in sorted(self.active.items())
        )


def parse_flaws(spec: str | None) -> FlawSet:
    """Parse ``"alg_none,login_delay_ms=20"``; unknown names raise with the list of valid ones."""
    active: dict[str, int | None] = {}
    for raw in (spec or "").split(","):
        item = raw.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        flaw = CATALOGUE.get(name)
        if flaw is None:
            valid = ", ".join(sorted(CATALOGUE))
            raise UnknownFlawError(f"unknown flaw {name!r}; valid flaws: {valid}")
        active[name] = _parse_value(flaw, value.strip())
    return FlawSet(active)


def _parse_value(flaw: Flaw, value: str) -> int | None:
    if not flaw.takes_value:
        if value:
            raise UnknownFlawError(f"flaw {flaw.name!r} takes no value")
        return None
    if not value.isdigit():
        raise UnknownFlawError(f"flaw {flaw.name!r} needs a whole number, e.g. {flaw.name}=20")
    return int(value)
