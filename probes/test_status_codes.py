"""401 versus 403: bad credentials get 401 with a challenge; forbidden callers get 403."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from probes.harness.auth import AuthSession, LoginFailed
from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.forging import MALFORMED_TOKENS, with_bad_signature
from probes.harness.greybox import SigningKey
from probes.harness.observe import Observation, observe
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.routes import protected_routes
from probes.harness.sessions import SessionPool
from probes.harness.target import Target

NO_TOKEN = "no token"
UNSIGNED_KINDS = (NO_TOKEN, "malformed token")


def bad_credentials(session: AuthSession, key: SigningKey | None) -> dict[str, dict[str, str]]:
    """Each kind of bad credential, as request headers."""
    kinds = {NO_TOKEN: {}, "malformed token": session.headers(MALFORMED_TOKENS[0])}
    kinds["bad signature"] = session.headers(with_bad_signature(session.access))
    if session.refresh:
        kinds["refresh token as access"] = session.headers(session.refresh)
    if key is not None:  # grey box: well-signed tokens whose sub is not a user
        for label, sub in (("non-UUID sub", "not-a-user-id"), ("unknown sub", str(uuid.uuid4()))):
            kinds[label] = session.headers(key.resign(session.access, sub=sub))
    return kinds


def send(client: ProbeClient, route: Route, kind: str, headers: dict[str, str]) -> Observation:
    response = client.request(route.method, route.path, headers=headers, note=kind)
    return observe(kind, str(route), response, client.exchanges[-1])


def is_success(observation: Observation) -> bool:
    return 200 <= observation.status < 300


@pytest.fixture(scope="module")
def family_client(target: Target, redactor: Redactor) -> Iterator[ProbeClient]:
    client = ProbeClient(target.base_url, redactor, budget=300)
    yield client
    client.close()


@pytest.fixture(scope="module")
def routes(family_client: ProbeClient, target: Target) -> list[Route]:
    profile = target.profile
    local = target.mode == "local"
    openapi = profile.expectations.openapi
    return protected_routes(family_client, profile.routes.protected, openapi, local=local)


@pytest.fixture(scope="module")
def baseline(
    family_client: ProbeClient, routes: list[Route], sessions: SessionPool
) -> dict[str, Observation]:
    """Each protected GET route with the user's valid token; only routes that answer 2xx count."""
    headers = sessions.get("user").headers()
    readable = [route for route in routes if route.method == "GET"]
    return {str(route): send(family_client, route, "valid token", headers) for route in readable}


@pytest.fixture(scope="module")
def unauthenticated(
    family_client: ProbeClient,
    routes: list[Route],
    sessions: SessionPool,
    signing_key: SigningKey | None,
) -> list[Observation]:
    """Every protected route with every kind of bad credential.

    The bad tokens derive from a throwaway login: on a flawed target a forged token may be
    accepted by a state-changing route (logout), and must not revoke the shared session.
    """
    kinds = bad_credentials(sessions.fresh("user"), signing_key)
    return [
        send(family_client, route, kind, headers)
        for route in routes
        for kind, headers in kinds.items()
    ]


@pytest.fixture(scope="module")
def forbidden(
    family_client: ProbeClient, target: Target, sessions: SessionPool
) -> dict[str, Observation]:
    """The low-privilege user on the admin route, and the inactive user on a protected route."""
    profile = target.profile
    seen: dict[str, Observation] = {}
    if profile.routes.admin:
        seen["user on admin route"] = send(
            family_client,
            profile.routes.admin,
            "user on admin route",
            sessions.get("user").headers(),
        )
    if sessions.has("inactive"):
        try:
            headers = sessions.get("inactive").headers()
        except LoginFailed as exc:
            if not exc.refused:
                raise  # the login failed (a 5xx, a redirect...), which is not a refusal
            return seen  # the target refuses inactive users at login: no token to misuse
        route = profile.routes.protected[0]
        seen["inactive user"] = send(family_client, route, "inactive user", headers)
    return seen


def answered(
    observations: list[Observation], probe: Probe, statuses: set[int]
) -> list[Observation]:
    """The observations with these statuses; none at all means the check cannot decide."""
    hits = [o for o in observations if o.status in statuses]
    if not hits:
        seen = sorted({o.status for o in observations})
        probe.inconclusive(f"no route answered {sorted(statuses)} to a bad token (saw {seen})")
    return hits


def require_accepted_token(probe: Probe, baseline: dict[str, Observation]) -> None:
    """A refused forbidden caller means something only if the user's token works somewhere.

    Otherwise (a wrong ``tokens.scheme``, say) every answer is 401 for the same dull reason.
    """
    if not any(is_success(o) for o in baseline.values()):
        seen = sorted({o.status for o in baseline.values()})
        probe.inconclusive(
            f"the user's valid token got no 2xx on any protected GET route (saw {seen}), "
            "so a refused forbidden caller proves nothing; check tokens.scheme and routes.protected"
        )


def require_refusal_or_success(probe: Probe, observations: list[Observation]) -> None:
    """A 5xx to a forbidden caller is neither a refusal nor a grant: the check cannot decide.

    (Without this, a target failing intermittently would pass the forbidden-caller checks.)
    """
    failed = [o for o in observations if o.status >= 500]
    if failed:
        where = ", ".join(f"{o.kind} on {o.route}: {o.status}" for o in failed)
        probe.inconclusive(f"the target failed instead of answering ({where}); run it again")


def kinds_of(observations: list[Observation]) -> str:
    kinds = ", ".join(sorted({o.kind for o in observations}))
    return f"{kinds} (on {', '.join(sorted({o.route for o in observations}))})"


@pytest.mark.check("AUTHZ-403-FOR-UNAUTHENTICATED")
def test_bad_credentials_get_401_not_403(probe: Probe, unauthenticated: list[Observation]) -> None:
    """A vulnerable target answers a missing or invalid token with 403."""
    answered(unauthenticated, probe, {401, 403})
    wrong = [o for o in unauthenticated if o.status == 403]
    detail = f"{{n}} of {len(unauthenticated)} bad-credential requests got 403: {kinds_of(wrong)}"
    probe.expect_none([o.exchange for o in wrong], detail)


@pytest.mark.check("AUTHZ-NO-WWW-AUTHENTICATE")
def test_401_carries_a_challenge(probe: Probe, unauthenticated: list[Observation]) -> None:
    """A vulnerable target sends 401 without a WWW-Authenticate challenge."""
    challenged = answered(unauthenticated, probe, {401})
    bare = [o for o in challenged if not o.header("www-authenticate")]
    detail = f"{{n}} of {len(challenged)} 401 responses carry no WWW-Authenticate"
    probe.expect_none([o.exchange for o in bare], detail)


@pytest.mark.check("AUTHZ-ROUTE-UNPROTECTED")
def test_protected_routes_need_a_token(
    probe: Probe, unauthenticated: list[Observation], baseline: dict[str, Observation]
) -> None:
    """A vulnerable target serves a protected route without any valid token."""
    working = {route for route, observation in baseline.items() if is_success(observation)}
    if not working:
        probe.inconclusive("no protected route answered 2xx to the user's valid token")
    served = [
        o
        for o in unauthenticated
        if o.route in working and o.kind in UNSIGNED_KINDS and is_success(o)
    ]
    probe.expect_none(
        [o.exchange for o in served], f"{{n}} requests were served: {kinds_of(served)}"
    )


@pytest.mark.check("SERVER-ERROR-ON-BAD-TOKEN")
def test_bad_tokens_never_cause_server_errors(
    probe: Probe, unauthenticated: list[Observation]
) -> None:
    """A vulnerable target fails with 5xx on an odd token (malformed, non-UUID or unknown sub)."""
    answered(unauthenticated, probe, set(range(200, 600)))
    errors = [o for o in unauthenticated if o.status >= 500]
    detail = f"{{n}} bad-token requests caused a server error: {kinds_of(errors)}"
    probe.expect_none([o.exchange for o in errors], detail)


def expect_refused(
    probe: Probe, observation: Observation, baseline: dict[str, Observation], who: str
) -> None:
    """A finding when ``who`` was served; else a pass needs a sound baseline and a refusal."""
    if is_success(observation):
        probe.finding(
            f"{observation.route} answered {observation.status} to {who}", [observation.exchange]
        )
    require_accepted_token(probe, baseline)
    require_refusal_or_success(probe, [observation])


@pytest.mark.check("AUTHZ-401-FOR-FORBIDDEN")
def test_forbidden_callers_get_403_not_401(
    probe: Probe, forbidden: dict[str, Observation], baseline: dict[str, Observation]
) -> None:
    """A vulnerable target answers an authenticated but forbidden caller with 401."""
    if not forbidden:
        probe.skip("the profile names neither an admin route nor a usable inactive user")
    require_accepted_token(probe, baseline)
    require_refusal_or_success(probe, list(forbidden.values()))
    wrong = [o for o in forbidden.values() if o.status == 401]
    probe.expect_none(
        [o.exchange for o in wrong], f"{{n}} forbidden requests got 401: {kinds_of(wrong)}"
    )


@pytest.mark.check("AUTHZ-FUNCTION-LEVEL")
def test_user_cannot_reach_admin_route(
    probe: Probe, forbidden: dict[str, Observation], baseline: dict[str, Observation]
) -> None:
    """A vulnerable target serves its admin route to a low-privilege user."""
    observation = forbidden.get("user on admin route")
    if observation is None:
        probe.skip("the profile names no admin route (routes.admin)")
    expect_refused(probe, observation, baseline, "a low-privilege user")


@pytest.mark.check("AUTHZ-INACTIVE-USER-ACCEPTED")
def test_inactive_user_is_refused(
    probe: Probe, forbidden: dict[str, Observation], baseline: dict[str, Observation]
) -> None:
    """A vulnerable target keeps serving a deactivated user's token."""
    observation = forbidden.get("inactive user")
    if observation is None:
        probe.skip("no inactive user in the profile, or the target refuses it at login")
    expect_refused(probe, observation, baseline, "an inactive user")
