"""The target under audit: where it is, its profile, and whether it still answers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import httpx

from probes.harness.client import describe_error
from probes.harness.launcher import LocalTarget
from probes.harness.profile import Profile
from probes.harness.verdicts import TargetError

LIVENESS_TIMEOUT = 5.0


class SourcePool:
    """Loopback source addresses (127.0.0.2 up), handed out in turn; local mode only.

    Each process takes its own range (by pid), so xdist workers do not share addresses.
    """

    def __init__(self) -> None:
        self._next = 0
        self._offset = (os.getpid() * 7919) % (250 * 250)

    def next(self) -> str:
        index = (self._offset + self._next) % (250 * 250)
        self._next += 1
        return f"127.0.{index // 250}.{index % 250 + 2}"


@dataclass
class Target:
    base_url: str
    profile: Profile
    mode: str  # "local" or "remote"
    flaws: str = ""
    local: LocalTarget | None = None
    dead_reason: str | None = field(default=None)
    sources: SourcePool = field(default_factory=lambda: SourcePool())
    # Where the URL came from ("--base-url", "base_url in my.toml"): the place to fix it.
    url_source: str = "--base-url"
    answered: bool = field(default=False)

    @property
    def grey_box_key(self) -> str | None:
        """The signing secret or private key, when the profile gives one (grey box)."""
        if self.profile.grey_box is None:
            return None
        return os.environ.get(self.profile.grey_box.secret_env)

    def ensure_alive(self) -> None:
        """Raise ``TargetError`` once the target has stopped answering; it stays dead after."""
        if self.dead_reason is None:
            self.dead_reason = self._probe_liveness()
        if self.dead_reason is not None:
            raise TargetError(self.dead_reason)

    def _probe_liveness(self) -> str | None:
        if self.local is not None and not self.local.alive():
            return "the local target process has exited"
        path = self.profile.expectations.health or "/"
        try:
            httpx.get(f"{self.base_url}{path}", timeout=LIVENESS_TIMEOUT)
        except httpx.HTTPError as exc:
            if self.local is None and not self.answered:
                return (
                    f"nothing answers at {self.base_url} ({describe_error(exc)} on {path}); "
                    f"check {self.url_source} and that the API is running"
                )
            return f"the target stopped answering ({type(exc).__name__} on {path})"
        self.answered = True
        return None
