"""OpenAPI-driven fuzzing (schemathesis): no 5xx, no ignored auth, only documented statuses.

Runs only when the profile names the OpenAPI document (``expectations.openapi``). Cases go out
with a fresh login of the profile's user; state-changing operations are fuzzed on the local
target, and on a remote one only with ``audit.openapi_state_changing = true``. Depth is
``audit.openapi_examples`` per operation and generation mode (``--audit-option
openapi_examples=70`` gives over 1,000 cases on target_app).
"""

from __future__ import annotations

import pytest

from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.probe import Probe
from probes.harness.profile import Profile
from probes.harness.schemafuzz import (
    IGNORED_AUTH,
    SERVER_ERROR,
    UNDOCUMENTED,
    FuzzReport,
    UnusableSchema,
    fuzz,
)
from probes.harness.sessions import SessionPool
from probes.harness.target import Target
from probes.harness.verdicts import TargetError


@pytest.fixture(scope="module")
def fuzzed(target: Target, redactor: Redactor, sessions: SessionPool) -> FuzzReport:
    profile = target.profile
    path = profile.expectations.openapi
    if not path:
        pytest.skip("the profile names no OpenAPI document (expectations.openapi)")
    client = ProbeClient(target.base_url, redactor, budget=5)
    try:
        response = client.get(path, note="OpenAPI document")
        document = response.json() if response.is_success else None
    except (ValueError, TargetError):
        document = None
    finally:
        client.close()
    if not isinstance(document, dict) or "paths" not in document:
        pytest.skip(f"{path} did not answer an OpenAPI document (expectations.openapi)")
    # A login of its own: a fuzzed logout must not revoke the session other checks share.
    session = sessions.fresh("user")
    try:
        return run_fuzz(target, document, session.headers(), redactor)
    except UnusableSchema as exc:
        pytest.skip(f"schemathesis cannot use the OpenAPI document at {path}: {exc}")


def run_fuzz(
    target: Target, document: dict[str, object], auth_headers: dict[str, str], redactor: Redactor
) -> FuzzReport:
    profile, local = target.profile, target.mode == "local"
    return fuzz(
        document,
        target.base_url,
        auth_headers=auth_headers,
        redactor=redactor,
        examples=profile.audit.openapi_examples,
        state_changing=local or profile.audit.openapi_state_changing,
        leave_out=rate_limited(profile, local=local),
        source=target.sources.next() if local else None,
        last_paths={p for p in (profile.endpoints.logout,) if p},
    )


def rate_limited(profile: Profile, *, local: bool) -> dict[str, str]:
    """Routes whose limit buckets the rate-limit checks measure; fuzzing would spend them.

    Per-user buckets belong to the profile's users wherever the target runs. Per-client ones are
    only safe locally, where the fuzzer sends from a loopback address of its own.
    """
    reason = "rate-limited (expectations.sensitive_routes); left to the rate-limit checks"
    found = {
        str(limited.route): reason
        for limited in profile.expectations.sensitive_routes
        if limited.per_user or not local
    }
    if profile.expectations.login_limit and not local:
        found[f"POST {profile.login.path}"] = "the login limit (expectations.login_limit)"
    return found


def ran(probe: Probe, target: Target, report: FuzzReport) -> None:
    target.ensure_alive()
    excluded = f", left out: {', '.join(report.excluded)}" if report.excluded else ""
    probe.note(
        f"{report.cases} cases on {len(report.per_operation)} operations, "
        f"{report.requests} requests, seed {report.seed}{excluded}",
        report.summary(),
    )
    if report.harness_errors or report.invalid:
        probe.note(f"not fuzzed: {'; '.join((report.harness_errors + report.invalid)[:5])}")
    if report.exhausted:
        probe.note("the request budget ran out before every case was sent")
    if report.cases == 0:
        reasons = report.transport_errors[:3] + report.harness_errors[:3]
        probe.inconclusive(f"no generated case got an answer ({'; '.join(reasons) or 'none'})")


def report_failures(probe: Probe, report: FuzzReport, kind: str, what: str) -> None:
    failures = report.of_kind(kind)
    if not failures:
        return
    total = sum(f.count for f in failures)
    listed = ", ".join(
        f"{f.operation} ({f.status})" if f.status else f.operation for f in failures[:8]
    )
    more = f" and {len(failures) - 8} more" if len(failures) > 8 else ""
    probe.finding(
        f"{what}: {listed}{more} ({total} failing case{'' if total == 1 else 's'})",
        [exchange for f in failures for exchange in f.exchanges],
        data={**report.summary(), "failures": [f.summary() for f in failures]},
        reproduce=failures[0].reproduce,
    )


@pytest.mark.check("SERVER-ERROR")
def test_no_generated_request_causes_a_server_error(
    probe: Probe, target: Target, fuzzed: FuzzReport
) -> None:
    """A vulnerable target answers some schema-generated request with a 5xx."""
    ran(probe, target, fuzzed)
    report_failures(probe, fuzzed, SERVER_ERROR, "generated requests got a 5xx")


@pytest.mark.check("OPENAPI-IGNORED-AUTH")
def test_secured_operations_enforce_auth(probe: Probe, target: Target, fuzzed: FuzzReport) -> None:
    """A vulnerable target serves an operation it declares as secured without valid credentials."""
    ran(probe, target, fuzzed)
    report_failures(
        probe,
        fuzzed,
        IGNORED_AUTH,
        "secured operations served a request without valid credentials",
    )


@pytest.mark.check("OPENAPI-STATUS-UNDOCUMENTED")
def test_statuses_are_documented(probe: Probe, target: Target, fuzzed: FuzzReport) -> None:
    """A non-conforming target answers with statuses its OpenAPI document does not declare."""
    ran(probe, target, fuzzed)
    report_failures(probe, fuzzed, UNDOCUMENTED, "statuses the OpenAPI document does not declare")
