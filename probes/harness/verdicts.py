"""The five verdicts, and the typed outcomes a probe raises to reach one.

A probe ends in ``pass`` by returning. It reaches the others by raising: ``Finding`` (the target is
vulnerable), ``Inconclusive`` (it ran but cannot decide), ``TargetError`` (no answer from the
target) or a pytest skip (a capability is missing). Any other exception is a harness ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "pass"
    FINDING = "finding"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    ERROR = "error"


SEVERITIES = ("critical", "high", "medium", "low", "info")


def severity_rank(severity: str) -> int:
    """0 for critical up to 4 for info; lower is worse."""
    return SEVERITIES.index(severity)


class Finding(Exception):
    """The target is vulnerable. Carries the measured fact and the exchanges that show it."""

    def __init__(
        self,
        detail: str,
        *,
        evidence: list[dict[str, Any]] | None = None,
        reproduce: str | None = None,
        confidence: str = "high",
        severity: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.evidence = evidence or []
        self.reproduce = reproduce
        self.confidence = confidence
        self.severity = severity
        self.data = data or {}


class Inconclusive(Exception):
    """The check ran but cannot decide; it never counts as a pass."""

    def __init__(self, reason: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data or {}


class TargetError(Exception):
    """The target was unreachable or stopped answering."""


class HarnessError(Exception):
    """The harness itself cannot go on (bad profile, exhausted budget, failed launch)."""


@dataclass
class CheckResult:
    """One check's verdict, as written to ``audit.json``."""

    check_id: str
    nodeid: str
    verdict: Verdict
    title: str
    severity: str
    cwe: str
    owasp: str
    remediation: str
    probe: str
    confidence: str | None = None
    detail: str | None = None
    reason: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    reproduce: str | None = None
    requests: int = 0
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
