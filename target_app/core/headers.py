"""Security headers as a pure ASGI middleware, placed outermost so every response carries them.

``X-XSS-Protection`` is sent as ``0``: the legacy XSS auditor is gone from current browsers and
``1; mode=block`` (the seed's value) enabled cross-site leaks in the ones that had it. OWASP's
secure-headers project recommends ``0`` or nothing; ``0`` states the choice explicitly.
"""

from __future__ import annotations

import os
from typing import Literal

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-XSS-Protection": "0",
}
NO_STORE = "no-store"
HSTS = "max-age=63072000; includeSubDomains"
BANNERS = {"Server": "uvicorn", "X-Powered-By": "FastAPI"}

Coverage = Literal["all", "success_only", "none"]


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        coverage: Coverage = "all",
        no_store: bool = True,
        force_hsts: bool = False,
        banner: bool = False,
    ) -> None:
        self.app = app
        self.coverage = coverage
        self.no_store = no_store
        self.force_hsts = force_hsts
        self.banner = banner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._apply(scope, message)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _apply(self, scope: Scope, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        del headers["server"]
        if self.banner:
            headers.update(BANNERS)
        if not self._covers(scope, message["status"]):
            return
        headers.update(SECURITY_HEADERS)
        if self.no_store:
            headers["Cache-Control"] = NO_STORE
        if self.force_hsts or scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = HSTS

    def _covers(self, scope: Scope, status: int) -> bool:
        if self.coverage == "none":
            return False
        if self.coverage == "success_only":
            # The flawed variant: headers set by the happy path only.
            return status < 400 and scope.get("method") != "OPTIONS"
        return True


class WorkerHeaderMiddleware:
    """Local diagnostics only: names the worker process that answered (``X-Target-Worker``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-target-worker", self.pid))
            await send(message)

        await self.app(scope, receive, send_with_pid)
