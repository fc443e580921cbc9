"""Login timing and account enumeration: unknown users must cost what known ones do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.exclusive import traffic_lock
from probes.harness.limits import PacingExhausted
from probes.harness.probe import Probe
from probes.harness.profile import credentials
from probes.harness.stats import Decision, Look, looks_up_to
from probes.harness.target import Target
from probes.harness.timing import (
    ENUMERATION,
    LONG_PASSWORD,
    LoginTimer,
    Samples,
    measure_looks,
)

pytestmark = pytest.mark.exclusive
VOLATILE = re.compile(r"[0-9a-f]{8,}|\d+", re.IGNORECASE)


@dataclass
class TimingRun:
    samples: Samples
    enumeration: Look | None = None
    long_password: Look | None = None
    stopped: str | None = None

    def data(self, look: Look | None) -> dict[str, object]:
        shown = {arm: [round(t, 2) for t in times] for arm, times in self.samples.times_ms.items()}
        return {
            **(look.as_dict() if look else {}),
            "samples_ms": shown,
            "requests": self.samples.requests,
            "dropped_blocks": self.samples.dropped_blocks,
            "waited_s": round(self.samples.waited_s, 1),
        }


@pytest.fixture(scope="module")
def timing(target: Target, redactor: Redactor) -> Iterator[TimingRun]:
    """Measure blocks until both comparisons are decided (or the cap), alone on the target."""
    options = target.profile.audit
    client = ProbeClient(target.base_url, redactor)
    timer = LoginTimer(target, client, credentials(target.profile.users.user)[0])
    run = TimingRun(timer.samples)
    points = looks_up_to(options.timing_max_pairs)
    looks: dict[tuple[str, str], Look | None] = {ENUMERATION: None, LONG_PASSWORD: None}
    with traffic_lock(target.base_url, exclusive=True):
        try:
            run.stopped = measure_looks(
                timer, looks, points, options.timing_alpha, options.timing_delta_ms
            )
        except PacingExhausted as exc:
            run.stopped = str(exc)
        finally:
            timer.close()
    run.enumeration, run.long_password = looks[ENUMERATION], looks[LONG_PASSWORD]
    yield run
    client.close()


def verdict(probe: Probe, run: TimingRun, look: Look | None, what: str) -> None:
    if run.stopped and (
        look is None or look.decision in (Decision.CONTINUE, Decision.INCONCLUSIVE)
    ):
        probe.inconclusive(run.stopped, run.data(look))
    assert look is not None
    low, high = look.ci_ms
    summary = (
        f"{what}: median difference {look.median_ms:+.1f} ms (CI {low:.1f}..{high:.1f} ms), "
        f"p = {look.p_value:.2g}, {look.pairs} pairs, delta {look.delta_ms:.1f} ms, "
        f"{run.samples.requests} logins"
    )
    if look.decision is Decision.LEAK:
        probe.finding(
            summary,
            [run.samples.first[a] for a in ("E", "N") if a in run.samples.first],
            data=run.data(look),
        )
    if look.decision is not Decision.UNIFORM:
        probe.inconclusive(look.reason or f"undecided: {summary}", run.data(look))
    probe.note(summary, run.data(look))


def normalised(text: str) -> str:
    return VOLATILE.sub("#", text)


@pytest.mark.check("AUTH-ENUMERATION-CONTENT")
def test_unknown_and_known_users_get_the_same_answer(probe: Probe, timing: TimingRun) -> None:
    """A vulnerable target answers an unknown user with another status, message or length."""
    samples = timing.samples
    if samples.pairs == 0:
        probe.inconclusive(timing.stopped or "no login could be measured")
    known, unknown = (sorted(set(samples.statuses[arm])) for arm in ("E", "N"))
    bodies_differ = normalised(samples.bodies["E"]) != normalised(samples.bodies["N"])
    if known != unknown or bodies_differ:
        detail = f"known user with a wrong password got {known}, unknown user got {unknown}"
        if bodies_differ:
            detail += "; the bodies differ"
        probe.finding(detail, [samples.first["E"], samples.first["N"]])


@pytest.mark.check("AUTH-TIMING-ENUMERATION")
def test_login_time_does_not_reveal_accounts(probe: Probe, timing: TimingRun) -> None:
    """A vulnerable target answers unknown users measurably faster (no password hash is checked)."""
    verdict(probe, timing, timing.enumeration, "known vs unknown user")


@pytest.mark.check("AUTH-TIMING-LONG-PASSWORD")
def test_over_long_password_is_handled_uniformly(probe: Probe, timing: TimingRun) -> None:
    """A vulnerable target fails fast, or with 5xx, on a password over bcrypt's 72 bytes."""
    errors = [s for s in timing.samples.statuses["L"] if s >= 500]
    if errors:
        probe.finding(
            f"{len(errors)} logins with an over-long password got a server error",
            [timing.samples.first["L"]],
        )
    verdict(probe, timing, timing.long_password, "over-long vs ordinary wrong password")
