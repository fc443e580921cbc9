"""Session fixtures shared by the JWT families: the grey-box key, cracking, reference answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probes.harness.client import ProbeClient
from probes.harness.crack import CrackResult, crack
from probes.harness.evidence import Redactor
from probes.harness.forging import split
from probes.harness.greybox import SigningKey, verifies
from probes.harness.judge import Reference
from probes.harness.profile import Route
from probes.harness.sessions import SessionPool
from probes.harness.target import Target


@pytest.fixture(scope="session")
def user_token(sessions: SessionPool) -> str:
    return sessions.get("user").access


@pytest.fixture(scope="session")
def cracked(user_token: str, redactor: Redactor) -> CrackResult:
    """The user's access token cracked offline, when it is HMAC-signed (cached for the run)."""
    result = crack(user_token)
    redactor.add_secret(result.secret)
    return result


@pytest.fixture(scope="session")
def signing_key(
    request: pytest.FixtureRequest, target: Target, user_token: str
) -> SigningKey | None:
    """The key that really signs the target's tokens, or None: grey-box checks skip without it."""
    algorithm = str(split(user_token)[0].get("alg", ""))
    given = target.grey_box_key
    if given and verifies(user_token, given, algorithm):
        return SigningKey(given, algorithm, "profile")
    # Only now is cracking worth its seconds (it is cached for the weak-secret check).
    cracked: CrackResult = request.getfixturevalue("cracked")
    if cracked.secret is not None:
        return SigningKey(cracked.secret, algorithm, "cracked")
    return None


@pytest.fixture(scope="session")
def judge_route(target: Target) -> Route:
    """The protected route whose answers show who the caller is (the profile's first GET route)."""
    routes = target.profile.routes.protected
    return next((route for route in routes if route.method == "GET"), routes[0])


@pytest.fixture(scope="session")
def references(
    target: Target, redactor: Redactor, sessions: SessionPool, judge_route: Route
) -> Iterator[dict[str, Reference]]:
    """The genuine answer on the judge route for each profile user who can log in."""
    client = ProbeClient(target.base_url, redactor, budget=10)
    found: dict[str, Reference] = {}
    for role in ("user", "admin"):
        if sessions.has(role):
            response = client.request(
                judge_route.method, judge_route.path, headers=sessions.get(role).headers()
            )
            found[role] = Reference.of(response)
    yield found
    client.close()
