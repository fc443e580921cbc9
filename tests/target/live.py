"""Run ``python -m target_app`` as a real process group on a free loopback port.

``launch()`` writes a seed file, starts the launcher in its own session (so it leads a process group
holding uvicorn's workers and any embedded Redis), waits for every worker to be up with a bounded
deadline, and always tears the whole group down, also when the test fails. Each request helper
opens a fresh TCP connection, so the kernel hands it to any worker.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from target_app.core.config import Settings
from target_app.embedded_redis import free_port
from target_app.seed import SeedUser
from tests.conftest import SEEDED

LOOPBACK = "127.0.0.1"
MACHINE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULT_SEED: tuple[SeedUser, ...] = (SEEDED.active, SEEDED.inactive, SEEDED.admin)
WORKER_HEADER = "x-target-worker"
STARTED = "Application startup complete."
EMBEDDED_NOTE = re.compile(r"note: started embedded Redis at (redis://\S+)")
REQUEST_TIMEOUT = 20.0

# Every variable the target's Settings reads, by field name and by alias: the child gets only what
# the test passes, never what happens to be set in the developer's shell.
_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {
    str(info.validation_alias).upper()
    for info in Settings.model_fields.values()
    if info.validation_alias is not None
}


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in _SETTING_NAMES}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def launcher_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "target_app", *args]


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``, read from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` with their executable names (``comm``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split around the parentheses.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = comm
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class LiveTarget:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    log_path: Path
    redis_prefix: str | None = None
    stopped_returncode: int | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pgid(self) -> int:
        # start_new_session=True: the launcher leads its own session and process group.
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def embedded_redis_url(self) -> str | None:
        match = EMBEDDED_NOTE.search(self.log())
        return match.group(1) if match else None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request over its own, new TCP connection (no keep-alive, no proxy from the env)."""
        with httpx.Client(
            base_url=self.base_url,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=REQUEST_TIMEOUT,
            trust_env=False,
        ) as client:
            return client.request(method, path, **kwargs)

    def stop(self, timeout: float = 20.0) -> int:
        """Graceful stop: SIGTERM to the launcher, which stops its workers and embedded Redis."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.stopped_returncode = self.process.poll()
        return -1 if self.stopped_returncode is None else self.stopped_returncode

    def kill_group(self, timeout: float = 10.0) -> None:
        """Backstop: SIGKILL whatever is left in the group, then make sure nothing is."""
        with suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while group_pids(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_pids(self.pgid)
        if left:
            raise RuntimeError(f"target process group {self.pgid} left processes {left}")


def worker_of(response: httpx.Response) -> str:
    worker = response.headers.get(WORKER_HEADER)
    assert worker, f"no {WORKER_HEADER} header; was --diagnostic-headers passed?"
    return worker


def bounded(max_count: int, max_seconds: float) -> Iterator[int]:
    """0, 1, 2, ... until either the count or the wall-clock budget is spent."""
    deadline = time.monotonic() + max_seconds
    for index in range(max_count):
        if time.monotonic() > deadline:
            return
        yield index


def write_seed(path: Path, users: Sequence[SeedUser]) -> Path:
    path.write_text(json.dumps([asdict(user) for user in users]))
    return path


@contextmanager
def launch(
    workdir: Path,
    *,
    workers: int = 1,
    flaws: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    database_url: str | None = None,
    seed: Sequence[SeedUser] | None = DEFAULT_SEED,
    diagnostic_headers: bool = True,
    secret: str | None = None,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 90.0,
) -> Iterator[LiveTarget]:
    """Start the launcher and yield once every worker has started; always tear the group down.

    ``database_url`` defaults to a fresh SQLite file in ``workdir``. With ``redis_url`` None and
    ``workers`` > 1 the launcher starts its embedded Redis.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    args = ["--host", LOOPBACK, "--workers", str(workers), "--log-level", "info"]
    args += ["--database-url", database_url or f"sqlite+aiosqlite:///{workdir / f'{tag}.db'}"]
    if flaws:
        args += ["--flaws", flaws]
    if redis_url:
        args += ["--redis-url", redis_url]
    if redis_prefix:
        args += ["--redis-prefix", redis_prefix]
    if seed:
        args += ["--seed", str(write_seed(workdir / f"seed-{tag}.json", seed))]
    if diagnostic_headers:
        args.append("--diagnostic-headers")
    child_env = clean_env({"JWT_SECRET": secret or secrets.token_hex(32), **(env or {})})

    target: LiveTarget | None = None
    try:
        for attempt in range(3):
            port = free_port(LOOPBACK)
            log_path = workdir / f"target-{tag}-{attempt}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    launcher_command(*args, "--port", str(port)),
                    cwd=workdir,  # no stray .env is read
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            target = LiveTarget(process, port, workers, log_path, redis_prefix)
            if _wait_ready(target, startup_timeout):
                break
            if "address already in use" not in target.log().lower():
                raise RuntimeError(f"target exited during start-up:\n{target.log_tail()}")
            target.kill_group()  # the port was taken between probe and bind: try another one
        else:
            raise RuntimeError("no free port after 3 attempts")
        yield target
    finally:
        if target is not None:
            target.stop()
            target.kill_group()


def _wait_ready(target: LiveTarget, timeout: float) -> bool:
    """True once /health answers and every worker logged its start-up; False if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            return False
        if target.log().count(STARTED) >= target.workers:
            try:
                if target.request("GET", "/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"target not ready within {timeout:.0f}s:\n{target.log_tail()}")


@contextmanager
def redis_namespace() -> Iterator[tuple[str | None, str]]:
    """The machine's Redis with a unique key prefix, cleaned afterwards.

    Yields ``(url, prefix)``; ``url`` is None when no Redis answers at ``TEST_REDIS_URL``, and the
    launcher then starts its embedded Redis instead (still one Redis shared by all workers).
    """
    prefix = f"test-live-{secrets.token_hex(6)}"
    client = redis.Redis.from_url(MACHINE_REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        client.close()
        yield None, prefix
        return
    try:
        yield MACHINE_REDIS_URL, prefix
    finally:
        try:
            keys = list(client.scan_iter(match=f"*{prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
