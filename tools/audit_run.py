"""Run the probe suite once in a subprocess (as `make audit` does) and read its audit.json."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 1200


@dataclass
class Run:
    label: str
    returncode: int
    seconds: float
    document: dict[str, Any]
    output: str

    def verdicts(self) -> dict[str, str]:
        """nodeid -> verdict (node ids are unique; several checks may share a check_id)."""
        return {r["nodeid"]: r["verdict"] for r in self.document.get("results", [])}

    def with_verdict(self, verdict: str) -> set[str]:
        return {r["check_id"] for r in self.document.get("results", []) if r["verdict"] == verdict}

    def findings(self) -> set[str]:
        return self.with_verdict("finding")

    def undecided(self) -> list[dict[str, str]]:
        """Every check that ended inconclusive or error, with its reason."""
        return [
            {"check_id": r["check_id"], "verdict": r["verdict"], "reason": r.get("reason") or ""}
            for r in self.document.get("results", [])
            if r["verdict"] in ("inconclusive", "error")
        ]


def audit(
    label: str,
    *,
    flaws: Sequence[str] = (),
    workers: int = 4,
    algorithm: str = "HS256",
    modules: Sequence[str] = ("probes",),
    extra: Sequence[str] = (),
) -> Run:
    with tempfile.TemporaryDirectory(prefix="audit-run-") as report_dir:
        args = [
            sys.executable, "-m", "pytest", *modules, "-p", "no:cacheprovider", "-q",
            "--report-dir", report_dir, "--target-workers", str(workers),
            "--target-algorithm", algorithm, *extra,
        ]  # fmt: skip
        if flaws:
            args += ["--target-flaws", ",".join(flaws)]
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S603 - our own interpreter
            args, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
        seconds = time.monotonic() - started
        path = Path(report_dir) / "audit.json"
        document = json.loads(path.read_text()) if path.exists() else {}
    return Run(label, completed.returncode, seconds, document, completed.stdout + completed.stderr)
