"""Sessions: token types kept apart, logout and rotation that hold across every worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from probes.harness.auth import AuthSession
from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange, Redactor
from probes.harness.judge import Reference, accepted
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.sessions import SessionPool
from probes.harness.target import Target
from probes.harness.tokens import logout, refresh

UNKNOWN_WORKERS = 8
MIN_REPLAYS = 16
WORKER_HEADER = "x-target-worker"


def need_refresh(probe: Probe, target: Target, session: AuthSession) -> None:
    if not target.profile.endpoints.refresh or not session.refresh:
        probe.skip("the profile names no refresh endpoint, or the target issues no refresh token")


def need_logout(probe: Probe, target: Target) -> None:
    if not target.profile.endpoints.logout:
        probe.skip("the profile names no logout endpoint")


def user_reference(probe: Probe, references: dict[str, Reference]) -> Reference:
    reference = references.get("user")
    if reference is None or not 200 <= reference.status < 300:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    return reference


@pytest.mark.check("JWT-TYPE-CONFUSION")
def test_token_types_are_not_interchangeable(
    probe: Probe, client: ProbeClient, target: Target, sessions: SessionPool,
    references: dict[str, Reference], judge_route: Route,
) -> None:  # fmt: skip
    """A vulnerable target takes a refresh token as access, or an access token at refresh."""
    session = sessions.fresh("user")
    need_refresh(probe, target, session)
    reference = user_reference(probe, references)
    confused: list[Exchange] = []
    response = client.request(
        judge_route.method,
        judge_route.path,
        headers=session.headers(session.refresh),
        note="refresh token as access",
    )
    if accepted(response, reference):
        confused.append(client.exchanges[-1])
    _response, renewed = refresh(client, target.profile, session.access, "access token at refresh")
    if renewed is not None:
        confused.append(client.exchanges[-1])
    if confused:
        probe.finding("; ".join(e.note or "" for e in confused) + ": accepted", confused)


@dataclass
class Replays:
    total: int
    accepted: list[Exchange]
    workers_seen: set[str]
    logout_worker: str | None
    refresh_after_logout: Exchange | None


@pytest.fixture(scope="module")
def after_logout(
    target: Target,
    redactor: Redactor,
    sessions: SessionPool,
    references: dict[str, Reference],
    judge_route: Route,
) -> Iterator[Replays | None]:
    """Log out, then replay the access token over fresh connections, spread across the workers."""
    if not target.profile.endpoints.logout or "user" not in references:
        yield None
        return
    workers = target.profile.workers or UNKNOWN_WORKERS
    count = max(4 * workers, MIN_REPLAYS)
    client = ProbeClient(target.base_url, redactor, budget=4 * count + 10)
    session = sessions.fresh("user")
    response = logout(client, target.profile, session)
    replays = Replays(count, [], set(), response.headers.get(WORKER_HEADER), None)
    sent = 0
    while sent < count or (
        replays.logout_worker
        and replays.logout_worker not in replays.workers_seen
        and sent < 4 * count
    ):
        sent += 1
        answer = client.request(
            judge_route.method,
            judge_route.path,
            headers=session.headers(),
            fresh=True,
            note=f"replay {sent} after logout",
        )
        if answer.headers.get(WORKER_HEADER):
            replays.workers_seen.add(answer.headers[WORKER_HEADER])
        if accepted(answer, references["user"]):
            replays.accepted.append(client.exchanges[-1])
    replays.total = sent
    if session.refresh and target.profile.endpoints.refresh:
        _response, renewed = refresh(
            client, target.profile, session.refresh, "refresh after logout"
        )
        replays.refresh_after_logout = client.exchanges[-1] if renewed else None
    yield replays
    client.close()


def decisive_replays(probe: Probe, target: Target, replays: Replays | None) -> Replays:
    """The replays after logout, when they can decide: the genuine token was answered 2xx, and
    (locally, where the answering worker is known) they reached the logout's worker."""
    if replays is None:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    if (
        replays.logout_worker
        and (target.profile.workers or 1) > 1
        and replays.logout_worker not in replays.workers_seen
    ):
        probe.inconclusive(
            f"{replays.total} replays never reached the worker that handled the logout"
        )
    return replays


@pytest.mark.check("JWT-LOGOUT-NOOP")
def test_logout_revokes_the_token(
    probe: Probe, target: Target, after_logout: Replays | None
) -> None:
    """A vulnerable target keeps accepting an access token after its logout."""
    need_logout(probe, target)
    replays = decisive_replays(probe, target, after_logout)
    if len(replays.accepted) == replays.total:
        probe.finding(
            f"all {replays.total} replays of a logged-out token were accepted", replays.accepted
        )


@pytest.mark.check("JWT-REVOCATION-NOT-SHARED")
def test_revocation_holds_on_every_worker(
    probe: Probe, target: Target, after_logout: Replays | None
) -> None:
    """A vulnerable target revokes a token in one worker's memory; other workers still accept it."""
    need_logout(probe, target)
    replays = decisive_replays(probe, target, after_logout)
    taken = len(replays.accepted)
    workers = f" across {len(replays.workers_seen)} workers" if replays.workers_seen else ""
    probe.note(
        f"{replays.total} replays{workers}, {taken} accepted",
        {"replays": replays.total, "accepted": taken},
    )
    if 0 < taken < replays.total:
        probe.finding(
            f"{taken} of {replays.total} replays of a logged-out token were accepted{workers}",
            replays.accepted,
        )


@pytest.mark.check("JWT-REFRESH-AFTER-LOGOUT")
def test_refresh_fails_after_logout(
    probe: Probe, target: Target, after_logout: Replays | None
) -> None:
    """A vulnerable target still refreshes with the refresh token sent at logout."""
    need_logout(probe, target)
    if not target.profile.endpoints.refresh:
        probe.skip("the profile names no refresh endpoint")
    if after_logout is None:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    if after_logout.refresh_after_logout is not None:
        probe.finding(
            "the refresh token sent at logout still issued new tokens",
            [after_logout.refresh_after_logout],
        )


@pytest.mark.check("JWT-REFRESH-REUSE")
def test_used_refresh_token_is_refused(
    probe: Probe, client: ProbeClient, target: Target, sessions: SessionPool
) -> None:
    """A vulnerable target does not rotate refresh tokens: a used one keeps working."""
    first = sessions.fresh("user")
    need_refresh(probe, target, first)
    _response, second = refresh(client, target.profile, first.refresh or "", "first refresh")
    if second is None:
        probe.inconclusive(f"the first refresh itself failed ({client.exchanges[-1].status})")
    _response, again = refresh(
        client, target.profile, first.refresh or "", "reuse of the used refresh token"
    )
    if again is not None:
        probe.finding(
            "a refresh token that was already used issued new tokens again", client.exchanges[-1:]
        )


@pytest.mark.check("JWT-REFRESH-THEFT-NOT-DETECTED")
def test_reuse_revokes_the_token_family(
    probe: Probe, client: ProbeClient, target: Target, sessions: SessionPool
) -> None:
    """A vulnerable target, seeing a used refresh token again, leaves the newer ones valid."""
    first = sessions.fresh("user")
    need_refresh(probe, target, first)
    _response, second = refresh(client, target.profile, first.refresh or "", "first refresh")
    if second is None or not second.refresh:
        probe.inconclusive("the first refresh itself failed, or issued no new refresh token")
    _response, again = refresh(client, target.profile, first.refresh or "", "reuse (theft signal)")
    if again is not None:
        probe.skip("the reused token was accepted; JWT-REFRESH-REUSE reports that")
    _response, third = refresh(
        client, target.profile, second.refresh or "", "newest token after the theft signal"
    )
    if third is not None:
        probe.finding(
            "after a used refresh token came back, the newest refresh token still worked",
            client.exchanges[-2:],
        )


@pytest.mark.check("JWT-REFRESH-INACTIVE-USER")
def test_deactivated_user_cannot_refresh(
    probe: Probe, client: ProbeClient, target: Target, sessions: SessionPool
) -> None:
    """A vulnerable target keeps refreshing tokens for a user who was deactivated."""
    if target.local is None or not sessions.has("spare"):
        probe.skip(
            "deactivating a user needs the local target; the profile names no way to do it remotely"
        )
    session = sessions.fresh("spare")
    need_refresh(probe, target, session)
    target.local.set_active("spare", False)
    try:
        _response, renewed = refresh(
            client, target.profile, session.refresh or "", "refresh after deactivation"
        )
    finally:
        target.local.set_active("spare", True)
    if renewed is not None:
        probe.finding(
            "a deactivated user's refresh token still issued new tokens", client.exchanges[-1:]
        )
