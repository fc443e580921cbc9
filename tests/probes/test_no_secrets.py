"""No artifact, and no terminal output, holds a seeded password, the secret or a full JWT."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from probes.harness.launcher import KEY_FILE, ROLES
from tests.probes.audit import run_audit

STATUS = "probes/test_status_codes.py"
HEADERS = "probes/test_security_headers.py"
# Flaws that make findings (and so evidence, reproductions and long reports) in both families.
FLAWS = "no_security_headers,invalid_token_403,bad_sub_500"
# A compact JWS whose third segment, the signature, is not empty (an elided one starts with "<").
SIGNED_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
pytestmark = pytest.mark.audit


def leaks(text: str, secrets: list[tuple[str, str]]) -> list[str]:
    found = [f"{label}: {value}" for label, value in secrets if value in text]
    return found + [f"signed JWT: {token}" for token in SIGNED_JWT.findall(text)]


def forms(value: str) -> set[str]:
    """The ways a value can be written into an artifact: raw, JSON-escaped, URL-encoded."""
    return {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}


def test_leaks_finds_what_it_is_meant_to_find() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = f"password hunter2-xyz and {token} but not eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    assert leaks(text, [("password", "hunter2-xyz")]) == [
        "password: hunter2-xyz",
        f"signed JWT: {token}",
    ]
    elided = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.<signature-elided>"
    assert leaks(elided, [("password", "hunter2-xyz")]) == []


def test_no_password_secret_or_signed_token_in_any_artifact_or_output(tmp_path: Path) -> None:
    workdir = tmp_path / "target"
    report_dir = tmp_path / "reports"
    run = run_audit(
        report_dir,
        [STATUS, HEADERS],
        flaws=FLAWS,
        extra=["-rA", "-vv"],  # the longest terminal output: every report section
        env={"PROBES_LOCAL_WORKDIR": str(workdir)},
    )
    # The run did produce evidence-carrying findings in both families, so there was something
    # to leak.
    findings = [r for r in run.results if r["verdict"] == "finding"]
    assert {r["check_id"] for r in findings} >= {
        "AUTHZ-403-FOR-UNAUTHENTICATED",
        "SERVER-ERROR-ON-BAD-TOKEN",
        "HDR-MISSING-NOSNIFF",
    }, run.output
    assert all(r["evidence"] and r["reproduce"] for r in findings)
    evidence = json.dumps([r["evidence"] for r in findings])
    assert "<signature-elided>" in evidence  # tokens were shown, with their signatures elided
    assert "Bearer eyJ" in evidence

    seeded = json.loads((workdir / "seed.json").read_text())
    secret = (workdir / KEY_FILE).read_text()
    assert len(seeded) == len(ROLES)
    assert len(secret) >= 32
    secrets = [(f"password of {u['email']}", form) for u in seeded for form in forms(u["password"])]
    secrets += [("JWT secret", form) for form in forms(secret)]

    artifacts = [p for p in report_dir.rglob("*") if p.is_file()]
    assert report_dir / "audit.json" in artifacts
    for path in artifacts:
        assert leaks(path.read_text(errors="replace"), secrets) == [], path
    assert leaks(run.output, secrets) == []
