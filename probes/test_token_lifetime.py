"""Token lifetime and expiry: issued tokens expire soon enough, and expired ones are refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from probes.harness.auth import AuthSession
from probes.harness.client import ProbeClient
from probes.harness.forging import split
from probes.harness.greybox import SigningKey
from probes.harness.judge import Reference, accepted
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.sessions import SessionPool
from probes.harness.target import Target

EXPIRED_BY_S = (60, 300, 3600)
FUTURE_BY_S = 3600


@pytest.fixture(scope="module")
def issued(sessions: SessionPool) -> Iterator[tuple[AuthSession, float]]:
    """A fresh login, and the local time it was received (for tokens without iat)."""
    session = sessions.fresh("user")
    yield session, time.time()


def lifetime(token: str, received: float) -> float | None:
    claims = split(token)[1]
    if not isinstance(claims.get("exp"), int | float):
        return None
    start = claims["iat"] if isinstance(claims.get("iat"), int | float) else received
    return float(claims["exp"] - start)


def genuine(probe: Probe, references: dict[str, Reference]) -> Reference:
    reference = references.get("user")
    if reference is None or not 200 <= reference.status < 300:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    return reference


@dataclass(frozen=True)
class GreyBox:
    """The signing key, and the judge route with the genuine user's answer on it."""

    key: SigningKey
    client: ProbeClient
    route: Route
    reference: Reference

    def taken(self, token: str, note: str) -> bool:
        """Send a token; True when it is answered like the genuine user's."""
        return sent_and_taken(self.client, self.route, self.reference, token, note)


@pytest.fixture
def grey_box(
    probe: Probe, client: ProbeClient, signing_key: SigningKey | None,
    references: dict[str, Reference], judge_route: Route,
) -> GreyBox:  # fmt: skip
    """Skips without a signing key; inconclusive when the genuine token is not answered 2xx."""
    if signing_key is None:
        probe.skip(
            "no signing key known: name grey_box.secret_env in the profile "
            "(a cracked weak secret also serves)"
        )
    return GreyBox(signing_key, client, judge_route, genuine(probe, references))


def expired(key: SigningKey, token: str, exp: int) -> str:
    return key.resign(token, exp=exp, iat=exp - 900)


def sent_and_taken(
    client: ProbeClient, route: Route, reference: Reference, token: str, note: str
) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    response = client.request(route.method, route.path, headers=headers, note=note)
    return accepted(response, reference)


def check_lifetime(probe: Probe, kind: str, token: str, received: float, limit: int) -> None:
    """Note the token's lifetime; a finding when it exceeds the policy's ``limit`` seconds."""
    seconds = lifetime(token, received)
    if seconds is None:
        probe.skip(f"the {kind} token has no exp; JWT-NO-EXP reports that")
    figures = {"lifetime_s": seconds, "policy_s": limit}
    probe.note(f"{kind} tokens live {seconds:.0f} s (policy {limit} s)", figures)
    if seconds > limit:
        probe.finding(f"{kind} tokens live {seconds:.0f} s, policy allows {limit} s", data=figures)


@pytest.mark.check("JWT-NO-EXP")
def test_issued_tokens_expire(probe: Probe, issued: tuple[AuthSession, float]) -> None:
    """A vulnerable target issues tokens without an exp claim."""
    session, _ = issued
    tokens = {"access": session.access, "refresh": session.refresh}
    lacking = [kind for kind, token in tokens.items() if token and "exp" not in split(token)[1]]
    if lacking:
        probe.finding(f"issued {' and '.join(lacking)} tokens carry no exp: they never expire")


@pytest.mark.check("JWT-ACCESS-LIFETIME-EXCESSIVE")
def test_access_lifetime_within_policy(
    probe: Probe, target: Target, issued: tuple[AuthSession, float]
) -> None:
    """A vulnerable target issues access tokens that live longer than the policy allows."""
    session, received = issued
    limit = target.profile.expectations.access_max_lifetime
    check_lifetime(probe, "access", session.access, received, limit)


@pytest.mark.check("JWT-REFRESH-LIFETIME-EXCESSIVE")
def test_refresh_lifetime_within_policy(
    probe: Probe, target: Target, issued: tuple[AuthSession, float]
) -> None:
    """A vulnerable target issues refresh tokens that live longer than the policy allows."""
    session, received = issued
    if not session.refresh:
        probe.skip("the target issued no refresh token (tokens.refresh in the profile)")
    limit = target.profile.expectations.refresh_max_lifetime
    check_lifetime(probe, "refresh", session.refresh, received, limit)


@pytest.mark.check("JWT-NO-JTI")
def test_tokens_carry_jti_for_revocation(
    probe: Probe, target: Target, issued: tuple[AuthSession, float]
) -> None:
    """A vulnerable target offers logout but issues tokens without a jti to revoke them by."""
    if not target.profile.endpoints.logout:
        probe.skip("the profile names no logout endpoint")
    session, _ = issued
    if "jti" not in split(session.access)[1]:
        probe.finding("access tokens carry no jti although the API offers logout")


@pytest.mark.check("JWT-EXP-NOT-REQUIRED")
def test_tokens_without_exp_are_refused(probe: Probe, grey_box: GreyBox, user_token: str) -> None:
    """A vulnerable target accepts a well-signed token that has no exp."""
    key = grey_box.key
    if grey_box.taken(key.resign(user_token, exp=None), "no exp"):
        probe.finding("a well-signed token without exp was accepted")


@pytest.mark.check("JWT-EXPIRED-ACCEPTED")
def test_expired_tokens_are_refused(probe: Probe, grey_box: GreyBox, user_token: str) -> None:
    """A vulnerable target accepts tokens past their exp (excessive leeway)."""
    key = grey_box.key
    now = int(time.time())
    late = [
        ago
        for ago in EXPIRED_BY_S
        if grey_box.taken(expired(key, user_token, now - ago), f"expired {ago} s ago")
    ]
    if late:
        probe.finding(
            f"tokens expired {', '.join(f'{s} s' for s in late)} ago were accepted "
            f"(leeway of at least {max(late)} s)",
            [e for e in grey_box.client.exchanges if e.note and e.note.startswith("expired")],
            data={"accepted_expired_by_s": late},
        )


@pytest.mark.check("JWT-NBF-IGNORED")
def test_not_yet_valid_tokens_are_refused(probe: Probe, grey_box: GreyBox, user_token: str) -> None:
    """A vulnerable target accepts a token whose nbf lies in the future."""
    key = grey_box.key
    token = key.resign(user_token, nbf=int(time.time()) + FUTURE_BY_S)
    if grey_box.taken(token, f"nbf {FUTURE_BY_S} s ahead"):
        probe.finding(f"a token not valid for another {FUTURE_BY_S} s (nbf) was accepted")


@pytest.mark.check("JWT-IAT-FUTURE-ACCEPTED")
def test_tokens_issued_in_the_future_are_refused(
    probe: Probe, grey_box: GreyBox, user_token: str
) -> None:
    """A vulnerable target accepts a token whose iat lies in the future."""
    key = grey_box.key
    ahead = int(time.time()) + FUTURE_BY_S
    token = key.resign(user_token, iat=ahead, exp=ahead + 900)
    if grey_box.taken(token, f"iat {FUTURE_BY_S} s ahead"):
        probe.finding(f"a token issued {FUTURE_BY_S} s in the future (iat) was accepted")


@pytest.mark.check("JWT-EXPIRED-REPLAY")
def test_expired_token_replay_is_refused(
    probe: Probe, client: ProbeClient, target: Target, sessions: SessionPool,
    references: dict[str, Reference], judge_route: Route,
) -> None:  # fmt: skip
    """A vulnerable target still accepts a token it issued once that token has expired."""
    bound = target.profile.expectations.expiry_wait_max
    session = sessions.fresh("user")
    seconds = lifetime(session.access, time.time())
    if seconds is None:
        probe.skip("the access token has no exp; JWT-NO-EXP reports that")
    if seconds > bound:
        probe.skip(
            f"access tokens live {seconds:.0f} s; the replay waits at most {bound} s "
            "(expectations.expiry_wait_max)"
        )
    reference = genuine(probe, references)
    time.sleep(max(split(session.access)[1]["exp"] - time.time(), 0) + 2)
    if sent_and_taken(client, judge_route, reference, session.access, "replayed after exp"):
        probe.finding("an issued token was still accepted after its exp")
