"""A broken profile stops pytest before any request: a usage error, one line naming field and fix.

Each case starts from the shipped ``conduit.toml``, breaks one thing, and points ``--base-url`` at
the running conduit fixture API, whose ledger must show that nothing reached it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from probes.harness.profile import ProfileError, load_profile
from tests.probes.audit import run_audit
from tests.remote.conftest import PROFILES, Served

USAGE_ERROR = 4
pytestmark = pytest.mark.audit


@dataclass(frozen=True)
class Broken:
    expected: tuple[str, ...]  # fragments of the one error line
    edit: tuple[str, str] = ("", "")  # replace edit[0] by edit[1]; ("", "") keeps the file as is
    exists: bool = True  # False: point --target-profile at a file that is not there
    unset: str | None = None  # an environment variable the profile names, left out
    names_line: bool = False  # the message gives the line of the edit


CASES = {
    "missing required field": Broken(
        (
            "conduit.toml: routes.protected: required field is missing; add it",
            "docs/profiles.md",
        ),
        ('protected = ["GET /api/user"]\n', ""),
    ),
    "wrong type": Broken(
        (
            "conduit.toml: expectations.access_max_lifetime: Input should be a valid integer",
            "got '15 minutes'",
        ),
        ("access_max_lifetime = 900", 'access_max_lifetime = "15 minutes"'),
    ),
    "unknown key": Broken(
        ("conduit.toml: tokens.acess: unknown key; did you mean 'access'?",),
        ('access = "user.token"', 'acess = "user.token"'),
    ),
    "inline password": Broken(
        (
            "conduit.toml: users.user.password: unknown key; a profile holds no credentials: "
            "set password_env to the name of an environment variable that holds it",
        ),
        ('password_env = "CONDUIT_USER_PASSWORD"', 'password = "hunter2hunter2"'),
    ),
    "nonexistent file": Broken(
        (
            "conduit.toml: cannot read it (No such file or directory)",
            "check the --target-profile path",
        ),
        exists=False,
    ),
    "invalid TOML": Broken(
        ("conduit.toml: not valid TOML (", "fix the syntax there"),
        ("[tokens]", "[tokens"),
        names_line=True,
    ),
    "credential variable not set": Broken(
        (
            "conduit.toml: users.user.password_env: environment variable CONDUIT_USER_PASSWORD "
            "is not set; export CONDUIT_USER_PASSWORD=... before running",
        ),
        unset="CONDUIT_USER_PASSWORD",
    ),
    "grey-box variable not set": Broken(
        (
            "conduit.toml: grey_box.secret_env: environment variable CONDUIT_JWT_SECRET is not "
            "set; export it or remove [grey_box]",
        ),
        unset="CONDUIT_JWT_SECRET",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_broken_profile_is_one_usage_error_line_and_no_traffic(
    tmp_path: Path, conduit_api: Served, case: Broken, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = conduit_api.profile.read_text()
    old, new = case.edit
    if old:
        assert text.count(old) == 1, old
    profile = tmp_path / "conduit.toml"
    if case.exists:
        profile.write_text(text.replace(old, new) if old else text)
    env = dict(conduit_api.env)
    if case.unset:
        del env[case.unset]
        monkeypatch.delenv(case.unset, raising=False)

    run = run_audit(
        tmp_path / "report",
        ["probes/test_status_codes.py", "probes/test_security_headers.py"],
        extra=["--base-url", conduit_api.url, "--target-profile", str(profile)],
        env=env,
    )

    assert run.returncode == USAGE_ERROR, run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert len(lines) == 1, run.output
    (line,) = lines
    assert line.startswith(f"ERROR: {profile}"), line
    for fragment in case.expected:
        assert fragment in line, line
    if case.names_line:
        assert f"(at line {text[: text.index(old)].count(chr(10)) + 1}," in line, line
    # Nothing was sent and nothing was written.
    assert conduit_api.ledger.requests == 0
    assert not (tmp_path / "report").exists()


def test_base_url_without_a_profile_is_a_usage_error(tmp_path: Path, conduit_api: Served) -> None:
    run = run_audit(
        tmp_path / "report", ["probes/test_status_codes.py"], extra=["--base-url", conduit_api.url]
    )

    assert run.returncode == USAGE_ERROR, run.output
    assert [line for line in run.output.splitlines() if line.strip()] == [
        "ERROR: --base-url needs --target-profile FILE describing the API (see docs/profiles.md)"
    ]
    assert conduit_api.ledger.requests == 0
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('scheme = "Token"', 'scheme = "JWT"'),
            "tokens.scheme: Input should be 'Bearer' or 'Token', got 'JWT'",
        ),
        (
            ('format = "json"', 'format = "form"'),
            'login: a template is a JSON body; set format = "json" or drop template',
        ),
        (
            ("[grey_box]\nsecret_env", "[grey_box]\nsecret"),
            "grey_box.secret: unknown key; a profile holds no credentials: set secret_env to the "
            "name of an environment variable that holds it",
        ),
        (
            ('protected = ["GET /api/user"]', 'protected = ["FETCH /api/user"]'),
            "routes.protected.0: method 'FETCH' is not one of",
        ),
    ],
)
def test_profile_problem_is_named_in_process(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    """More shapes of mistake, checked without a subprocess: the message names field and fix."""
    text = (PROFILES / "conduit.toml").read_text()
    assert text.count(edit[0]) == 1, edit[0]
    profile = tmp_path / "conduit.toml"
    profile.write_text(text.replace(*edit))
    with pytest.raises(ProfileError) as raised:
        load_profile(profile)
    assert str(raised.value).startswith(f"{profile}: {expected}"), raised.value
    assert "\n" not in str(raised.value)
