"""Login timing measurement: blocks of (E, N, N', L) logins in coin-flip order, one connection each.

- E: the known user with a wrong password; N and N': fresh unknown users (the A/A pair);
  L: the known user with an over-long (> 72 bytes) password.
- Usernames and passwords of E and N have equal length; a new unknown name every request.
- Each block uses one keep-alive connection, opened untimed, so the block lands on one worker and
  no handshake is timed. Locally each block comes from its own loopback address, so a per-IP login
  limit does not stall the probe; remotely, 429s are honoured and the block is redone.
"""

from __future__ import annotations

import random
import secrets
import string
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from probes.harness.auth import login_request, retry_after_s
from probes.harness.client import ProbeClient, count_sent
from probes.harness.evidence import Exchange, record
from probes.harness.limits import PacingExhausted, parse_limit
from probes.harness.profile import Profile
from probes.harness.stats import Decision, Look, alpha_at, decide, delta_for
from probes.harness.target import Target

ARMS = ("E", "N", "N2", "L")
# The comparisons the probe decides, as (arm expected slower, arm expected faster) if it leaks.
ENUMERATION = ("E", "N")
LONG_PASSWORD = ("L", "E")
LONG_PASSWORD_BYTES = 80
BLOCK_TIMEOUT_S = 30.0


def same_shape(name: str, rng: random.Random) -> str:
    """A random name of the same length and form (an e-mail keeps its domain)."""
    local, at, domain = name.partition("@")
    letters = "".join(rng.choice(string.ascii_lowercase) for _ in local)
    return f"{letters}{at}{domain}" if at else letters


@dataclass
class Samples:
    times_ms: dict[str, list[float]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    statuses: dict[str, list[int]] = field(default_factory=lambda: {arm: [] for arm in ARMS})
    first: dict[str, Exchange] = field(default_factory=dict)
    bodies: dict[str, str] = field(default_factory=dict)
    dropped_blocks: int = 0
    waited_s: float = 0.0
    requests: int = 0

    @property
    def pairs(self) -> int:
        return len(self.times_ms["E"])

    def diffs(self, a: str, b: str) -> list[float]:
        return [x - y for x, y in zip(self.times_ms[a], self.times_ms[b], strict=True)]


class LoginTimer:
    def __init__(
        self,
        target: Target,
        client: ProbeClient,
        username: str,
        progress: Callable[[str], None] | None = None,
        arms: Sequence[str] = ARMS,
    ) -> None:
        self.target = target
        self.arms = tuple(arms)
        self.profile: Profile = target.profile
        self.client = client
        self.username = username
        self.rng = random.Random(secrets.randbits(64))  # noqa: S311 - ordering, not secrets
        self.samples = Samples()
        self.progress = progress or (lambda line: print(line, file=sys.stderr))
        self._remote: httpx.Client | None = None
        self._password_length = 16

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

    def _connection(self) -> httpx.Client:
        if self.target.mode == "local":
            transport = httpx.HTTPTransport(local_address=self.target.sources.next())
            client = httpx.Client(
                base_url=self.target.base_url, transport=transport, timeout=BLOCK_TIMEOUT_S
            )
        else:
            if self._remote is None:
                self._remote = httpx.Client(base_url=self.target.base_url, timeout=BLOCK_TIMEOUT_S)
            client = self._remote
        client.get(self.profile.expectations.health or "/")  # opens the connection, untimed
        return client

    def _credentials(self, arm: str) -> tuple[str, str]:
        wrong = "".join(
            self.rng.choice(string.ascii_letters + string.digits)
            for _ in range(self._password_length)
        )
        if arm == "E":
            return self.username, wrong
        if arm == "L":
            return self.username, wrong + "x" * (LONG_PASSWORD_BYTES - len(wrong))
        return same_shape(self.username, self.rng), wrong

    def block(self, keep: bool = True) -> bool:
        """Measure one block; False when it was dropped (a 429 came back)."""
        client = self._connection()
        order = list(self.arms)
        self.rng.shuffle(order)
        measured: dict[str, tuple[float, httpx.Response]] = {}
        try:
            for arm in order:
                username, password = self._credentials(arm)
                request = client.build_request(
                    "POST",
                    self.profile.login.path,
                    **login_request(self.profile, username, password),
                )
                started = time.perf_counter_ns()
                response = client.send(request)
                elapsed_ms = (time.perf_counter_ns() - started) / 1e6
                self.samples.requests += 1
                count_sent(path=request.url.path)
                measured[arm] = (elapsed_ms, response)
        finally:
            if client is not self._remote:
                client.close()
        if any(response.status_code == 429 for _, response in measured.values()):
            self.samples.dropped_blocks += 1
            self._pace(next(r for _, r in measured.values() if r.status_code == 429))
            return False
        if keep:
            for arm, (elapsed_ms, response) in measured.items():
                self.samples.times_ms[arm].append(elapsed_ms)
                self.samples.statuses[arm].append(response.status_code)
                if arm not in self.samples.first:
                    self.samples.first[arm] = record(
                        self.client.redactor, response.request, response, elapsed_ms=elapsed_ms
                    )
                    self.samples.bodies[arm] = response.text
        return True

    def _pace(self, response: httpx.Response) -> None:
        """Wait for the limit's reset: Retry-After, else X-RateLimit-Reset, else the profile."""
        wait = retry_after_s(response)
        if wait is None:
            limit = parse_limit(self.profile.expectations.login_limit)
            wait = float(limit.seconds) if limit else 60.0
        budget = self.profile.audit.max_pacing_wait - self.samples.waited_s
        if wait > budget:
            raise PacingExhausted(
                f"the login limit needs {wait:.0f} s more; the pacing budget left is "
                f"{budget:.0f} s (audit.max_pacing_wait)"
            )
        self.progress(
            f"login timing: rate limited after {self.samples.pairs} pairs; waiting {wait:.0f} s"
        )
        time.sleep(wait)
        self.samples.waited_s += wait


def measure_looks(
    timer: LoginTimer,
    looks: dict[tuple[str, str], Look | None],
    points: Sequence[int],
    alpha: float,
    delta_ms: float | None,
) -> str | None:
    """Measure blocks up to each look point and decide each comparison still open, until all are
    decided or the last point. ``looks`` (keyed by comparison) fills in as it goes, so a
    ``PacingExhausted`` midway keeps what was decided. Returns why it stopped short, or None."""
    timer.block(keep=False)  # warm-up, discarded
    attempts = 0
    for index, point in enumerate(points):
        while timer.samples.pairs < point and attempts < 3 * points[-1]:
            attempts += 1
            timer.block()
        samples = timer.samples
        if samples.pairs < point:
            return f"only {samples.pairs} blocks could be measured"
        threshold = delta_ms or delta_for(samples.times_ms["E"])
        look_alpha = alpha_at(index, len(points), alpha)
        aa = samples.diffs("N2", "N")
        for pair, look in looks.items():
            if look is None or look.decision is Decision.CONTINUE:
                looks[pair] = decide(
                    samples.diffs(*pair), aa, threshold, look_alpha, final=index == len(points) - 1
                )
        if all(look and look.decision is not Decision.CONTINUE for look in looks.values()):
            return None
    return None
