"""A loopback-only HTTP listener for jku/x5u probes: serves our keys and records every fetch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Listener:
    url: str
    documents: dict[str, tuple[str, bytes]]
    hits: list[str] = field(default_factory=list)

    def fetched(self, path: str) -> bool:
        return path in self.hits


@contextmanager
def listening(documents: dict[str, tuple[str, bytes]]) -> Iterator[Listener]:
    """Serve ``{path: (content_type, body)}`` on 127.0.0.1, on a free port, until the block ends."""
    listener = Listener(url="", documents=documents)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            listener.hits.append(self.path)
            content_type, body = listener.documents.get(self.path, ("text/plain", b"not found"))
            self.send_response(200 if self.path in listener.documents else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 2
    listener.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def is_loopback_url(url: str) -> bool:
    from ipaddress import ip_address

    import httpx

    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
