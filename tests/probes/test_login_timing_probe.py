"""The login-timing probe against its planted flaws, the secure target, and a noisy target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probes.audit import run_audit

TIMING = ["probes/test_login_timing.py"]
pytestmark = [pytest.mark.audit, pytest.mark.timing]


@pytest.mark.parametrize(
    ("flaw", "expected"),
    [
        ("early_return_login", {"AUTH-TIMING-ENUMERATION"}),
        ("broken_dummy_hash", {"AUTH-TIMING-ENUMERATION"}),
        ("enumeration_message", {"AUTH-ENUMERATION-CONTENT"}),
    ],
)
def test_planted_login_flaw_is_caught(tmp_path: Path, flaw: str, expected: set[str]) -> None:
    run = run_audit(tmp_path, TIMING, flaws=flaw)
    assert run.findings() == expected, run.output
    assert run.with_verdict("error") == set(), run.output


def test_a_leak_carries_its_statistics_and_samples(tmp_path: Path) -> None:
    run = run_audit(tmp_path, TIMING, flaws="early_return_login")
    [result] = [r for r in run.results if r["check_id"] == "AUTH-TIMING-ENUMERATION"]
    data = result["data"]
    assert data["decision"] == "leak"
    assert data["p_value"] <= 1e-3
    assert data["median_diff_ms"] >= data["delta_ms"]
    assert data["ci_ms"][0] > 0
    assert data["aa_noise_ms"] is not None
    # Every arm has one sample per measured block; the leak was decided on the first pairs.
    arms = data["samples_ms"]
    assert len(arms["E"]) == len(arms["N"]) == len(arms["N2"]) == len(arms["L"]) >= data["pairs"]


@pytest.mark.parametrize("repeat", range(10))
def test_secure_target_is_uniform_every_time(tmp_path: Path, repeat: int) -> None:
    """A false-positive check: 10 of 10 runs on the secure target say uniform, none leak."""
    run = run_audit(tmp_path, TIMING)
    verdicts = run.verdicts()
    assert verdicts == {
        "AUTH-ENUMERATION-CONTENT": "pass",
        "AUTH-TIMING-ENUMERATION": "pass",
        "AUTH-TIMING-LONG-PASSWORD": "pass",
    }, run.output
    [result] = [r for r in run.results if r["check_id"] == "AUTH-TIMING-ENUMERATION"]
    assert result["data"]["decision"] == "uniform"


def test_noisy_target_is_inconclusive_never_uniform(tmp_path: Path) -> None:
    """A random 0..400 ms delay on every login, and a cap too small to see through it."""
    run = run_audit(
        tmp_path,
        TIMING,
        extra=["--audit-option", "timing_max_pairs=20"],
        env={"LOGIN_JITTER_MS": "400"},
    )
    assert run.verdicts()["AUTH-TIMING-ENUMERATION"] == "inconclusive", run.output
    assert run.verdicts()["AUTH-TIMING-LONG-PASSWORD"] == "inconclusive", run.output
    [result] = [r for r in run.results if r["check_id"] == "AUTH-TIMING-ENUMERATION"]
    assert "noisy" in result["reason"] or "could not decide" in result["reason"], result
