"""The routes a family probes: the profile's, plus those the OpenAPI document marks as secured."""

from __future__ import annotations

from typing import Any

from probes.harness.client import ProbeClient
from probes.harness.profile import Route
from probes.harness.verdicts import TargetError

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def secured_operations(document: dict[str, Any], *, safe_only: bool) -> list[Route]:
    """Operations with a non-empty security requirement and no path parameters."""
    default = document.get("security") or []
    found: list[Route] = []
    for path, item in (document.get("paths") or {}).items():
        if "{" in path or not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if safe_only and method != "get":
                continue
            if operation.get("security", default):
                found.append(Route(method=method.upper(), path=path))
    return found


def protected_routes(
    client: ProbeClient, profile_routes: list[Route], openapi: str | None, *, local: bool
) -> list[Route]:
    """Profile routes first, then secured OpenAPI operations (state-changing ones only locally)."""
    routes = list(profile_routes)
    if openapi:
        try:
            response = client.get(openapi, note="OpenAPI document")
            document = response.json() if response.is_success else {}
        except (ValueError, TargetError):
            document = {}
        for route in secured_operations(document, safe_only=not local):
            if route not in routes:
                routes.append(route)
    return routes
