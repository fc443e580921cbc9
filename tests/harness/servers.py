"""Tiny loopback HTTP servers for client tests: each records what reached it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# path -> (status, headers, body); a handler may also be a callable taking the request path.
Route = tuple[int, dict[str, str], bytes]


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes
    client: tuple[str, int]  # the peer's address and port: one port per TCP connection


@dataclass
class Server:
    host: str
    port: int
    seen: list[Recorded] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def paths(self) -> list[str]:
        return [r.path for r in self.seen]


@contextmanager
def http_server(
    routes: Callable[[str], Route], host: str = "127.0.0.1", port: int = 0
) -> Iterator[Server]:
    """Serve ``routes(path)`` for every method; record each request."""
    record: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be seen
        timeout = 5  # an idle kept-alive connection does not hold its thread for long

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            record.append(Recorded(self.command, self.path, body, peer))
            status, headers, payload = routes(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Server(host, server.server_address[1], record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class RawServer:
    """A TCP listener whose connections get ``behaviour(conn)``; counts connections."""

    port: int
    connections: int = 0


@contextmanager
def raw_server(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[RawServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    state = RawServer(listener.getsockname()[1])
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            state.connections += 1
            worker = threading.Thread(target=_serve, args=(conn,))
            workers.append(worker)
            worker.start()

    def _serve(conn: socket.socket) -> None:
        with conn:
            behaviour(conn, stop)

    thread = threading.Thread(target=accept_loop)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=5)
        for worker in workers:
            worker.join(timeout=5)
        listener.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
