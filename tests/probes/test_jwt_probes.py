"""The JWT families (forgery, lifetime, secret, sessions, fuzz) against the secure target in each
signing mode, and against every JWT and session flaw: exactly the flaw's detected_by is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from target_app.flaws import CATALOGUE
from tests.probes.audit import run_audit

JWT_MODULES = [
    "probes/test_token_forgery.py",
    "probes/test_token_lifetime.py",
    "probes/test_token_secret.py",
    "probes/test_token_sessions.py",
    "probes/test_token_fuzz.py",
]
pytestmark = pytest.mark.audit

# Skips that are honest for the local target: the reason is the target's shape, not a gap.
EXPECTED_SKIPS = {
    "HS256": {"JWT-KEY-CONFUSION", "JWT-EXPIRED-REPLAY"},
    "RS256": {"JWT-WEAK-SECRET", "JWT-EXPIRED-REPLAY"},
    "ES256": {"JWT-WEAK-SECRET", "JWT-EXPIRED-REPLAY"},
}


@pytest.mark.parametrize(("algorithm", "workers"), [("HS256", 2), ("RS256", 1), ("ES256", 1)])
def test_secure_target_gives_no_finding_error_or_inconclusive(
    tmp_path: Path, algorithm: str, workers: int
) -> None:
    run = run_audit(tmp_path, JWT_MODULES, workers=workers, extra=["--target-algorithm", algorithm])
    summary = run.document["summary"]
    assert (summary["finding"], summary["error"], summary["inconclusive"]) == (0, 0, 0), run.output
    assert run.with_verdict("skipped") == EXPECTED_SKIPS[algorithm], run.output
    assert run.returncode == 0, run.output


JWT_FLAWS = [
    "alg_none",
    "signature_unchecked",
    "weak_secret",
    "no_exp_required",
    "long_lived_tokens",
    "expired_accepted",
    "type_confusion",
    "key_confusion",
    "jwk_header_trusted",
    "kid_path_traversal",
    "logout_noop",
    "revocation_per_process",
    "refresh_inactive_user",
    "refresh_reuse",
]


# The fuzzer draws random forgeries (alg none among them), so on a flaw that accepts some forged
# tokens it may also report them, or may not, run to run. That extra is true, and the only one
# allowed.
FUZZ_MAY_ALSO_CATCH = {"alg_none", "jwk_header_trusted", "kid_path_traversal", "key_confusion"}


@pytest.mark.parametrize("flaw", JWT_FLAWS)
def test_flaw_is_reported_by_exactly_its_checks(tmp_path: Path, flaw: str) -> None:
    spec = CATALOGUE[flaw]
    extra = ["--target-algorithm", spec.requires_algorithm] if spec.requires_algorithm else []
    workers = 4 if spec.per_process else 1
    run = run_audit(tmp_path, JWT_MODULES, flaws=flaw, workers=workers, extra=extra)
    findings = run.findings()
    if flaw in FUZZ_MAY_ALSO_CATCH:
        findings.discard("JWT-FUZZ-ACCEPTED")
    assert findings == set(spec.detected_by), run.output
    assert run.with_verdict("error") == set(), run.output
    assert run.with_verdict("inconclusive") == set(), run.output
    assert run.returncode == 1, run.output


def test_evidence_elides_forged_signatures_but_shows_unsigned_tokens(tmp_path: Path) -> None:
    run = run_audit(tmp_path, ["probes/test_token_forgery.py"], flaws="alg_none")
    [alg_none] = [r for r in run.results if r["check_id"] == "JWT-ALG-NONE"]
    headers = [e["request_headers"]["authorization"] for e in alg_none["evidence"]]
    assert headers, alg_none
    # Unsigned tokens are the evidence itself: shown as sent (empty signature after the dot),
    # while a kept original signature is elided.
    assert any(h.endswith(".") for h in headers), headers
    assert all(h.endswith(".") or h.endswith("<signature-elided>") for h in headers), headers
    assert alg_none["reproduce"].startswith("curl ")
