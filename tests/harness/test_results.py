"""From pytest outcomes to verdicts, results, the --fail-on gate and audit.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from probes.harness.catalogue import CheckMeta
from probes.harness.results import Recorder, build_result, classify, to_json
from probes.harness.verdicts import (
    SEVERITIES,
    Finding,
    HarnessError,
    Inconclusive,
    TargetError,
    Verdict,
)

META = CheckMeta(
    check_id="HDR-MISSING-CSP",
    title="No CSP",
    severity="medium",
    cwe="CWE-693",
    owasp="API8:2023",
    remediation="Send a CSP.",
    probe="probes/test_security_headers.py",
)


def info(exc: BaseException) -> pytest.ExceptionInfo[BaseException]:
    """The ExceptionInfo pytest hands the report hook when a phase raised ``exc``."""
    try:
        raise exc
    except BaseException:
        return pytest.ExceptionInfo.from_current()


# --- classify -----------------------------------------------------------------------------------


def test_a_returning_check_passes() -> None:
    assert classify(None, "call", skipped=False, failed=False) == (Verdict.PASS, None)


def test_a_finding_in_the_call_is_a_finding() -> None:
    assert classify(info(Finding("x")), "call", False, True) == (Verdict.FINDING, None)


def test_a_finding_raised_outside_the_call_is_a_harness_error() -> None:
    verdict, reason = classify(info(Finding("x")), "setup", False, True)
    assert verdict is Verdict.ERROR
    assert reason == "harness error: Finding: x"


@pytest.mark.parametrize("when", ["setup", "call"])
def test_inconclusive_keeps_its_reason(when: str) -> None:
    exc = Inconclusive("timing too noisy")
    assert classify(info(exc), when, False, True) == (Verdict.INCONCLUSIVE, "timing too noisy")


@pytest.mark.parametrize("when", ["setup", "call"])
def test_an_unreachable_target_is_an_error_naming_the_target(when: str) -> None:
    exc = TargetError("the local target process has exited")
    assert classify(info(exc), when, False, True) == (
        Verdict.ERROR,
        "target error: the local target process has exited",
    )


@pytest.mark.parametrize(
    "exc", [ValueError("bad value"), HarnessError("budget exhausted"), AssertionError("oops")]
)
def test_anything_else_is_a_harness_error(exc: Exception) -> None:
    verdict, reason = classify(info(exc), "call", False, True)
    assert verdict is Verdict.ERROR
    assert reason == f"harness error: {type(exc).__name__}: {exc}"


def test_a_skip_keeps_its_reason() -> None:
    with pytest.raises(pytest.skip.Exception) as caught:
        pytest.skip("no refresh endpoint in the profile")
    assert classify(caught, "call", skipped=True, failed=False) == (
        Verdict.SKIPPED,
        "no refresh endpoint in the profile",
    )
    assert classify(None, "setup", skipped=True, failed=False) == (Verdict.SKIPPED, "skipped")


# --- build_result -------------------------------------------------------------------------------


def test_a_finding_result_carries_metadata_detail_evidence_and_reproduction() -> None:
    exc = Finding(
        "2 of 2 responses lack CSP",
        evidence=[{"method": "GET", "url": "http://127.0.0.1/x", "status": 200}],
        reproduce="curl -i -X GET http://127.0.0.1/x",
        confidence="medium",
        data={"missing": 2},
    )
    result = build_result(META, "probes/x.py::t", Verdict.FINDING, None, exc, 3, 0.12345)
    assert result.check_id == "HDR-MISSING-CSP"
    assert (result.title, result.cwe, result.owasp) == ("No CSP", "CWE-693", "API8:2023")
    assert result.remediation == "Send a CSP." and result.probe == META.probe
    assert result.severity == "medium"  # from the catalogue
    assert result.detail == "2 of 2 responses lack CSP"
    assert result.evidence == exc.evidence and result.reproduce == exc.reproduce
    assert result.confidence == "medium" and result.data == {"missing": 2}
    assert (result.requests, result.duration_s) == (3, 0.123)
    document = json.loads(to_json(result))
    assert document["verdict"] == "finding"


def test_a_finding_may_raise_its_severity() -> None:
    result = build_result(
        META, "n", Verdict.FINDING, None, Finding("worse", severity="critical"), 1, 0.0
    )
    assert result.severity == "critical"


def test_non_finding_results_carry_no_evidence() -> None:
    result = build_result(
        META, "n", Verdict.ERROR, "target error: gone", TargetError("gone"), 0, 0.0
    )
    assert (result.verdict, result.reason) == (Verdict.ERROR, "target error: gone")
    assert result.detail is None and result.evidence == [] and result.reproduce is None
    undecided = build_result(
        META, "n", Verdict.INCONCLUSIVE, "noisy", Inconclusive("noisy", data={"p": 0.2}), 0, 0.0
    )
    assert undecided.data == {"p": 0.2} and undecided.evidence == []


# --- Recorder: the gate, the summary and the report ---------------------------------------------


def result(verdict: Verdict, severity: str = "medium", check_id: str = "A-B") -> str:
    exc = Finding("found", severity=severity) if verdict is Verdict.FINDING else None
    reason = None if verdict in (Verdict.PASS, Verdict.FINDING) else f"{verdict} reason"
    meta = CheckMeta(check_id, "t", severity, "CWE-1", "API1:2023", "r", "probes/x.py")
    return to_json(build_result(meta, f"probes/x.py::{check_id}", verdict, reason, exc, 1, 0.0))


def recorder(tmp_path: Path, fail_on: str, *payloads: str) -> Recorder:
    made = Recorder(tmp_path / "reports", fail_on)
    for payload in payloads:
        made.add(payload)
    return made


@pytest.mark.parametrize("fail_on", SEVERITIES)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_the_gate_fails_on_a_finding_at_or_above_fail_on(
    tmp_path: Path, fail_on: str, severity: str
) -> None:
    gate = recorder(tmp_path, fail_on, result(Verdict.PASS), result(Verdict.FINDING, severity))
    at_or_above = SEVERITIES.index(severity) <= SEVERITIES.index(fail_on)
    assert gate.gate_failed() is at_or_above


@pytest.mark.parametrize("fail_on", SEVERITIES)
def test_the_gate_fails_on_any_error_whatever_fail_on(tmp_path: Path, fail_on: str) -> None:
    assert recorder(tmp_path, fail_on, result(Verdict.PASS), result(Verdict.ERROR)).gate_failed()


def test_the_gate_passes_on_passes_skips_and_inconclusives(tmp_path: Path) -> None:
    # DESIGN.md: the exit status fails on findings at or above --fail-on and on errors only;
    # an inconclusive is reported (below), never silently green.
    gate = recorder(
        tmp_path,
        "info",
        result(Verdict.PASS),
        result(Verdict.SKIPPED),
        result(Verdict.INCONCLUSIVE),
    )
    assert gate.gate_failed() is False
    assert any("INCONCLUSIVE" in line for line in gate.terminal_lines())


def test_summary_counts_every_verdict_and_findings_sort_by_severity(tmp_path: Path) -> None:
    made = recorder(
        tmp_path,
        "medium",
        result(Verdict.FINDING, "low", "Z-LOW"),
        result(Verdict.FINDING, "critical", "Y-CRIT"),
        result(Verdict.FINDING, "medium", "X-MED"),
        result(Verdict.PASS, check_id="P-ONE"),
        result(Verdict.ERROR, check_id="E-ONE"),
    )
    assert made.summary() == {
        "pass": 1,
        "finding": 3,
        "inconclusive": 0,
        "skipped": 0,
        "error": 1,
    }
    assert [r["check_id"] for r in made.findings()] == ["Y-CRIT", "X-MED", "Z-LOW"]
    lines = made.terminal_lines()
    assert lines[0] == "verdicts: 1 pass, 3 finding, 0 inconclusive, 0 skipped, 1 error"
    assert [line.split()[1] for line in lines[1:4]] == ["Y-CRIT:", "X-MED:", "Z-LOW:"]
    assert "E-ONE: error reason" in lines[4]


def test_write_produces_the_audit_document(tmp_path: Path) -> None:
    made = recorder(tmp_path, "high", result(Verdict.PASS, check_id="B-B"), result(Verdict.ERROR))
    made.target = {"url": "http://127.0.0.1:1", "mode": "local"}
    path = made.write()
    assert path == tmp_path / "reports" / "audit.json"
    document: dict[str, Any] = json.loads(path.read_text())
    assert set(document) >= {"tool", "target", "started", "finished", "summary", "results"}
    assert document["fail_on"] == "high"
    assert document["target"] == {"url": "http://127.0.0.1:1", "mode": "local"}
    assert document["summary"]["error"] == 1 and document["summary"]["pass"] == 1
    assert [r["check_id"] for r in document["results"]] == ["A-B", "B-B"]  # sorted by nodeid
    assert {r["verdict"] for r in document["results"]} == {"pass", "error"}
