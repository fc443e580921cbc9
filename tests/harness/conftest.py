"""Fixtures shared by the harness tests."""

from __future__ import annotations

import pytest

from probes.harness.profile import Profile, parse_profile


@pytest.fixture
def profile(monkeypatch: pytest.MonkeyPatch) -> Profile:
    """The smallest remote profile: one user from the environment, one protected route."""
    monkeypatch.setenv("T_USER", "alice@example.test")
    monkeypatch.setenv("T_PASSWORD", "Pw-harness-test")
    return parse_profile(
        {
            "routes": {"protected": ["GET /users/me"]},
            "users": {"user": {"username_env": "T_USER", "password_env": "T_PASSWORD"}},
            "expectations": {"health": "/health"},
        }
    )
