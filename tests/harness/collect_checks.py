"""A pytest plugin that writes the check id of every collected probe to ``PROBES_CHECKS_OUT``.

Used with ``--collect-only`` so ids given through variables (generated probes) count too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    found: dict[str, str | None] = {}
    for item in items:
        marker = item.get_closest_marker("check")
        found[item.nodeid] = str(marker.args[0]) if marker and marker.args else None
    Path(os.environ["PROBES_CHECKS_OUT"]).write_text(json.dumps(found))
