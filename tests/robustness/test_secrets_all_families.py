"""After an audit of every probe family against a target full of flaws, no artifact and no line of
terminal output holds the JWT secret (or private key), a seeded password, or a full signed token.

Flaws are grouped into runs that can share a target (RS256 for key confusion, several workers for
the per-process flaws). By default one run (the largest group, lighter audit options); at
``SOAK_SCALE=1`` every group, with the default audit options. Complements
``tests/probes/test_no_secrets.py`` (two families, three flaws).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from probes.harness.launcher import KEY_FILE, ROLES
from target_app.core.config import WEAK_SECRET
from tests.probes.audit import run_audit
from tests.probes.test_no_secrets import forms, leaks
from tests.robustness.scale import full_size

pytestmark = [pytest.mark.audit, pytest.mark.soak]


@dataclass(frozen=True)
class Group:
    flaws: tuple[str, ...]
    algorithm: str = "HS256"
    workers: int = 2


GROUPS = {
    "hs256-many": Group(
        (
            "weak_secret",
            "alg_none",
            "long_lived_tokens",
            "type_confusion",
            "logout_noop",
            "refresh_reuse",
            "enumeration_message",
            "early_return_login",
            "memory_limiter",
            "no_retry_after",
            "cors_null_origin",
            "cors_any_method_header",
            "invalid_token_403",
            "bad_sub_500",
            "no_security_headers",
            "server_banner",
            "sensitive_routes_unlimited",
        )
    ),
    "rs256-many": Group(
        (
            "key_confusion",
            "jwk_header_trusted",
            "expired_accepted",
            "no_exp_required",
            "revocation_per_process",
            "refresh_inactive_user",
            "broken_dummy_hash",
            "xff_trusted",
            "cors_wildcard_credentials",
            "headers_missing_on_errors_and_preflight",
            "no_cache_control",
            "inactive_401",
            "no_www_authenticate",
        ),
        algorithm="RS256",
    ),
    "hs256-rest": Group(
        (
            "signature_unchecked",
            "kid_path_traversal",
            "no_login_limit",
            "login_delay_ms=20",
            "cors_unanchored_regex",
        ),
        workers=1,
    ),
}
RUN = list(GROUPS) if full_size() else ["hs256-many"]
# Lighter options by default: the fewest timing pairs, few OpenAPI examples per operation.
LIGHT = ["--audit-option", "timing_max_pairs=12", "--audit-option", "openapi_examples=3"]
# Families every run must have reached (a module that errors at import would hide a leak).
FAMILIES = {
    "probes/test_status_codes.py",
    "probes/test_security_headers.py",
    "probes/test_token_forgery.py",
    "probes/test_token_fuzz.py",
    "probes/test_token_lifetime.py",
    "probes/test_token_secret.py",
    "probes/test_token_sessions.py",
    "probes/test_cors.py",
    "probes/test_login_timing.py",
}


def key_material(secret: str) -> list[str]:
    """The HMAC secret, or each base64 line of a PEM private key (long enough to be unique)."""
    if "-----BEGIN" not in secret:
        return [secret]
    return [line for line in secret.splitlines() if len(line) >= 40 and "-----" not in line]


@pytest.mark.parametrize("name", RUN)
def test_full_audit_with_many_flaws_leaks_nothing(tmp_path: Path, name: str) -> None:
    group = GROUPS[name]
    workdir = tmp_path / "target"
    report_dir = tmp_path / "reports"
    run = run_audit(
        report_dir,
        ["probes"],
        flaws=",".join(group.flaws),
        workers=group.workers,
        extra=[
            "--target-algorithm",
            group.algorithm,
            "-rA",
            "-vv",
            *([] if full_size() else LIGHT),
        ],
        env={"PROBES_LOCAL_WORKDIR": str(workdir)},
    )

    families = {r["nodeid"].split("::")[0] for r in run.results}
    assert families >= FAMILIES, (families, run.output[-3000:])
    findings = [r for r in run.results if r["verdict"] == "finding"]
    # Many findings with evidence and reproductions (offline ones, like a cracked secret or a
    # lifetime read from a token, carry none): there was plenty to leak.
    shown = [r for r in findings if r["evidence"] and r["reproduce"]]
    assert len(shown) >= 10, run.output[-3000:]
    evidence = json.dumps([r["evidence"] for r in shown])
    assert "<signature-elided>" in evidence

    seeded = json.loads((workdir / "seed.json").read_text())
    assert len(seeded) == len(ROLES)
    secret = (workdir / KEY_FILE).read_text()
    sensitive = [(f"password of {u['email']}", f) for u in seeded for f in forms(u["password"])]
    sensitive += [("JWT key", f) for part in key_material(secret) for f in forms(part)]
    if "weak_secret" in group.flaws:
        # The secret really in use (and cracked by the audit) must not be printed either.
        sensitive += [("weak JWT secret", f) for f in forms(WEAK_SECRET)]

    artifacts = [p for p in report_dir.rglob("*") if p.is_file()]
    assert report_dir / "audit.json" in artifacts
    for path in artifacts:
        assert leaks(path.read_text(errors="replace"), sensitive) == [], path
    assert leaks(run.output, sensitive) == []
