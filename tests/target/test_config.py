"""Configuration: read from the environment, and the start-up refusals with their messages."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from target_app.core.config import ConfigError, Settings, validate
from target_app.core.keys import generate_private_pem
from target_app.main import create_app
from tests.conftest import SECRET, make_settings

GENERATE_HINT = "secrets.token_hex(32)"


def refusal(**overrides: Any) -> str:
    """The message create_app refuses to start with (validate() says the same)."""
    settings = make_settings(**overrides)
    with pytest.raises(ConfigError) as validated:
        validate(settings)
    with pytest.raises(ConfigError) as created:
        create_app(settings)
    assert str(created.value) == str(validated.value)
    return str(created.value)


def test_refuses_a_missing_secret() -> None:
    message = refusal(jwt_secret=None)
    assert "JWT_SECRET is not set" in message
    assert GENERATE_HINT in message


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("x" * 31, id="31-bytes"),
        pytest.param("mysecretkey", id="seed-article-secret"),
        pytest.param("", id="empty"),
    ],
)
def test_refuses_a_secret_shorter_than_32_bytes(secret: str) -> None:
    message = refusal(jwt_secret=secret)
    assert "shorter than 32 bytes" in message
    assert GENERATE_HINT in message


def test_secret_length_counts_bytes_not_characters() -> None:
    # 16 characters, 32 bytes in UTF-8: long enough.
    validate(make_settings(jwt_secret="é" * 16))
    # 31 characters of one byte each: too short.
    assert "shorter than 32 bytes" in refusal(jwt_secret="a" * 31)


def test_accepts_a_32_byte_secret() -> None:
    validate(make_settings(jwt_secret="k" * 32))


def test_refuses_wildcard_origin_with_credentials() -> None:
    message = refusal(allowed_origins=["https://app.example.com", "*"])
    assert "'*'" in message
    assert "credentials" in message


def test_allows_wildcard_origin_without_credentials() -> None:
    validate(make_settings(allowed_origins=["*"], cors_allow_credentials=False))


def test_refuses_several_workers_without_shared_state() -> None:
    message = refusal(workers=4)
    assert "4 workers" in message
    assert "REDIS_URL" in message


def test_allows_several_workers_with_redis() -> None:
    validate(make_settings(workers=4, redis_url="redis://127.0.0.1:6379/0"))


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_refuses_an_asymmetric_algorithm_without_a_private_key(algorithm: str) -> None:
    assert "JWT_PRIVATE_KEY" in refusal(jwt_algorithm=algorithm)


def test_asymmetric_modes_need_no_hmac_secret() -> None:
    validate(
        make_settings(
            jwt_algorithm="ES256", jwt_private_key=generate_private_pem("ES256"), jwt_secret=None
        )
    )


def test_bcrypt_cost_below_12_is_refused() -> None:
    with pytest.raises(ValidationError, match="bcrypt_rounds"):
        make_settings(bcrypt_rounds=10)


def test_seeded_hashes_are_bcrypt_at_cost_12(seeded_db_template: Path) -> None:
    with closing(sqlite3.connect(seeded_db_template)) as db:
        hashes = [row[0] for row in db.execute("SELECT hashed_password FROM users")]
    assert len(hashes) == 3
    assert all(h.startswith("$2b$12$") and len(h) == 60 for h in hashes)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {
        "JWT_SECRET": SECRET,
        "ENVIRONMENT": "production",
        "ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com",
        "TRUSTED_PROXIES": "10.0.0.1,10.0.0.2",
        "TARGET_WORKERS": "3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "TARGET_FLAWS": "alg_none, login_delay_ms=20",
        "LOGIN_LIMIT": "7/minute",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    validate(settings)
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == SECRET
    assert settings.environment == "production"
    assert settings.origins == ["https://a.example.com", "https://b.example.com"]
    assert settings.trusted_proxies == ["10.0.0.1", "10.0.0.2"]
    assert settings.workers == 3
    assert settings.flaws.names == ["alg_none", "login_delay_ms"]
    assert settings.flaws.value("login_delay_ms") == 20
    assert settings.login_limit == "7/minute"
    # The secret never shows in the settings' text form.
    assert SECRET not in repr(settings)


def test_settings_read_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(f"JWT_SECRET={SECRET}\nENVIRONMENT=staging\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    validate(settings)
    assert settings.origins == ["https://staging.example.com"]


def test_environment_defaults_allow_no_wildcard() -> None:
    for environment in ("development", "test", "staging", "production"):
        origins = make_settings(environment=environment).origins
        assert origins
        assert "*" not in origins
        assert all(
            origin.startswith(("https://", "http://localhost", "http://127.")) for origin in origins
        )
