"""Logging in as a profile user, and the authenticated session that results."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from probes.harness.client import ProbeClient
from probes.harness.profile import Profile, credentials, dotted, user_refs
from probes.harness.verdicts import HarnessError, TargetError


class LoginFailed(HarnessError):
    """A login without a token; ``refused`` when the target said no (wrong credentials, an
    inactive user), not when it failed (5xx, a redirect, an answer of the wrong shape)."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class LoginServerError(LoginFailed, TargetError):
    """The login route answered 5xx: the target failed, so checks report a target error."""


@dataclass
class AuthSession:
    role: str
    access: str
    refresh: str | None
    scheme: str
    # The login answer itself, for checks on token responses (headers, lifetimes).
    response_headers: httpx.Headers | None = None

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"{self.scheme} {token or self.access}"}


def login_request(profile: Profile, username: str, password: str) -> dict[str, Any]:
    """The httpx keyword arguments for one login attempt with these credentials."""
    login = profile.login
    if login.format == "form":
        return {"data": {login.username_field: username, login.password_field: password}}
    if login.template:
        return {"json": _render(json.loads(login.template), username, password)}
    return {"json": {login.username_field: username, login.password_field: password}}


def _render(node: Any, username: str, password: str) -> Any:
    if isinstance(node, dict):
        return {k: _render(v, username, password) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, username, password) for v in node]
    if isinstance(node, str):
        return node.replace("{username}", username).replace("{password}", password)
    return node


def login_succeeded(profile: Profile, response: httpx.Response) -> bool:
    return extract_token(profile, response, profile.tokens.access) is not None


def extract_token(profile: Profile, response: httpx.Response, path: str | None) -> str | None:
    if path is None or not response.is_success:
        return None
    try:
        value = dotted(response.json(), path)
    except ValueError:
        return None
    return value if isinstance(value, str) and value.count(".") == 2 else None


def log_in(client: ProbeClient, profile: Profile, role: str) -> AuthSession:
    ref = user_refs(profile).get(role)
    if ref is None:
        raise LoginFailed(f"the profile names no {role!r} user")
    username, password = credentials(ref)
    client.redactor.add_secret(password)
    response = client.post(profile.login.path, **login_request(profile, username, password))
    waited = 0.0
    # Another check may have spent the login limit: wait for it as the target asks, bounded.
    while response.status_code == 429 and waited < profile.audit.max_pacing_wait:
        pause = min(retry_after_s(response) or 60.0, profile.audit.max_pacing_wait - waited)
        time.sleep(pause)
        waited += pause
        response = client.post(profile.login.path, **login_request(profile, username, password))
    access = extract_token(profile, response, profile.tokens.access)
    if access is None:
        failed = LoginServerError if response.status_code >= 500 else LoginFailed
        raise failed(
            f"login as {role!r} failed: {_why(profile, response)}",
            refused=refused(profile, response),
        )
    refresh = extract_token(profile, response, profile.tokens.refresh)
    return AuthSession(role, access, refresh, profile.tokens.scheme, response.headers)


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds to wait from Retry-After, else X-RateLimit-Reset (seconds or an epoch time)."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value) + 0.5
    try:
        reset = float(response.headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(reset - time.time(), 0.0) + 0.5 if reset > 1e9 else reset + 0.5


def refused(profile: Profile, response: httpx.Response) -> bool:
    """Whether the answer is a refused login by the profile's signs (status, or body text)."""
    login = profile.login
    if response.status_code in login.failure_statuses:
        return True
    contains = login.failure_body_contains
    return bool(contains) and contains in response.text


def _why(profile: Profile, response: httpx.Response) -> str:
    """A login without a token, explained so the profile's author knows which field to fix."""
    path, status, access = profile.login.path, response.status_code, profile.tokens.access
    if status == 429:
        return f"{path} answered 429 (login rate limit); wait, or log in less often"
    if refused(profile, response):
        return (
            f"{path} refused it ({status}); check the credentials' environment variables and "
            "the body shape (login.format, login.template or login.*_field)"
        )
    if not response.is_success:
        return f"{path} answered {status} without a token at tokens.access = '{access}'"
    body = _json_or_none(response)
    found = _jwt_paths(body)
    if found:
        seen = f"the response has one at '{found[0]}'"
    elif body is None:
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        seen = f"the body is not JSON ({kind})"
    else:
        seen = "the response body holds no JWT"
    elsewhere = _jwt_headers(response)
    if not found and elsewhere:
        seen += (
            f"; a JWT came in the {', '.join(elsewhere)} header instead, and tokens.access "
            "reads the JSON body only"
        )
    return f"{path} answered {status} but no JWT sits at tokens.access = '{access}'; {seen}"


def _jwt_headers(response: httpx.Response) -> list[str]:
    """Names of the response headers (cookies included) that carry a JWT-looking value."""
    names = []
    for name, value in response.headers.multi_items():
        if any(part.startswith("eyJ") and part.count(".") == 2 for part in _words(value)):
            names.append(name.lower())
    return sorted(set(names))


def _words(value: str) -> list[str]:
    for separator in (";", ",", "=", " "):
        value = value.replace(separator, " ")
    return value.split()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _jwt_paths(node: Any, prefix: str = "", depth: int = 4) -> list[str]:
    """Dotted paths of the JWT-looking strings in a JSON document (a bounded walk)."""
    if isinstance(node, str):
        return [prefix] if node.startswith("eyJ") and node.count(".") == 2 else []
    if depth == 0:
        return []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node[:20]))
    else:
        return []
    found: list[str] = []
    for key, value in items:
        found += _jwt_paths(value, f"{prefix}.{key}" if prefix else str(key), depth - 1)
    return found
