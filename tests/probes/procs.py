"""Looking for leftover processes without psutil: a scan of /proc (Linux)."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def _live_processes() -> list[tuple[int, str, int, str]]:
    """(pid, state, process group, command line) of every process that is not a zombie."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it exited while we looked
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if state != "Z":  # a zombie has exited already; only its exit status is left
            found.append((int(entry.name), state, pgrp, cmdline))
    return found


def processes_in_group(pgid: int) -> list[tuple[int, str]]:
    return [(pid, cmd) for pid, _state, pgrp, cmd in _live_processes() if pgrp == pgid]


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    return [(pid, cmd) for pid, _state, _pgrp, cmd in _live_processes() if text in cmd]
