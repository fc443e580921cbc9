"""SlowAPI limiter per app: shared Redis storage, socket client IP, headers and Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any, TypeVar

from slowapi import Limiter
from starlette.requests import Request

from target_app.core.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def build_limiter(settings: Settings, prefix: str) -> Limiter:
    flaws = settings.flaws
    shared = settings.redis_url is not None and not flaws.on("memory_limiter")
    storage = settings.redis_url if shared else "memory://"
    key_func = (
        client_claimed_ip if flaws.on("xff_trusted") else socket_client_ip(settings.trusted_proxies)
    )
    return Limiter(
        key_func=key_func,
        storage_uri=storage,
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2} if shared else {},
        strategy="moving-window",
        headers_enabled=not flaws.on("no_retry_after"),
        key_prefix=prefix,
        # Never fall back to per-process counters silently: a storage failure is a 503.
        in_memory_fallback_enabled=False,
        swallow_errors=False,
        # Do not let SlowAPI read its own settings from a .env file in the working directory.
        config_filename=str(Path(__file__).with_name("slowapi.env")),
    )


def client_claimed_ip(request: Request) -> str:
    """The xff_trusted flaw: the first X-Forwarded-For hop, whoever sent it.

    (SlowAPI's own ``get_ipaddr`` looks for a header spelt ``X_FORWARDED_FOR``, which clients
    do not send, so it would not reproduce the mistake.)
    """
    claimed = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    if claimed:
        return claimed
    return request.client.host if request.client else "unknown"


def socket_client_ip(trusted_proxies: list[str]) -> Callable[[Request], str]:
    """The peer address; X-Forwarded-For counts only when the peer is a configured proxy."""
    trusted = set(trusted_proxies)

    def key(request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if peer not in trusted:
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if hop not in trusted and _is_ip(hop):
                return hop
        return peer

    return key


def per_user(request: Request) -> str:
    """Key for per-user limits; the auth dependency has stored the user id by then."""
    return f"user:{request.state.user_id}"


def limit_if(limiter: Limiter, value: str, enabled: bool, **kwargs: Any) -> Callable[[F], F]:
    if not enabled:
        return lambda func: func
    return limiter.limit(value, **kwargs)  # type: ignore[no-any-return]


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True
