"""A pytest plugin for fault-injection self-tests: kills the launched target mid-run.

Loaded into an audit subprocess with ``-p tests.probes.killer_plugin``. After the teardown of the
``PROBES_KILL_AFTER``-th check it SIGKILLs the local target's whole process group (supervisor,
workers, embedded Redis), the way a crash or an OOM kill would, and writes what it did to the JSON
file ``PROBES_KILL_LOG``: the checks that ran before the kill, and the target's pid and url.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.harness.target import Target

KILL_AFTER_ENV = "PROBES_KILL_AFTER"
KILL_LOG_ENV = "PROBES_KILL_LOG"

_state: dict[str, Any] = {"done": [], "target": None, "killed": False}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # Every check depends on the session ``target`` fixture; by now it is set up.
    funcargs = getattr(item, "funcargs", {})
    if isinstance(funcargs.get("target"), Target):
        _state["target"] = funcargs["target"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    if _state["killed"] or item.get_closest_marker("check") is None:
        return
    _state["done"].append(item.nodeid)
    if len(_state["done"]) == int(os.environ[KILL_AFTER_ENV]):
        _kill(item)


def _kill(item: pytest.Item) -> None:
    target: Target | None = _state["target"]
    if target is None or target.local is None or target.local.process is None:
        raise RuntimeError("killer_plugin: no launched local target to kill")
    pid = target.local.process.pid
    os.killpg(pid, signal.SIGKILL)  # the launcher starts the target as its own process group
    _state["killed"] = True
    log = {
        "killed_after": item.nodeid,
        "before_kill": list(_state["done"]),
        "pid": pid,
        "url": target.base_url,
        "workdir": str(target.local.workdir),
    }
    Path(os.environ[KILL_LOG_ENV]).write_text(json.dumps(log))
