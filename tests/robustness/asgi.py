"""Raw ASGI requests to the in-process target, from synchronous (hypothesis) code.

httpx refuses some of what a hostile client can put on the wire (non-ASCII bytes in the query,
odd header bytes), so the fuzz tests build the ASGI scope themselves: raw path, raw query string,
raw header bytes and body. The app and its lifespan run on an event loop in a portal thread (the
``target()`` fixture's client), and each call waits for the whole answer, with a time bound.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from tests.target.support import app_of

CALL_TIMEOUT = 30.0


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raised: str | None = None  # an exception that escaped the app (a 500 by then)


async def call(
    app: FastAPI,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> Answer:
    """``path`` and ``query`` as they arrive on the wire (visible ASCII: uvicorn's parsers refuse
    anything else in a request target with a 400); the scope's ``path`` is decoded as uvicorn
    decodes it."""
    raw_headers = [(b"host", b"testserver"), *(headers or [])]
    if body:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": query,
        "root_path": "",
        "headers": raw_headers,
        "client": client,
        "server": ("testserver", 80),
    }
    sent_body = False
    status = 0
    out_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the app still works
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    raised = None
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout=CALL_TIMEOUT)
    except TimeoutError:
        raise
    except Exception as exc:  # an escaped exception: the server would answer 500
        raised = f"{type(exc).__name__}: {exc}"
        status = status or 500
    return Answer(status, out_headers, b"".join(chunks), raised)


class Caller:
    """Synchronous calls into the app running in the portal's event loop."""

    def __init__(self, portal: BlockingPortal, app: FastAPI) -> None:
        self.portal = portal
        self.app = app
        self.calls = 0

    def __call__(self, method: str, path: str, **kwargs: Any) -> Answer:
        self.calls += 1
        return self.portal.call(functools.partial(call, self.app, method, path, **kwargs))


@contextmanager
def in_process(target: Any, **settings: Any) -> Iterator[Caller]:
    """``with in_process(target, login_limit=...) as send``: the target app with its lifespan."""
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(target(**settings)) as client,
    ):
        yield Caller(portal, app_of(client))
