"""Cross-process traffic lock: timing checks measure alone, even under pytest-xdist.

Ordinary checks hold the lock shared; an ``exclusive`` check holds it exclusively, so no other
check (in this process or another xdist worker) sends traffic to the same target meanwhile.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(base_url: str) -> Path:
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"probes-traffic-{digest}.lock"


@contextmanager
def traffic_lock(base_url: str, *, exclusive: bool) -> Iterator[None]:
    with lock_path(base_url).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
