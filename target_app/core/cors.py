"""CORS options per environment: exact origins, credentials, only the methods and headers used."""

from __future__ import annotations

from typing import Any

from target_app.core.config import Settings

API_METHODS = ["GET", "POST"]
API_HEADERS = ["Authorization", "Content-Type"]
EXPOSED_HEADERS = ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
UNANCHORED_REGEX = r"https://.*example.com"


def cors_options(settings: Settings) -> dict[str, Any]:
    flaws = settings.flaws
    options: dict[str, Any] = {
        "allow_origins": list(settings.origins),
        "allow_credentials": settings.cors_allow_credentials,
        "allow_methods": API_METHODS,
        "allow_headers": API_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "max_age": settings.cors_max_age,
    }
    if flaws.on("cors_wildcard_credentials"):
        options.update(allow_origins=["*"], allow_credentials=True)
    if flaws.on("cors_null_origin"):
        options["allow_origins"] = [*options["allow_origins"], "null"]
    if flaws.on("cors_unanchored_regex"):
        options.update(allow_origins=[], allow_origin_regex=UNANCHORED_REGEX)
    if flaws.on("cors_any_method_header"):
        options.update(allow_methods=["*"], allow_headers=["*"])
    return options
