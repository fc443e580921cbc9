"""docs/profiles.md: its complete annotated profile parses, and names every field of the schema."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from probes.harness.profile import Profile, Route, parse_profile
from tests.remote.conftest import PROFILES

DOC = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"


def complete_profile() -> dict[str, Any]:
    section = DOC.read_text().split("## The complete annotated profile", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert match, "no toml block under 'The complete annotated profile'"
    return tomllib.loads(match.group(1))


def schema_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted field name of the schema, nested models (and lists of them) included."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        names.append(dotted)
        nested = _model_in(field.annotation)
        if nested is not None and nested is not Route:  # a route is written "METHOD /path"
            names += schema_fields(nested, f"{dotted}.")
    return names


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def present(data: Any, dotted: str) -> bool:
    """Whether the dotted name is set; for a list of tables, in at least one of them."""
    if isinstance(data, list):
        return any(present(item, dotted) for item in data)
    head, _, rest = dotted.partition(".")
    if not isinstance(data, dict) or head not in data:
        return False
    return present(data[head], rest) if rest else True


def test_complete_profile_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = complete_profile()
    users = raw["users"]
    for ref in users.values():
        monkeypatch.setenv(ref["username_env"], "someone@example.com")
        monkeypatch.setenv(ref["password_env"], "a-password-for-the-test")
    monkeypatch.setenv(raw["grey_box"]["secret_env"], "a-secret-for-the-test-of-32-bytes")

    profile = parse_profile(raw, source="docs/profiles.md")

    assert profile.login.template is not None and profile.tokens.scheme == "Token"
    assert set(users) == {"user", "admin", "inactive", "spare"}


def test_complete_profile_names_every_field() -> None:
    raw = complete_profile()
    missing = [name for name in schema_fields(Profile) if not present(raw, name)]
    assert not missing, f"docs/profiles.md's complete profile lacks: {missing}"


def test_docs_name_the_shipped_profiles() -> None:
    text = DOC.read_text()
    shipped = sorted(path.name for path in PROFILES.glob("*.toml"))
    assert shipped == ["conduit.toml", "error-body.toml"]
    for name in shipped:
        assert f"probes/profiles/{name}" in text
