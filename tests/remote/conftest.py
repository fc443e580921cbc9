"""The two fixture APIs, each served on a free loopback port for one test, with its credentials."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from tests.remote.apps import conduit, error_body
from tests.remote.apps.common import Ledger, User, serve

PROFILES = Path(__file__).resolve().parents[2] / "probes" / "profiles"


@dataclass
class Served:
    """A running fixture API: its URL, what it saw, and what the shipped profile needs."""

    url: str
    ledger: Ledger
    profile: Path
    users: dict[str, User]  # profile role -> user
    env: dict[str, str]  # the variables the profile names, set to this API's values
    secret: str

    def sensitive(self) -> list[str]:
        """Everything that must never appear in a report: passwords, the key, every token."""
        return [u.password for u in self.users.values()] + [self.secret, *self.ledger.issued]


AppFactory = Callable[[list[User], str, Ledger], ASGIApp]


def _serve(
    factory: AppFactory,
    profile: str,
    users: dict[str, User],
    names: dict[str, tuple[str, str]],
    secret_env: str | None = None,
) -> Iterator[Served]:
    secret = secrets.token_hex(32)
    ledger = Ledger()
    env: dict[str, str] = {secret_env: secret} if secret_env else {}
    for role, (login_env, password_env) in names.items():
        env[login_env], env[password_env] = users[role].username, users[role].password
    with serve(factory(list(users.values()), secret, ledger)) as url:
        yield Served(url, ledger, PROFILES / profile, users, env, secret)


def _password() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture
def conduit_api() -> Iterator[Served]:
    users = {
        "user": User("jake@conduit.example", _password()),
        "admin": User("root@conduit.example", _password(), role="admin"),
        "inactive": User("gone@conduit.example", _password(), active=False),
    }
    names = {
        role: (f"CONDUIT_{role.upper()}_EMAIL", f"CONDUIT_{role.upper()}_PASSWORD")
        for role in users
    }
    yield from _serve(conduit.create_app, "conduit.toml", users, names, "CONDUIT_JWT_SECRET")


@pytest.fixture
def error_body_api() -> Iterator[Served]:
    users = {
        "user": User("alice", _password()),
        "admin": User("ops", _password(), role="admin"),
        "inactive": User("mallory", _password(), active=False),
    }
    names = {
        "user": ("SHOP_USER_LOGIN", "SHOP_USER_PASSWORD"),
        "admin": ("SHOP_ADMIN_LOGIN", "SHOP_ADMIN_PASSWORD"),
        "inactive": ("SHOP_SUSPENDED_LOGIN", "SHOP_SUSPENDED_PASSWORD"),
    }
    yield from _serve(error_body.create_app, "error-body.toml", users, names)
