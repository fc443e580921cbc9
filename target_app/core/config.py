"""Settings, read from the environment and ``.env``, and the start-up refusals."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from target_app.flaws import FlawSet, parse_flaws

MIN_SECRET_BYTES = 32
# The seed article's secret; the weak_secret flaw puts it back.
WEAK_SECRET = "mysecretkey"
GENERATE_HINT = 'python -c "import secrets; print(secrets.token_hex(32))"'

ORIGINS_BY_ENVIRONMENT: dict[str, list[str]] = {
    "development": ["http://localhost:3000", "http://127.0.0.1:3000"],
    "test": ["https://app.example.com"],
    "staging": ["https://staging.example.com"],
    "production": ["https://app.example.com"],
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "staging", "production"] = "development"
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_private_key: SecretStr | None = Field(default=None, description="PEM, for RS256/ES256")
    access_token_minutes: int = Field(default=15, gt=0)
    refresh_token_days: int = Field(default=7, gt=0)

    allowed_origins: Annotated[list[str] | None, NoDecode] = None
    cors_allow_credentials: bool = True
    cors_max_age: int = Field(default=600, ge=0)

    database_url: str = "sqlite+aiosqlite:///./target_app.db"
    redis_url: str | None = None
    # Namespaces every Redis key, so several targets (or test runs) can share one server.
    redis_prefix: str = "target"
    workers: int = Field(default=1, ge=1, validation_alias="target_workers")
    flaws_spec: str = Field(default="", validation_alias="target_flaws")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    bcrypt_rounds: int = Field(default=12, ge=12, le=15)
    login_limit: str = "5/minute"
    password_reset_limit: str = "3/hour"
    verify_email_limit: str = "5/hour"
    export_limit: str = "10/hour"

    # Test aid, not a flaw: a random delay of 0..N ms on every login, to give the timing probe a
    # noisy target (it must then say inconclusive, never uniform).
    login_jitter_ms: int = Field(default=0, ge=0, le=5000)

    force_hsts: bool = False
    # Local-only: names the worker process in a response header, for the multi-worker probes.
    diagnostic_headers: bool = False

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @cached_property
    def flaws(self) -> FlawSet:
        return parse_flaws(self.flaws_spec)

    @property
    def origins(self) -> list[str]:
        if self.allowed_origins is not None:
            return self.allowed_origins
        return ORIGINS_BY_ENVIRONMENT[self.environment]

    @property
    def hmac_secret(self) -> bytes:
        if self.flaws.on("weak_secret"):
            return WEAK_SECRET.encode()
        assert self.jwt_secret is not None, "validate() runs before the secret is used"
        return self.jwt_secret.get_secret_value().encode()

    @property
    def uses_redis(self) -> bool:
        return self.redis_url is not None


def validate(settings: Settings) -> None:
    """Refuse to start on an unsafe configuration, unless a planted flaw asks for it."""
    flaws = settings.flaws
    if settings.jwt_algorithm == "HS256" and not flaws.on("weak_secret"):
        _check_secret(settings.jwt_secret)
    if settings.jwt_algorithm != "HS256" and settings.jwt_private_key is None:
        raise ConfigError(
            f"JWT_ALGORITHM={settings.jwt_algorithm} needs JWT_PRIVATE_KEY (a PEM private key)."
        )
    if flaws.on("key_confusion") and settings.jwt_algorithm != "RS256":
        raise ConfigError("the key_confusion flaw needs JWT_ALGORITHM=RS256.")
    wildcard = "*" in settings.origins
    if wildcard and settings.cors_allow_credentials and not flaws.on("cors_wildcard_credentials"):
        raise ConfigError(
            "ALLOWED_ORIGINS contains '*' while credentials are allowed: every origin would be "
            "trusted with credentials. List the exact origins instead."
        )
    if settings.workers > 1 and not settings.uses_redis:
        raise ConfigError(
            f"{settings.workers} workers need shared state: set REDIS_URL so that revocation and "
            "rate-limit counters are shared (per-process memory multiplies limits and loses "
            "logouts). `python -m target_app` starts an embedded Redis for you."
        )


def _check_secret(secret: SecretStr | None) -> None:
    if secret is None:
        raise ConfigError(f"JWT_SECRET is not set. Generate one with: {GENERATE_HINT}")
    if len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes. "
            f"Generate one with: {GENERATE_HINT}"
        )
