"""The harness against a target that misbehaves: it must stay honest, bounded and clean.

The fixture API (``misbehaving.py``) is vulnerable in every way the status-code and header
families look at; the control run shows them report it. Then, for each way of misbehaving, the
same families (and the token families at full size) audit it in remote mode, and:

- no check that found a flaw in the control run ends in ``pass``: a failure never hides a flaw;
- where every request fails (drop, slow, redirect, a login answer of the wrong shape), every check
  ends in ``error`` with a reason that names what went wrong;
- where every other request fails (5xx), every check that does not report a finding says why it
  could not decide, naming the failed answer;
- nothing reached the other host a redirect pointed at;
- the run ends within its bound, and leaves no process behind and no secret in the report.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.probes.audit import AuditRun, run_audit
from tests.probes.procs import processes_mentioning
from tests.probes.test_no_secrets import SIGNED_JWT, forms
from tests.robustness.misbehaving import PROFILE, Misbehaving, misbehaving_api
from tests.robustness.scale import full_size

pytestmark = [pytest.mark.audit, pytest.mark.soak]

STATUS = "probes/test_status_codes.py"
HEADERS = "probes/test_security_headers.py"
TOKEN_FAMILIES = [
    "probes/test_token_lifetime.py",
    "probes/test_token_sessions.py",
    "probes/test_token_forgery.py",
    "probes/test_token_fuzz.py",
    "probes/test_token_secret.py",
]
FAMILIES = [STATUS, HEADERS, *(TOKEN_FAMILIES if full_size() else [])]

# By default the harness timeout is cut to 1.5 s (a test plugin) and the slow server waits 3 s;
# at full size the harness keeps its real 10 s timeout and the server waits 12 s.
SHORT_TIMEOUT = 1.5
SLOW_DELAY = 12.0 if full_size() else 3.0
RUN_BOUND = 900.0 if full_size() else 120.0

CONTROL = {
    "HDR-MISSING-NOSNIFF": "finding",
    "HDR-MISSING-FRAME-DENY": "finding",
    "HDR-MISSING-CSP": "finding",
    "HDR-MISSING-REFERRER-POLICY": "finding",
    "HDR-MISSING-CACHE-CONTROL": "finding",
    "HDR-SERVER-BANNER": "finding",
    "HDR-MISSING-HSTS": "skipped",
    "HDR-MISSING-ON-ERRORS": "skipped",
    "AUTHZ-403-FOR-UNAUTHENTICATED": "finding",
    "AUTHZ-NO-WWW-AUTHENTICATE": "finding",
    "AUTHZ-ROUTE-UNPROTECTED": "finding",
    "SERVER-ERROR-ON-BAD-TOKEN": "finding",
    "AUTHZ-401-FOR-FORBIDDEN": "finding",
    "AUTHZ-FUNCTION-LEVEL": "finding",
    "AUTHZ-INACTIVE-USER-ACCEPTED": "pass",  # the inactive user gets 401: refused, if wrongly
}
FLAWED = {check for check, verdict in CONTROL.items() if verdict == "finding"}

# Every request fails: each check must end in error, for this reason.
TOTAL_FAILURES = {
    "drop": r"target unreachable \(RemoteProtocolError: Server disconnected",
    "slow": r"ReadTimeout",
    "redirect": r"/auth/login answered 302 without a token",
    "html_login": r"/auth/login answered 200 but no JWT .*; the body is not JSON \(text/html\)",
    "token_elsewhere": (
        r"/auth/login answered 200 but no JWT .*; the response body holds no JWT; a JWT came in "
        r"the set-cookie, x-access-token header instead"
    ),
}
FAILED_ANSWER = re.compile(r"answered 5\d\d|the target failed instead of answering.*: 5\d\d")


def audit(tmp_path: Path, api: Misbehaving, behaviour: str) -> tuple[AuditRun, float]:
    profile = tmp_path / "misbehaving.toml"
    profile.write_text(PROFILE)
    extra = ["--base-url", api.url, "--target-profile", str(profile), "-rA"]
    env = api.env()
    if behaviour == "slow" and not full_size():
        extra += ["-p", "tests.robustness.short_timeout_plugin"]
        env["PROBES_TEST_TIMEOUT"] = str(SHORT_TIMEOUT)
    started = time.monotonic()
    run = run_audit(tmp_path / "report", FAMILIES, extra=extra, env=env)
    return run, time.monotonic() - started


def assert_bounded_clean_and_quiet(
    tmp_path: Path, api: Misbehaving, run: AuditRun, seconds: float
) -> None:
    assert seconds < RUN_BOUND, f"the audit took {seconds:.0f} s"
    assert api.elsewhere == {}, f"the harness followed a redirect off the target: {api.elsewhere}"
    assert processes_mentioning(str(tmp_path)) == []
    secrets = [value for secret in api.sensitive() for value in forms(secret)]
    for path in [p for p in run.report_dir.rglob("*") if p.is_file()]:
        text = path.read_text(errors="replace")
        assert [s[:10] for s in secrets if s in text] == [], path
        assert SIGNED_JWT.findall(text) == [], path
    assert [s[:10] for s in secrets if s in run.output] == []
    assert SIGNED_JWT.findall(run.output) == []


def test_control_run_reports_every_flaw_of_the_fixture(tmp_path: Path) -> None:
    with misbehaving_api("none") as api:
        run, seconds = audit(tmp_path, api, "none")
    verdicts = run.verdicts()
    assert {k: v for k, v in verdicts.items() if k in CONTROL} == CONTROL, run.output
    assert api.misbehaved == 0
    assert run.returncode == 1, run.output
    assert_bounded_clean_and_quiet(tmp_path, api, run, seconds)


@pytest.mark.parametrize("behaviour", list(TOTAL_FAILURES))
def test_a_target_that_always_fails_gives_only_errors(tmp_path: Path, behaviour: str) -> None:
    with misbehaving_api(behaviour, delay=SLOW_DELAY) as api:
        run, seconds = audit(tmp_path, api, behaviour)

    reason = re.compile(TOTAL_FAILURES[behaviour])
    assert run.results, run.output
    assert len(run.results) >= len(CONTROL)
    for result in run.results:
        assert result["verdict"] == "error", (result["check_id"], result["verdict"], run.output)
        assert reason.search(result["reason"] or ""), (result["check_id"], result["reason"])
    assert run.document["summary"]["pass"] == 0
    assert run.returncode == 1, run.output
    assert api.hits["POST /auth/login"] >= 1  # the harness really met the fault
    assert_bounded_clean_and_quiet(tmp_path, api, run, seconds)


@pytest.mark.parametrize("phase", [0, 1], ids=["first-fails", "second-fails"])
def test_intermittent_5xx_never_hides_a_flaw(tmp_path: Path, phase: int) -> None:
    with misbehaving_api("flaky", phase=phase) as api:
        run, seconds = audit(tmp_path, api, "flaky")

    assert api.misbehaved >= 2
    by_check = {r["check_id"]: r for r in run.results}
    assert set(CONTROL) <= set(by_check), run.output
    hidden = [c for c in FLAWED if by_check[c]["verdict"] == "pass"]
    assert hidden == [], run.output
    for result in run.results:
        if result["verdict"] == "pass":
            # Only a check that passes against the behaving fixture too (no flaw to hide), or a
            # token check (whose target the fixture does not make vulnerable).
            assert result["check_id"] not in FLAWED, result
        elif result["verdict"] in ("error", "inconclusive"):
            assert FAILED_ANSWER.search(result["reason"] or ""), (result["check_id"], result)
        elif result["verdict"] == "skipped":
            # A skip is a missing capability of the profile, never the failed answer.
            assert not FAILED_ANSWER.search(result["reason"] or ""), result
            assert result["check_id"] not in FLAWED, result
    assert run.returncode == 1, run.output
    assert_bounded_clean_and_quiet(tmp_path, api, run, seconds)
