"""Target profiles: parsing, one-line errors naming the field, dotted paths, login requests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from probes.harness.auth import login_request
from probes.harness.profile import (
    ProfileError,
    Route,
    credentials,
    dotted,
    load_profile,
    parse_profile,
)

ENV = {"T_USER": "alice@example.test", "T_PASSWORD": "Pw-profile-test", "T_KEY": "k" * 32}


def minimal() -> dict[str, Any]:
    return {
        "routes": {"protected": ["GET /users/me"]},
        "users": {"user": {"username_env": "T_USER", "password_env": "T_PASSWORD"}},
    }


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def problem(raw: dict[str, Any]) -> str:
    with pytest.raises(ProfileError) as caught:
        parse_profile(raw, source="my.toml")
    message = str(caught.value)
    assert "\n" not in message, message  # one line
    assert message.startswith("my.toml: "), message
    return message


# --- parsing ------------------------------------------------------------------------------------


def test_a_minimal_profile_gets_the_defaults() -> None:
    profile = parse_profile(minimal())
    assert profile.routes.protected == [Route(method="GET", path="/users/me")]
    assert profile.login.format == "form" and profile.login.path == "/auth/login"
    assert profile.tokens.access == "access_token" and profile.tokens.scheme == "Bearer"
    assert profile.users.admin is None and profile.grey_box is None
    assert credentials(profile.users.user) == (ENV["T_USER"], ENV["T_PASSWORD"])


def test_routes_parse_from_strings() -> None:
    raw = minimal()
    raw["routes"] = {"protected": ["/a", "post /b", "DELETE /c"], "admin": "GET /admin"}
    profile = parse_profile(raw)
    assert [str(r) for r in profile.routes.protected] == ["GET /a", "POST /b", "DELETE /c"]
    assert str(profile.routes.admin) == "GET /admin"


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        (lambda raw: raw.pop("routes"), "routes", "required field is missing"),
        (
            lambda raw: raw["users"]["user"].pop("password_env"),
            "users.user.password_env",
            "missing",
        ),
        (lambda raw: raw.update(colour="blue"), "colour", "unknown key"),
        (lambda raw: raw.update(login={"format": "json", "pth": "/x"}), "login.pth", "unknown key"),
        (lambda raw: raw.update(workers="four"), "workers", "valid integer"),
        (lambda raw: raw.update(workers=0), "workers", "greater than or equal to 1"),
        (
            lambda raw: raw.update(tokens={"scheme": "Basic"}),
            "tokens.scheme",
            "'Bearer' or 'Token'",
        ),
        (lambda raw: raw.update(login={"format": "xml"}), "login.format", "'form' or 'json'"),
        (lambda raw: raw["routes"].update(protected=[]), "routes.protected", "at least 1"),
        (lambda raw: raw["routes"].update(protected=["FETCH /x"]), "routes.protected.0", "method"),
        (lambda raw: raw["routes"].update(protected=["GET x"]), "routes.protected.0", "start with"),
        (
            lambda raw: raw.update(login={"format": "json", "template": '{"user": {"email": 1}}'}),
            "login.template",
            "{username} and {password}",
        ),
        (
            lambda raw: raw.update(login={"format": "json", "template": "{not json"}),
            "login.template",
            "not valid JSON",
        ),
    ],
)
def test_a_broken_profile_is_one_line_naming_the_field(change, field: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    raw = copy.deepcopy(minimal())
    change(raw)
    message = problem(raw)
    assert message.startswith(f"my.toml: {field}: "), message
    assert hint in message, message


@pytest.mark.parametrize(
    ("unset", "field"),
    [("T_PASSWORD", "users.user.password_env"), ("T_USER", "users.user.username_env")],
)
def test_an_unset_credential_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, unset: str, field: str
) -> None:
    monkeypatch.delenv(unset)
    message = problem(minimal())
    assert message.startswith(f"my.toml: {field}: environment variable {unset} is not set")
    assert f"export {unset}=" in message
    assert ENV["T_PASSWORD"] not in message


def test_an_unset_grey_box_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = minimal()
    raw["grey_box"] = {"secret_env": "T_KEY"}
    assert parse_profile(raw).grey_box is not None
    monkeypatch.delenv("T_KEY")
    message = problem(raw)
    assert message.startswith("my.toml: grey_box.secret_env: environment variable T_KEY is not")


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_PASSWORD", "")
    assert "T_PASSWORD is not set" in problem(minimal())


def test_load_profile_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"missing\.toml: cannot read it"):
        load_profile(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[routes\nprotected = 1")
    with pytest.raises(ProfileError, match=r"broken\.toml: not valid TOML"):
        load_profile(broken)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[routes]\nprotected = ["GET /x"]\n[users.user]\nusername_env = "T_USER"\n')
    with pytest.raises(ProfileError) as caught:
        load_profile(wrong)
    message = str(caught.value)
    assert message.startswith(f"{wrong}: users.user.password_env: required field is missing")
    assert "\n" not in message


def test_load_profile_reads_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "api.toml"
    path.write_text(
        """
name = "conduit"
base_url = "http://127.0.0.1:9000"
[login]
path = "/api/users/login"
format = "json"
template = '{"user": {"email": "{username}", "password": "{password}"}}'
[tokens]
access = "user.token"
scheme = "Token"
[routes]
protected = ["GET /api/user"]
[users.user]
username_env = "T_USER"
password_env = "T_PASSWORD"
[expectations]
login_limit = "5/minute"
sensitive_routes = [{ route = "POST /api/reset", limit = "3/hour" }]
"""
    )
    profile = load_profile(path)
    assert profile.tokens.access == "user.token" and profile.tokens.scheme == "Token"
    assert profile.expectations.sensitive_routes[0].route == Route(method="POST", path="/api/reset")


# --- dotted paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("token", "top"),
        ("user.token", "nested"),
        ("data.items.1.token", "second"),
        ("user.missing", None),
        ("user.token.deeper", None),  # a string has no fields
        ("data.items.5.token", None),  # out of range
        ("data.items.x", None),  # not an index
        ("", None),
    ],
)
def test_dotted_paths(path: str, expected: str | None) -> None:
    data = {
        "token": "top",
        "user": {"token": "nested"},
        "data": {"items": [{"token": "first"}, {"token": "second"}]},
    }
    assert dotted(data, path) == expected


# --- login requests -----------------------------------------------------------------------------


def test_form_login_request() -> None:
    profile = parse_profile(minimal())
    assert login_request(profile, "alice", "pw") == {
        "data": {"username": "alice", "password": "pw"}
    }


def test_json_login_request_with_custom_fields() -> None:
    raw = minimal()
    raw["login"] = {"format": "json", "username_field": "email", "password_field": "secret"}
    profile = parse_profile(raw)
    assert login_request(profile, "alice", "pw") == {"json": {"email": "alice", "secret": "pw"}}


def test_nested_json_template_login_request() -> None:
    raw = minimal()
    template = {"user": {"email": "{username}", "password": "{password}"}, "remember": True}
    raw["login"] = {"format": "json", "template": json.dumps(template)}
    profile = parse_profile(raw)
    # Values that would break naive string templating stay intact: quotes, braces, backslashes.
    password = 'p"w\\{x}'
    assert login_request(profile, "a@b.test", password) == {
        "json": {"user": {"email": "a@b.test", "password": password}, "remember": True}
    }
