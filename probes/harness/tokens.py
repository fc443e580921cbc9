"""Token operations a profile describes: refreshing and logging out."""

from __future__ import annotations

import httpx

from probes.harness.auth import AuthSession, extract_token
from probes.harness.client import ProbeClient
from probes.harness.profile import Profile


def refresh(
    client: ProbeClient, profile: Profile, token: str, note: str
) -> tuple[httpx.Response, AuthSession | None]:
    """Present a token at the refresh endpoint; the new session when the target issued one."""
    assert profile.endpoints.refresh is not None
    body = {profile.endpoints.refresh_field: token}
    response = client.post(profile.endpoints.refresh, json=body, note=note)
    access = extract_token(profile, response, profile.tokens.access)
    if access is None:
        return response, None
    renewed = extract_token(profile, response, profile.tokens.refresh)
    if renewed:
        client.redactor.add_secret(renewed)
    return response, AuthSession("user", access, renewed, profile.tokens.scheme)


def logout(client: ProbeClient, profile: Profile, session: AuthSession) -> httpx.Response:
    """Log out with the access token, sending the refresh token along when there is one."""
    assert profile.endpoints.logout is not None
    body = {profile.endpoints.refresh_field: session.refresh} if session.refresh else None
    return client.post(
        profile.endpoints.logout, headers=session.headers(), json=body, note="logout"
    )
