"""Token fuzzing (hypothesis): no mutated token is accepted, and none causes a server error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange, Redactor
from probes.harness.fuzzing import mutated_tokens
from probes.harness.judge import Reference, accepted
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.target import Target
from probes.harness.verdicts import TargetError


@dataclass(frozen=True)
class Case:
    label: str
    status: int | None  # None: the target closed the connection without an answer
    accepted: bool
    exchange: Exchange


@pytest.fixture(scope="module")
def fuzzed(
    target: Target,
    redactor: Redactor,
    user_token: str,
    references: dict[str, Reference],
    judge_route: Route,
) -> Iterator[list[Case]]:
    """Send ``audit.fuzz_examples`` mutated tokens, one request each, and record how they fared."""
    examples = target.profile.audit.fuzz_examples
    client = ProbeClient(target.base_url, redactor, budget=3 * examples + 10)
    reference = references.get("user")
    cases: list[Case] = []
    genuine = user_token.rsplit(".", 1)[0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_tokens(user_token))
    def send(case: tuple[str, str]) -> None:
        label, token = case
        if token.rsplit(".", 1)[0] == genuine:
            return  # unchanged signing input: that is the genuine token, not a forgery
        try:
            response = client.request(
                judge_route.method,
                judge_route.path,
                headers={"Authorization": f"Bearer {token}"},
                note=label,
            )
        except TargetError:
            cases.append(Case(label, None, False, client.exchanges[-1]))
            return
        taken = reference is not None and accepted(response, reference)
        cases.append(Case(label, response.status_code, taken, client.exchanges[-1]))

    send()
    yield cases
    client.close()


def enough(probe: Probe, target: Target, cases: list[Case]) -> None:
    target.ensure_alive()
    if not cases:
        probe.inconclusive("no mutated token could be sent")


@pytest.mark.check("JWT-FUZZ-ACCEPTED")
def test_no_mutated_token_is_accepted(
    probe: Probe, target: Target, fuzzed: list[Case], references: dict[str, Reference]
) -> None:
    """A vulnerable target accepts a token whose header or payload was changed without its key."""
    if "user" not in references or not 200 <= references["user"].status < 300:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    enough(probe, target, fuzzed)
    taken = [c for c in fuzzed if c.accepted]
    probe.note(f"{len(fuzzed)} mutated tokens, {len(taken)} accepted", {"cases": len(fuzzed)})
    if taken:
        probe.finding(
            f"{len(taken)} of {len(fuzzed)} mutated tokens were accepted, e.g. {taken[0].label}",
            [c.exchange for c in taken],
        )


@pytest.mark.check("JWT-FUZZ-SERVER-ERROR")
def test_no_mutated_token_causes_a_server_error(
    probe: Probe, target: Target, fuzzed: list[Case]
) -> None:
    """A vulnerable target answers some malformed token with 5xx."""
    enough(probe, target, fuzzed)
    errors = [c for c in fuzzed if c.status is not None and c.status >= 500]
    dropped = [c for c in fuzzed if c.status is None]
    probe.note(
        f"{len(fuzzed)} mutated tokens, {len(errors)} server errors, "
        f"{len(dropped)} connections closed",
        {"cases": len(fuzzed)},
    )
    if errors:
        probe.finding(
            f"{len(errors)} of {len(fuzzed)} mutated tokens caused a server error, "
            f"e.g. {errors[0].label}",
            [c.exchange for c in errors],
        )
