"""Fault handling end to end: the target dies mid-run, and no check after that may pass."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.probes.audit import run_audit
from tests.probes.procs import processes_in_group, processes_mentioning

STATUS = "probes/test_status_codes.py"
HEADERS = "probes/test_security_headers.py"
KILL_AFTER = 3
# What a check that ran after the kill must give as its reason: the target, not the harness.
TARGET_GONE = re.compile(
    r"^target error: .*(target process has exited|target stopped answering|target unreachable)"
)
pytestmark = pytest.mark.audit


def test_killing_the_target_turns_every_later_check_into_error(tmp_path: Path) -> None:
    workdir = tmp_path / "target"
    kill_log = tmp_path / "kill.json"
    run = run_audit(
        tmp_path / "reports",
        [STATUS, HEADERS],
        workers=2,  # a supervisor, two workers and an embedded Redis: all must go
        extra=["-p", "tests.probes.killer_plugin"],
        env={
            "PROBES_KILL_AFTER": str(KILL_AFTER),
            "PROBES_KILL_LOG": str(kill_log),
            "PROBES_LOCAL_WORKDIR": str(workdir),
        },
    )
    assert kill_log.exists(), f"the target was never killed\n{run.output}"
    killed = json.loads(kill_log.read_text())
    before = set(killed["before_kill"])
    assert len(before) == KILL_AFTER

    results = {r["nodeid"]: r for r in run.results}
    assert before <= set(results), run.output
    # The secure target was healthy until the kill: those checks passed.
    assert {results[n]["verdict"] for n in before} == {"pass"}, run.output

    after = [r for nodeid, r in results.items() if nodeid not in before]
    assert len(after) >= 10, run.output  # the rest of both families still ran, to an end
    assert [r for r in after if r["verdict"] == "pass"] == [], run.output
    for result in after:
        assert result["verdict"] == "error", (result["nodeid"], result["verdict"], run.output)
        assert TARGET_GONE.search(result["reason"] or ""), (result["nodeid"], result["reason"])
    summary = run.document["summary"]
    assert summary["pass"] == KILL_AFTER
    assert summary["error"] == len(after)

    assert run.returncode == 1, run.output
    assert "probe verdicts" in run.output  # the terminal summary still came out

    # Nothing of the target is left: no process in its group, none naming its workdir, no port.
    assert processes_in_group(killed["pid"]) == []
    assert processes_mentioning(str(workdir)) == []
    host, port = killed["url"].removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 2):
        pass
