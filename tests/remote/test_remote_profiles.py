"""Remote mode: the shipped example profiles audit the fixture APIs they describe.

Each audit runs the status-code and header probes in a subprocess, as ``make audit URL=...
PROFILE=...`` does, and the assertions read its ``audit.json`` and what the fixture API saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.harness.auth import LoginFailed, log_in
from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.profile import Profile, load_profile
from tests.probes.audit import AuditRun, run_audit
from tests.remote.conftest import Served

STATUS = "probes/test_status_codes.py"
HEADERS = "probes/test_security_headers.py"
pytestmark = pytest.mark.audit

STATUS_CHECKS = (
    "AUTHZ-403-FOR-UNAUTHENTICATED",
    "AUTHZ-NO-WWW-AUTHENTICATE",
    "AUTHZ-ROUTE-UNPROTECTED",
    "SERVER-ERROR-ON-BAD-TOKEN",
    "AUTHZ-401-FOR-FORBIDDEN",
    "AUTHZ-FUNCTION-LEVEL",
    "AUTHZ-INACTIVE-USER-ACCEPTED",
)
HEADER_CHECKS = (
    "HDR-MISSING-NOSNIFF",
    "HDR-MISSING-FRAME-DENY",
    "HDR-MISSING-CSP",
    "HDR-MISSING-REFERRER-POLICY",
    "HDR-MISSING-CACHE-CONTROL",
    "HDR-MISSING-HSTS",
    "HDR-SERVER-BANNER",
    "HDR-MISSING-ON-ERRORS",
)
ALL_PASS = dict.fromkeys(STATUS_CHECKS + HEADER_CHECKS, "pass")
HSTS_SKIP = "the target is served over http; HSTS is only demanded over https"
INACTIVE_SKIP = "no inactive user in the profile, or the target refuses it at login"
# The checks that need the user's token to be accepted before they can judge anything.
NEED_ACCEPTED_TOKEN = (
    "AUTHZ-ROUTE-UNPROTECTED",
    "AUTHZ-401-FOR-FORBIDDEN",
    "AUTHZ-FUNCTION-LEVEL",
    "HDR-MISSING-NOSNIFF",
    "HDR-MISSING-FRAME-DENY",
    "HDR-MISSING-CSP",
    "HDR-MISSING-REFERRER-POLICY",
    "HDR-MISSING-CACHE-CONTROL",
    "HDR-MISSING-ON-ERRORS",
)


def audit(tmp_path: Path, api: Served, profile: Path | None = None, *extra: str) -> AuditRun:
    args = ["--base-url", api.url, "--target-profile", str(profile or api.profile), *extra]
    return run_audit(tmp_path / "report", [STATUS, HEADERS], extra=args, env=api.env)


def reasons(run: AuditRun) -> dict[str, str | None]:
    return {r["check_id"]: r["reason"] for r in run.results}


def variant(tmp_path: Path, api: Served, old: str, new: str) -> Path:
    """The shipped profile with one line changed, to show what a wrong description does."""
    text = api.profile.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / f"variant-{api.profile.name}"
    path.write_text(text.replace(old, new))
    return path


def assert_nothing_sensitive_written(run: AuditRun, api: Served) -> None:
    files = [path for path in run.report_dir.rglob("*") if path.is_file()]
    assert run.report_dir / "audit.json" in files
    sensitive = api.sensitive()
    assert len(api.ledger.issued) >= 1 and all(len(value) >= 16 for value in sensitive)
    for path in files:
        text = path.read_text(errors="replace")
        leaked = [value[:12] + "…" for value in sensitive if value in text]
        assert not leaked, f"{path} holds a password, the key or a full token: {leaked}"


# --- the shipped profiles against the APIs they describe -----------------------------------------


def test_conduit_profile_audits_its_api(tmp_path: Path, conduit_api: Served) -> None:
    run = audit(tmp_path, conduit_api)

    assert run.verdicts() == {
        **ALL_PASS,
        "AUTHZ-INACTIVE-USER-ACCEPTED": "skipped",
        "HDR-MISSING-HSTS": "skipped",
    }, run.output
    assert reasons(run)["AUTHZ-INACTIVE-USER-ACCEPTED"] == INACTIVE_SKIP
    assert reasons(run)["HDR-MISSING-HSTS"] == HSTS_SKIP
    assert run.document["target"] == {
        "url": conduit_api.url,
        "mode": "remote",
        "profile": "conduit",
        "flaws": [],
        "workers": None,
    }
    assert run.returncode == 0, run.output

    seen = conduit_api.ledger
    user = conduit_api.users["user"]
    # The nested JSON template delivered the right credentials: the user got in, and the inactive
    # user was turned away for being inactive (not for a malformed body or a wrong password).
    assert seen.logins_ok[user.username] >= 1
    assert set(seen.logins_refused) == {"inactive"}
    assert conduit_api.users["inactive"].username not in seen.logins_ok
    # The token travelled as "Authorization: Token ...", never as Bearer, and was accepted.
    assert set(seen.auth_schemes) == {"Token"}
    assert seen.auth_accepted[user.username] >= 1
    # The OpenAPI document added its secured GET operation; its PUT stayed untouched remotely.
    assert seen.hits["GET /api/articles/feed"] >= 1
    assert seen.hits["PUT /api/user"] == 0
    # The grey box key forged a non-UUID and an unknown "sub" for each of the three routes.
    assert seen.auth_rejected["unknown user"] == 2 * 3
    assert_nothing_sensitive_written(run, conduit_api)


def test_error_body_profile_audits_its_api(tmp_path: Path, error_body_api: Served) -> None:
    run = audit(tmp_path, error_body_api, None, "--fail-on", "low")

    # Secure but for the one planted issue: an X-Powered-By banner on every response.
    assert run.verdicts() == {
        **ALL_PASS,
        "HDR-SERVER-BANNER": "finding",
        "HDR-MISSING-HSTS": "skipped",
    }, run.output
    assert reasons(run)["HDR-MISSING-HSTS"] == HSTS_SKIP
    (banner,) = [r for r in run.results if r["verdict"] == "finding"]
    assert banner["detail"] == "banner headers: x-powered-by: error-body-fixture/1.0"
    assert banner["severity"] == "low"
    assert banner["evidence"]
    assert banner["reproduce"].startswith(f"curl -i -X GET {error_body_api.url}/api/me ")
    # --fail-on low makes the low-severity finding fail the run.
    assert run.returncode == 1, run.output

    seen = error_body_api.ledger
    user, suspended = error_body_api.users["user"], error_body_api.users["inactive"]
    # The plain "login"/"password" body: every login but the probe's deliberately broken one
    # parsed. The suspended user logged in, and was refused with 403 afterwards (a pass above).
    assert seen.logins_ok[user.username] >= 1
    assert seen.logins_ok[suspended.username] >= 1
    assert seen.logins_refused["malformed"] == 1
    # The header probe tripped the documented 5/minute login limit with unknown users, whose
    # failures this API answers 200 {"error": "invalid credentials"}; its 429 got checked too.
    assert seen.logins_refused["invalid"] == 5
    assert seen.logins_refused["rate limited"] >= 1
    # The refresh token, read at data.refresh, was offered as an access token and refused.
    assert seen.auth_rejected["refresh token used as access"] == 2
    assert set(seen.auth_schemes) == {"Bearer"}
    # expectations.health is the liveness route the harness polls.
    assert seen.hits["GET /healthz"] >= 1
    assert seen.hits["GET /"] == 0
    assert_nothing_sensitive_written(run, error_body_api)


# --- a profile that describes the API wrongly must not pass ---------------------------------------


def test_wrong_login_template_is_an_error_not_a_pass(tmp_path: Path, conduit_api: Served) -> None:
    flat = variant(
        tmp_path,
        conduit_api,
        """template = '{"user": {"email": "{username}", "password": "{password}"}}'""",
        """template = '{"email": "{username}", "password": "{password}"}'""",
    )
    run = audit(tmp_path, conduit_api, flat)

    assert run.verdicts() == dict.fromkeys(ALL_PASS, "error"), run.output
    for check_id, reason in reasons(run).items():
        assert reason is not None, check_id
        assert "login as 'user' failed: /api/users/login refused it (422)" in reason
        assert "login.template" in reason
    assert conduit_api.ledger.logins_ok == {}
    assert run.returncode == 1, run.output


def test_wrong_token_path_is_an_error_naming_the_right_one(
    tmp_path: Path, error_body_api: Served
) -> None:
    wrong = variant(tmp_path, error_body_api, 'access = "data.access"', 'access = "access"')
    run = audit(tmp_path, error_body_api, wrong)

    assert run.verdicts() == dict.fromkeys(ALL_PASS, "error"), run.output
    expected = (
        "login as 'user' failed: /api/login answered 200 but no JWT sits at "
        "tokens.access = 'access'; the response has one at 'data.access'"
    )
    assert all(expected in (reason or "") for reason in reasons(run).values()), run.output
    assert error_body_api.ledger.logins_ok[error_body_api.users["user"].username] >= 1
    assert run.returncode == 1, run.output


def test_wrong_scheme_is_inconclusive_not_a_pass_or_a_finding(
    tmp_path: Path, conduit_api: Served
) -> None:
    bearer = variant(tmp_path, conduit_api, 'scheme = "Token"', 'scheme = "Bearer"')
    run = audit(tmp_path, conduit_api, bearer)

    # Every request with a token is refused for its scheme, so nothing that needs an accepted
    # token may pass; the user's 401 on the admin route is not a 401-for-forbidden finding.
    assert run.verdicts() == {
        "AUTHZ-403-FOR-UNAUTHENTICATED": "pass",
        "AUTHZ-NO-WWW-AUTHENTICATE": "pass",
        "SERVER-ERROR-ON-BAD-TOKEN": "pass",
        "AUTHZ-INACTIVE-USER-ACCEPTED": "skipped",
        "HDR-MISSING-HSTS": "skipped",
        "HDR-SERVER-BANNER": "pass",
        **dict.fromkeys(NEED_ACCEPTED_TOKEN, "inconclusive"),
    }, run.output
    why = reasons(run)
    assert "saw [401]" in (why["AUTHZ-401-FOR-FORBIDDEN"] or "")
    assert "check tokens.scheme" in (why["AUTHZ-FUNCTION-LEVEL"] or "")
    assert why["HDR-MISSING-CSP"] == "the user response answered 401, not 2xx"
    assert set(conduit_api.ledger.auth_schemes) == {"Bearer"}
    assert conduit_api.ledger.auth_accepted == {}


# --- every role the profiles name works as described (in process, no audit) ----------------------


def session_client(api: Served, monkeypatch: pytest.MonkeyPatch) -> ProbeClient:
    for name, value in api.env.items():
        monkeypatch.setenv(name, value)
    return ProbeClient(api.url, Redactor(), budget=20)


def shipped_profile(api: Served, monkeypatch: pytest.MonkeyPatch) -> tuple[Profile, ProbeClient]:
    """The shipped profile, loaded with this API's credentials in the environment, and a client."""
    client = session_client(api, monkeypatch)
    return load_profile(api.profile), client


def test_conduit_profile_describes_every_role(
    conduit_api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, client = shipped_profile(conduit_api, monkeypatch)
    try:
        user, admin = log_in(client, profile, "user"), log_in(client, profile, "admin")
        assert user.scheme == "Token" and user.refresh is None
        assert client.get("/api/user", headers=user.headers()).json()["user"]["email"] == (
            conduit_api.users["user"].username
        )
        assert client.get("/api/admin/users", headers=user.headers()).status_code == 403
        assert client.get("/api/admin/users", headers=admin.headers()).status_code == 200
        with pytest.raises(LoginFailed, match=r"login as 'inactive' failed: .* refused it \(422\)"):
            log_in(client, profile, "inactive")
    finally:
        client.close()


def test_error_body_profile_describes_every_role(
    error_body_api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, client = shipped_profile(error_body_api, monkeypatch)
    try:
        user, admin = log_in(client, profile, "user"), log_in(client, profile, "admin")
        suspended = log_in(client, profile, "inactive")
        assert user.scheme == "Bearer" and user.refresh is not None
        assert client.get("/api/me", headers=user.headers()).json()["data"]["role"] == "user"
        assert client.get("/api/admin/stats", headers=user.headers()).status_code == 403
        assert client.get("/api/admin/stats", headers=admin.headers()).status_code == 200
        assert client.get("/api/me", headers=suspended.headers()).status_code == 403
        # The refresh endpoint and field the profile names give a working new access token.
        assert profile.endpoints.refresh is not None
        renewed = client.post(
            profile.endpoints.refresh, json={profile.endpoints.refresh_field: user.refresh}
        )
        access = renewed.json()["data"]["access"]
        assert client.get("/api/me", headers=user.headers(access)).status_code == 200
        # A wrong password is a 200 whose body carries the profile's failure text.
        login = error_body_api.users["user"].username
        wrong = client.post(profile.login.path, json={"login": login, "password": "not-it"})
        assert wrong.status_code == 200
        assert profile.login.failure_body_contains == "invalid credentials"
        assert wrong.json() == {"ok": False, "error": "invalid credentials"}
    finally:
        client.close()
