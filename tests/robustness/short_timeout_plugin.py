"""A pytest plugin for the harness fault tests: a shorter harness request timeout.

Loaded into an audit subprocess with ``-p tests.robustness.short_timeout_plugin``. It sets the
default timeout of every ``ProbeClient`` and the liveness poll to ``$PROBES_TEST_TIMEOUT`` seconds,
so a fixture server that answers "past the harness timeout" need not sleep for the real 10 s.
The full-size run (``SOAK_SCALE=1``) does not load it and meets the real timeout.
"""

from __future__ import annotations

import os

from probes.harness import target
from probes.harness.client import ProbeClient

TIMEOUT_ENV = "PROBES_TEST_TIMEOUT"

_seconds = float(os.environ[TIMEOUT_ENV])
assert ProbeClient.__init__.__kwdefaults__ is not None
ProbeClient.__init__.__kwdefaults__["timeout"] = _seconds
target.LIVENESS_TIMEOUT = _seconds
