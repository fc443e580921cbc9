"""What both fixture APIs share: users, a request ledger, security headers, a loopback server."""

from __future__ import annotations

import hmac
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0

# Secure defaults for a JSON API; every response gets them, errors and preflights included.
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class User:
    username: str
    password: str
    role: str = "user"  # "user" or "admin"
    active: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def password_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.password.encode(), given.encode())


@dataclass
class Ledger:
    """What a fixture API saw, for tests to assert on: requests, logins, auth outcomes, tokens."""

    requests: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # "GET /api/user"
    statuses: Counter[int] = field(default_factory=Counter)
    logins_ok: Counter[str] = field(default_factory=Counter)  # username
    logins_refused: Counter[str] = field(default_factory=Counter)  # reason
    auth_schemes: Counter[str] = field(default_factory=Counter)  # scheme word presented
    auth_rejected: Counter[str] = field(default_factory=Counter)  # reason
    auth_accepted: Counter[str] = field(default_factory=Counter)  # username
    issued: list[str] = field(default_factory=list)  # every token handed out


class Instrumented:
    """Outermost ASGI middleware: counts every request and sets the security headers."""

    def __init__(self, app: ASGIApp, ledger: Ledger, extra: dict[str, str] | None = None) -> None:
        self.app = app
        self.ledger = ledger
        self.headers = {**SECURITY_HEADERS, **(extra or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.ledger.requests += 1
        self.ledger.hits[f"{scope['method']} {scope['path']}"] += 1

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.ledger.statuses[message["status"]] += 1
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields the base URL, always stops it."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response waits ~40 ms (Nagle against delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fixture server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fixture server did not start in {STARTUP_TIMEOUT} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the fixture server did not stop in {SHUTDOWN_TIMEOUT} s")
