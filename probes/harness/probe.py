"""What a probe function holds: its check's metadata, a client, and the ways to end a check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from probes.harness.catalogue import CheckMeta
from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange
from probes.harness.target import Target
from probes.harness.verdicts import Finding, Inconclusive

MAX_EVIDENCE = 6


@dataclass
class Probe:
    meta: CheckMeta
    target: Target
    client: ProbeClient
    # Measured facts for a check that passes (or cannot decide), kept in the report.
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def note(self, text: str, data: dict[str, Any] | None = None) -> None:
        self.notes.append(self.client.redactor.text(text))
        self.data.update(data or {})

    def finding(
        self,
        detail: str,
        evidence: Iterable[Exchange] = (),
        *,
        confidence: str = "high",
        severity: str | None = None,
        data: dict[str, Any] | None = None,
        reproduce: str | None = None,
    ) -> NoReturn:
        """End the check in a finding; ``reproduce`` replaces the first exchange's curl."""
        shown = list(evidence)[:MAX_EVIDENCE] or self.client.exchanges[-1:]
        if reproduce is None and shown:
            reproduce = shown[0].curl()
        raise Finding(
            self.client.redactor.text(detail),
            evidence=[exchange.to_dict() for exchange in shown],
            reproduce=self.client.redactor.text(reproduce) if reproduce else None,
            confidence=confidence,
            severity=severity,
            data=data,
        )

    def inconclusive(self, reason: str, data: dict[str, Any] | None = None) -> NoReturn:
        raise Inconclusive(reason, data=data)

    def skip(self, reason: str) -> NoReturn:
        pytest.skip(reason)

    def expect_none(self, offending: list[Exchange], detail: str) -> None:
        """A finding listing the offending exchanges, if there are any."""
        if offending:
            self.finding(detail.format(n=len(offending)), offending)
