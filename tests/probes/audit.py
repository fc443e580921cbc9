"""Runs the probe suite in a subprocess, as ``make audit`` does, and reads what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
AUDIT_TIMEOUT = 600


@dataclass
class AuditRun:
    returncode: int
    output: str
    report_dir: Path

    @property
    def document(self) -> dict[str, Any]:
        return dict(json.loads((self.report_dir / "audit.json").read_text()))

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.document["results"])

    def verdicts(self) -> dict[str, str]:
        """check_id -> verdict (each check_id appears once per family in these runs)."""
        return {r["check_id"]: r["verdict"] for r in self.results}

    def findings(self) -> set[str]:
        return {r["check_id"] for r in self.results if r["verdict"] == "finding"}

    def with_verdict(self, verdict: str) -> set[str]:
        return {r["check_id"] for r in self.results if r["verdict"] == verdict}


def run_audit(
    report_dir: Path,
    modules: Sequence[str],
    *,
    flaws: str = "",
    workers: int = 1,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> AuditRun:
    args = [
        sys.executable, "-m", "pytest", *modules, "-p", "no:cacheprovider", "-q",
        "--report-dir", str(report_dir), "--target-workers", str(workers), *extra,
    ]  # fmt: skip
    if flaws:
        args += ["--target-flaws", flaws]
    completed = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        check=False,
    )
    return AuditRun(completed.returncode, completed.stdout + completed.stderr, report_dir)
