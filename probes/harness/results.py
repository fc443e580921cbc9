"""Turns pytest outcomes into verdicts, and the run into ``audit.json`` and a terminal summary."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from probes import __version__
from probes.harness.catalogue import CheckMeta
from probes.harness.client import sent_by_path, total_sent
from probes.harness.verdicts import (
    CheckResult,
    Finding,
    Inconclusive,
    TargetError,
    Verdict,
    severity_rank,
)

RESULT_KEY = "probe_result"


def classify(excinfo: Any, when: str, skipped: bool, failed: bool) -> tuple[Verdict, str | None]:
    """The verdict for one pytest phase outcome, and the reason when it is not pass/finding."""
    if skipped:
        reason = excinfo.value.msg if excinfo is not None and hasattr(excinfo.value, "msg") else ""
        return Verdict.SKIPPED, reason or "skipped"
    if not failed:
        return Verdict.PASS, None
    exc = excinfo.value if excinfo is not None else None
    if isinstance(exc, Finding) and when == "call":
        return Verdict.FINDING, None
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE, exc.reason
    if isinstance(exc, TargetError):
        return Verdict.ERROR, f"target error: {exc}"
    return Verdict.ERROR, f"harness error: {type(exc).__name__}: {exc}"


def build_result(
    meta: CheckMeta,
    nodeid: str,
    verdict: Verdict,
    reason: str | None,
    exc: BaseException | None,
    requests: int,
    duration: float,
    notes: list[str] | None = None,
    data: dict[str, Any] | None = None,
) -> CheckResult:
    result = CheckResult(
        check_id=meta.check_id,
        nodeid=nodeid,
        verdict=verdict,
        title=meta.title,
        severity=meta.severity,
        cwe=meta.cwe,
        owasp=meta.owasp,
        remediation=meta.remediation,
        probe=meta.probe,
        reason=reason,
        requests=requests,
        duration_s=round(duration, 3),
        detail="; ".join(notes) if notes else None,
        data=dict(data or {}),
    )
    if isinstance(exc, Finding) and verdict is Verdict.FINDING:
        result.detail = exc.detail
        result.evidence = exc.evidence
        result.reproduce = exc.reproduce
        result.confidence = exc.confidence
        result.severity = exc.severity or meta.severity
        result.data = exc.data
    elif isinstance(exc, Inconclusive):
        result.data.update(exc.data)
    return result


def to_json(result: CheckResult) -> str:
    return json.dumps(asdict(result), default=str)


class Recorder:
    """Collects results (from this process or from xdist workers) and writes the report."""

    def __init__(self, report_dir: Path, fail_on: str) -> None:
        self.report_dir = report_dir
        self.fail_on = fail_on
        self.results: list[dict[str, Any]] = []
        self.started = datetime.now(UTC)
        self.target: dict[str, Any] = {}

    def add(self, payload: str) -> None:
        self.results.append(json.loads(payload))

    def summary(self) -> dict[str, int]:
        counts = {verdict.value: 0 for verdict in Verdict}
        for result in self.results:
            counts[result["verdict"]] += 1
        return counts

    def findings(self) -> list[dict[str, Any]]:
        found = [r for r in self.results if r["verdict"] == Verdict.FINDING]
        return sorted(found, key=lambda r: (severity_rank(r["severity"]), r["check_id"]))

    def gate_failed(self) -> bool:
        """Non-zero exit: a finding at or above --fail-on, or any error."""
        limit = severity_rank(self.fail_on)
        blocking = [r for r in self.findings() if severity_rank(r["severity"]) <= limit]
        return bool(blocking) or self.summary()[Verdict.ERROR] > 0

    def document(self) -> dict[str, Any]:
        finished = datetime.now(UTC)
        return {
            "tool": {"name": "jwt-api-probes", "version": __version__},
            "target": self.target,
            "started": self.started.isoformat(),
            "finished": finished.isoformat(),
            "duration_s": round((finished - self.started).total_seconds(), 2),
            "fail_on": self.fail_on,
            "summary": self.summary(),
            # Requests this process sent, per path (under xdist: the controller's share only).
            "traffic": {"requests": total_sent(), "by_path": sent_by_path()},
            "results": sorted(self.results, key=lambda r: r["nodeid"]),
        }

    def write(self) -> Path:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        path = self.report_dir / "audit.json"
        path.write_text(json.dumps(self.document(), indent=2, default=str))
        return path

    def terminal_lines(self) -> list[str]:
        counts = self.summary()
        lines = ["verdicts: " + ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict)]
        for result in self.findings():
            lines.append(
                f"  {result['severity'].upper():8} {result['check_id']}: {result['detail']}"
            )
        for result in self.results:
            if result["verdict"] in (Verdict.ERROR, Verdict.INCONCLUSIVE):
                lines.append(
                    f"  {result['verdict'].upper():12} {result['check_id']}: {result['reason']}"
                )
        return lines
