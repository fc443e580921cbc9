"""The status-code and security-header probes against the secure target and their planted flaws."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probes.audit import run_audit

STATUS = "probes/test_status_codes.py"
HEADERS = "probes/test_security_headers.py"
pytestmark = pytest.mark.audit


def test_secure_target_has_no_findings_and_no_errors(tmp_path: Path) -> None:
    run = run_audit(tmp_path, [STATUS, HEADERS], workers=2)
    summary = run.document["summary"]
    assert summary["finding"] == 0, run.output
    assert summary["error"] == 0, run.output
    assert summary["inconclusive"] == 0, run.output
    assert summary["pass"] >= 14
    # HSTS is the one honest skip over http.
    assert run.with_verdict("skipped") == {"HDR-MISSING-HSTS"}
    assert run.returncode == 0


@pytest.mark.parametrize(
    ("flaw", "modules", "expected"),
    [
        ("invalid_token_403", [STATUS], {"AUTHZ-403-FOR-UNAUTHENTICATED"}),
        ("inactive_401", [STATUS], {"AUTHZ-401-FOR-FORBIDDEN"}),
        ("no_www_authenticate", [STATUS], {"AUTHZ-NO-WWW-AUTHENTICATE"}),
        ("bad_sub_500", [STATUS], {"SERVER-ERROR-ON-BAD-TOKEN"}),
        (
            "no_security_headers",
            [HEADERS],
            {
                "HDR-MISSING-NOSNIFF",
                "HDR-MISSING-FRAME-DENY",
                "HDR-MISSING-CSP",
                "HDR-MISSING-REFERRER-POLICY",
                "HDR-MISSING-CACHE-CONTROL",
            },
        ),
        ("headers_missing_on_errors_and_preflight", [HEADERS], {"HDR-MISSING-ON-ERRORS"}),
        ("server_banner", [HEADERS], {"HDR-SERVER-BANNER"}),
        ("no_cache_control", [HEADERS], {"HDR-MISSING-CACHE-CONTROL"}),
    ],
)
def test_planted_flaw_is_reported_exactly(
    tmp_path: Path, flaw: str, modules: list[str], expected: set[str]
) -> None:
    run = run_audit(tmp_path, modules, flaws=flaw)
    assert run.findings() == expected, run.output
    assert run.with_verdict("error") == set(), run.output
    severities = {r["severity"] for r in run.results if r["verdict"] == "finding"}
    blocking = severities & {"critical", "high", "medium"}
    assert run.returncode == (1 if blocking else 0), run.output
