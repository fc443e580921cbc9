"""The CORS and OpenAPI-fuzz probes: the secure target, its CORS flaws, bad_sub_500, and a
sloppy fixture API (remote mode) served by uvicorn in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from target_app.core.cors import UNANCHORED_REGEX
from target_app.embedded_redis import free_port
from target_app.flaws import CATALOGUE
from tests.probes.audit import REPO, AuditRun, run_audit
from tests.probes.procs import processes_in_group

CORS = "probes/test_cors.py"
FUZZ = "probes/test_openapi_fuzz.py"
STATUS = "probes/test_status_codes.py"
CORS_CHECKS = {
    "CORS-ORIGIN-REFLECTED",
    "CORS-NULL-ORIGIN",
    "CORS-ORIGIN-BYPASS",
    "CORS-WILDCARD-CREDENTIALS",
    "CORS-PREFLIGHT-BROAD",
    "CORS-NO-VARY",
    "CORS-MAXAGE-EXCESSIVE",
    "CORS-TRUSTED-ORIGIN-REFUSED",
}
FUZZ_CHECKS = {"SERVER-ERROR", "OPENAPI-IGNORED-AUTH", "OPENAPI-STATUS-UNDOCUMENTED"}
CORS_FLAWS = [
    "cors_wildcard_credentials",
    "cors_null_origin",
    "cors_unanchored_regex",
    "cors_any_method_header",
]
# Every operation of target_app's OpenAPI document; locally all are fuzzed, state-changing too.
TARGET_OPERATIONS = {
    "GET /health",
    "GET /.well-known/jwks.json",
    "POST /auth/register",
    "POST /auth/login",
    "POST /auth/refresh",
    "POST /auth/logout",
    "POST /auth/password-reset",
    "POST /auth/verify-email",
    "GET /users/me",
    "GET /users/me/export",
    "GET /admin/users",
}
SIGNED_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
pytestmark = pytest.mark.audit


def result(run: AuditRun, check_id: str) -> dict[str, Any]:
    [found] = [r for r in run.results if r["check_id"] == check_id]
    return found


def among(found: set[str], checks: set[str]) -> set[str]:
    return found & checks


def assert_clean(run: AuditRun) -> None:
    assert run.with_verdict("error") == set(), run.output
    assert run.with_verdict("inconclusive") == set(), run.output


# --- the local target -----------------------------------------------------------------------


def test_secure_target_gives_no_cors_finding_and_no_server_error(tmp_path: Path) -> None:
    run = run_audit(tmp_path, [CORS, FUZZ])
    verdicts = run.verdicts()
    assert {c: verdicts[c] for c in CORS_CHECKS} == dict.fromkeys(CORS_CHECKS, "pass"), run.output
    assert_clean(run)
    assert verdicts["SERVER-ERROR"] == "pass", run.output
    assert verdicts["OPENAPI-IGNORED-AUTH"] == "pass", run.output
    # target_app documents its error answers (400, 401, 403, 409, 429, 503) as well.
    conformance = result(run, "OPENAPI-STATUS-UNDOCUMENTED")
    assert conformance["verdict"] == "pass", run.output
    fuzzed = result(run, "SERVER-ERROR")["data"]
    # The per-user export bucket is the rate-limit checks' to spend; everything else is fuzzed.
    assert set(fuzzed["operations"]) == TARGET_OPERATIONS - {"GET /users/me/export"}, fuzzed
    assert set(fuzzed["excluded"]) == {"GET /users/me/export"}, fuzzed
    assert fuzzed["cases"] >= 150, fuzzed  # 10 examples per operation and generation mode
    assert not any(int(status) >= 500 for status in fuzzed["statuses"]), fuzzed
    assert run.returncode == 0, run.output


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], AuditRun]:
    """The CORS probe against the local target with one flaw; each flaw audited once."""
    runs: dict[str, AuditRun] = {}

    def audit(flaw: str) -> AuditRun:
        if flaw not in runs:
            runs[flaw] = run_audit(tmp_path_factory.mktemp(flaw), [CORS], flaws=flaw)
        return runs[flaw]

    return audit


@pytest.mark.parametrize("flaw", CORS_FLAWS)
def test_cors_flaw_is_reported_by_exactly_its_checks(
    flawed: Callable[[str], AuditRun], flaw: str
) -> None:
    run = flawed(flaw)
    assert among(run.findings(), CORS_CHECKS) == set(CATALOGUE[flaw].detected_by), run.output
    assert_clean(run)
    severities = {r["severity"] for r in run.results if r["verdict"] == "finding"}
    blocking = severities & {"critical", "high", "medium"}  # the default --fail-on medium
    assert run.returncode == (1 if blocking else 0), run.output


def test_unanchored_regex_finding_names_the_exact_origins(
    flawed: Callable[[str], AuditRun],
) -> None:
    run = flawed("cors_unanchored_regex")
    bypass = result(run, "CORS-ORIGIN-BYPASS")
    accepted = {a["origin"] for a in bypass["data"]["accepted"]}
    # Exactly the look-alikes the regex matches, named in the finding's detail.
    assert accepted, bypass
    assert all(re.fullmatch(UNANCHORED_REGEX, origin) for origin in accepted), accepted
    assert {a["class"] for a in bypass["data"]["accepted"]} == {
        "suffix",
        "suffix of the domain",
        "arbitrary subdomain",
        "unescaped dot",
    }
    assert {"https://appxexample.com", "https://evilapp.example.com"} <= accepted
    for origin in accepted:
        assert origin in bypass["detail"], bypass["detail"]
    assert bypass["severity"] == "high"  # target_app allows credentials
    assert bypass["reproduce"].startswith("curl ")


def test_wildcard_flaw_is_high_on_every_kind_of_request(
    flawed: Callable[[str], AuditRun],
) -> None:
    reflected = result(flawed("cors_wildcard_credentials"), "CORS-ORIGIN-REFLECTED")
    assert reflected["severity"] == "high"
    kinds = {a["request"] for a in reflected["data"]["accepted"] if a["credentials"]}
    assert kinds == {"preflight", "actual request", "actual request with Cookie"}


def test_bad_sub_500_is_caught_by_the_status_probe(tmp_path: Path) -> None:
    run = run_audit(tmp_path, [STATUS, FUZZ], flaws="bad_sub_500")
    # Only a well-signed token with a non-UUID sub reaches the flaw; the fuzzer sends the
    # profile user's genuine token, so the status probe (grey box) is what catches it.
    assert run.findings() == set(CATALOGUE["bad_sub_500"].detected_by), run.output
    assert result(run, "SERVER-ERROR")["verdict"] == "pass", run.output
    assert_clean(run)


# --- a sloppy fixture API, remote mode --------------------------------------------------------

PROFILE = """\
name = "sloppy"
[login]
path = "/login"
format = "form"
failure_statuses = [401]
[routes]
protected = ["GET /me"]
[users.user]
username_env = "SLOPPY_USERNAME"
password_env = "SLOPPY_PASSWORD"
[expectations]
health = "/health"
"""
TRUSTED = 'cors_allowed_origins = ["https://app.sloppy.test"]\n'
OPENAPI = 'openapi = "/openapi.json"\n'
STATE_CHANGING = "[audit]\nopenapi_state_changing = true\n"
START_TIMEOUT = 30.0


@dataclass
class Sloppy:
    url: str
    env: dict[str, str]
    password: str

    def audit(self, tmp_path: Path, modules: list[str], profile: str) -> AuditRun:
        path = tmp_path / "sloppy.toml"
        path.write_text(profile)
        args = ["--base-url", self.url, "--target-profile", str(path)]
        return run_audit(tmp_path / "report", modules, extra=args, env=self.env)


def serve_sloppy(cors: str) -> Iterator[Sloppy]:
    port = free_port("127.0.0.1")
    password = f"pw-{os.urandom(9).hex()}"
    env = {"SLOPPY_USERNAME": "alice", "SLOPPY_PASSWORD": password}
    command = [
        sys.executable, "-m", "uvicorn", "tests.probes.apps.sloppy:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **env, "SLOPPY_CORS": cors},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url):
            assert process.poll() is None, "the sloppy API exited during start-up"
            assert time.monotonic() < deadline, "the sloppy API did not start"
            time.sleep(0.2)
        yield Sloppy(url, env, password)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        assert processes_in_group(process.pid) == []


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def starlette_wildcard() -> Iterator[Sloppy]:
    yield from serve_sloppy("starlette-wildcard")


@pytest.fixture(scope="module")
def hand_rolled() -> Iterator[Sloppy]:
    yield from serve_sloppy("hand-rolled")


def test_starlette_wildcard_with_credentials_is_high_with_or_without_cookie(
    tmp_path: Path, starlette_wildcard: Sloppy
) -> None:
    run = starlette_wildcard.audit(tmp_path, [CORS, FUZZ], PROFILE + TRUSTED + OPENAPI)
    # On the installed Starlette, allow_origins=["*"] with credentials reflects every origin.
    assert among(run.findings(), CORS_CHECKS) == {
        "CORS-ORIGIN-REFLECTED",
        "CORS-NULL-ORIGIN",
        "CORS-ORIGIN-BYPASS",
    }, run.output
    reflected = result(run, "CORS-ORIGIN-REFLECTED")
    assert reflected["severity"] == "high"
    granted = {(a["request"], a["credentials"]) for a in reflected["data"]["accepted"]}
    assert granted == {
        ("preflight", True),
        ("actual request", True),
        ("actual request with Cookie", True),
    }
    assert_clean(run)

    # The fuzzer reaches the 500 and the operation that ignores its declared security.
    assert among(run.findings(), FUZZ_CHECKS) >= {"SERVER-ERROR", "OPENAPI-IGNORED-AUTH"}
    server_error = result(run, "SERVER-ERROR")
    assert "GET /reports (500)" in server_error["detail"]
    assert server_error["reproduce"].startswith("curl -X GET ")
    assert "page=0" in server_error["reproduce"]
    ignored = result(run, "OPENAPI-IGNORED-AUTH")
    assert [f["operation"] for f in ignored["data"]["failures"]] == ["GET /notes"]
    assert "authorization" not in ignored["evidence"][0]["request_headers"]
    assert ignored["evidence"][0]["status"] == 200
    fuzzed = server_error["data"]
    assert list(fuzzed["excluded"]) == ["POST /login"]  # remote, not allowed
    assert "POST /login" not in fuzzed["operations"]

    text = (run.report_dir / "audit.json").read_text() + run.output
    assert starlette_wildcard.password not in text
    assert SIGNED_JWT.findall(text) == []
    assert run.returncode == 1, run.output


def test_without_trusted_origins_only_origin_free_checks_run(
    tmp_path: Path, starlette_wildcard: Sloppy
) -> None:
    run = starlette_wildcard.audit(tmp_path, [CORS, FUZZ], PROFILE + OPENAPI + STATE_CHANGING)
    verdicts = run.verdicts()
    assert among(run.findings(), CORS_CHECKS) == {"CORS-ORIGIN-REFLECTED", "CORS-NULL-ORIGIN"}
    for check in ("CORS-ORIGIN-BYPASS", "CORS-PREFLIGHT-BROAD", "CORS-TRUSTED-ORIGIN-REFUSED"):
        assert verdicts[check] == "skipped", run.output
        assert "cors_allowed_origins" in result(run, check)["reason"]
    assert_clean(run)
    # The profile allows state-changing operations: the login is fuzzed too.
    fuzzed = result(run, "SERVER-ERROR")["data"]
    assert fuzzed["excluded"] == {}
    assert fuzzed["operations"]["POST /login"] > 0


def test_hand_rolled_cors_wildcard_credentials_no_vary_and_long_max_age(
    tmp_path: Path, hand_rolled: Sloppy
) -> None:
    run = hand_rolled.audit(tmp_path, [CORS, FUZZ], PROFILE + TRUSTED)
    assert among(run.findings(), CORS_CHECKS) == {
        "CORS-WILDCARD-CREDENTIALS",
        "CORS-NO-VARY",
        "CORS-MAXAGE-EXCESSIVE",
    }, run.output
    assert "86400" in result(run, "CORS-MAXAGE-EXCESSIVE")["detail"]
    # Without an OpenAPI document in the profile, the fuzz checks skip and say why.
    for check in FUZZ_CHECKS:
        assert result(run, check)["verdict"] == "skipped"
        assert "expectations.openapi" in result(run, check)["reason"]
    assert_clean(run)


# --- bench: at least 1,000 fuzz cases on the secure target ------------------------------------

BENCH_ENV = "PROBES_FUZZ_BENCH"
# Per operation and generation mode: 8 operations x 2 modes x 70 + 2 without parameters = 1,122
# cases at most (the per-user export route is left to the rate-limit checks).
BENCH_EXAMPLES = 70


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get(BENCH_ENV), reason=f"a bench: set {BENCH_ENV}=1 to fuzz 1,000+ cases"
)
def test_thousand_fuzz_cases_on_the_secure_target_give_no_server_error(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_audit(
        tmp_path, [FUZZ], extra=["--audit-option", f"openapi_examples={BENCH_EXAMPLES}"]
    )
    fuzzed = result(run, "SERVER-ERROR")
    assert fuzzed["verdict"] == "pass", run.output
    assert result(run, "OPENAPI-IGNORED-AUTH")["verdict"] == "pass", run.output
    assert fuzzed["data"]["cases"] >= 1000, fuzzed["data"]
    assert_clean(run)
    print(json.dumps({"cases": fuzzed["data"]["cases"], "seconds": time.monotonic() - started}))
