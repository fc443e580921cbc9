"""Launches the local ``target_app`` for an audit and writes the matching profile.

The target runs as its own process group on a free loopback port, with seeded users whose random
passwords reach the probes only through environment variables named in the generated profile.
With more than one worker the launcher starts the embedded Redis itself and hands the target its
URL, so checks can stop and restart it (``stop_redis``/``restart_redis``) and a second instance
can share it (``sibling``). ``stop()`` tears the whole group down (workers) and the Redis it owns,
and is also registered with ``atexit`` so a Ctrl-C or a failed start leaves nothing behind.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from probes.harness.profile import Profile, parse_profile

if TYPE_CHECKING:
    from target_app.embedded_redis import EmbeddedRedis
from probes.harness.verdicts import HarnessError

START_TIMEOUT = 90.0
ENV_PREFIX = "PROBES_LOCAL_"
# Set it to use that directory (created if need be, best empty) as the target's workdir instead of
# a fresh temporary one, and to keep it after the run. Tests use it to read back what the launcher
# generated: the seed file (passwords) and, only then, the signing key in KEY_FILE, to check that
# no artifact contains them. A temporary workdir is removed by ``stop()``: it holds the passwords.
WORKDIR_ENV = f"{ENV_PREFIX}WORKDIR"
KEY_FILE = "signing.key"
LOGIN_LIMIT = "5/minute"
SENSITIVE = [
    {"route": "POST /auth/password-reset", "limit": "3/hour"},
    {"route": "POST /auth/verify-email", "limit": "5/hour"},
    {"route": "GET /users/me/export", "limit": "10/hour", "per_user": True},
]
ROLES = {
    "user": {"email": "alice@example.test", "role": "user", "is_active": True},
    "admin": {"email": "root@example.test", "role": "admin", "is_active": True},
    "inactive": {"email": "ivan@example.test", "role": "user", "is_active": False},
    # A second ordinary user: its own rate-limit buckets, and local deactivation checks.
    "spare": {"email": "bob@example.test", "role": "user", "is_active": True},
}


class LaunchError(HarnessError):
    pass


@dataclass
class LocalTarget:
    flaws: str
    workers: int
    algorithm: str = "HS256"
    host: str = "127.0.0.1"
    port: int = 0
    workdir: Path = field(default_factory=lambda: _workdir())
    process: subprocess.Popen[bytes] | None = None
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    passwords: dict[str, str] = field(default_factory=dict)
    # Another app factory to serve instead of target_app's (the benchmark's bare-route variant).
    app: str | None = None
    # A Redis given by the caller (a sibling shares its primary's); else one is started when
    # there is more than one worker, and owned (stopped with the target).
    redis_url: str | None = None
    redis_prefix: str = field(default_factory=lambda: f"probes-{secrets.token_hex(4)}")
    redis: EmbeddedRedis | None = None
    # A sibling instance: the primary's database, key and users; nothing seeded, no key written.
    primary: LocalTarget | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def database(self) -> Path:
        return self.primary.database if self.primary else self.workdir / "target.db"

    @property
    def log_path(self) -> Path:
        return self.workdir / "target.log"

    def start(self) -> None:
        self.port = _free_port(self.host)
        seed = None if self.primary else self._write_seed()
        environment = self._environment()
        if os.environ.get(WORKDIR_ENV) and not self.primary:
            _write_private(self.workdir / KEY_FILE, self.secret)
        atexit.register(self.stop)
        if self.workers > 1 and self.redis_url is None:
            from target_app import embedded_redis

            self.redis = embedded_redis.start()
            self.redis_url = self.redis.url
        with self.log_path.open("wb") as log:  # the target keeps its own copy of the handle
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self._command(seed),
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_healthy()

    def _command(self, seed: Path | None) -> list[str]:
        command = [
            sys.executable, "-m", "target_app",
            "--host", self.host, "--port", str(self.port),
            "--workers", str(self.workers),
            "--database-url", f"sqlite+aiosqlite:///{self.database}",
            "--environment", "test",
            "--algorithm", self.algorithm,
            "--redis-prefix", self.redis_prefix,
            "--diagnostic-headers",
        ]  # fmt: skip
        if seed is not None:
            command += ["--seed", str(seed)]
        if self.redis_url:
            command += ["--redis-url", self.redis_url]
        if self.flaws:
            command += ["--flaws", self.flaws]
        if self.app:
            command += ["--app", self.app]
        return command

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
        env["JWT_SECRET"] = self.secret
        env.pop("TARGET_FLAWS", None)
        if self.algorithm != "HS256":
            from target_app.core.keys import generate_private_pem

            if self.primary is None:  # a sibling signs with its primary's key
                self.secret = generate_private_pem(self.algorithm)
            env["JWT_PRIVATE_KEY"] = self.secret
        return env

    def _write_seed(self) -> Path:
        users = []
        for role, user in ROLES.items():
            self.passwords[role] = f"Pw-{secrets.token_urlsafe(12)}"
            users.append({**user, "password": self.passwords[role]})
        path = self.workdir / "seed.json"
        _write_private(path, json.dumps(users))
        return path

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.log_tail()  # before stop() removes the log with the workdir
                self.stop()
                raise LaunchError(f"the local target exited during start-up:\n{tail}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LaunchError(f"the local target did not answer /health in {START_TIMEOUT:.0f} s")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait(timeout=5)
            # Workers can outlive the supervisor on a hard kill.
            _signal_group(process, signal.SIGKILL)
        redis, self.redis = self.redis, None
        if redis is not None:
            redis.stop()
        if self.workdir in _TEMPORARY_WORKDIRS:  # never a directory the caller chose
            _TEMPORARY_WORKDIRS.discard(self.workdir)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_redis(self) -> None:
        """Local-only capability: stop the Redis this target owns (``restart_redis`` brings it back,
        empty, on the same port)."""
        if self.redis is None:
            raise LaunchError("this local target owns no Redis (it runs a single worker)")
        self.redis.stop()

    def restart_redis(self) -> None:
        if self.redis is None:
            raise LaunchError("this local target owns no Redis (it runs a single worker)")
        if self.redis.process.poll() is None:
            return
        from target_app import embedded_redis

        self.redis = embedded_redis.start(port=self.redis.port)

    def sibling(self) -> LocalTarget:
        """A second instance on its own port, sharing this one's Redis (and prefix), database,
        signing key and users: two instances behind one load balancer. Start and stop it."""
        workdir = Path(tempfile.mkdtemp(prefix="probes-sibling-"))
        _TEMPORARY_WORKDIRS.add(workdir)
        return LocalTarget(
            flaws=self.flaws,
            workers=self.workers,
            algorithm=self.algorithm,
            host=self.host,
            workdir=workdir,
            secret=self.secret,
            passwords=dict(self.passwords),
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            primary=self,
        )

    def set_active(self, role: str, active: bool) -> None:
        """Local-only capability: (de)activate a seeded user straight in the target's database."""
        with sqlite3.connect(self.database, timeout=15) as db:
            db.execute(
                "UPDATE users SET is_active = ? WHERE email = ?", (active, ROLES[role]["email"])
            )

    def export_credentials(self) -> None:
        for role, user in ROLES.items():
            os.environ[f"{ENV_PREFIX}{role.upper()}"] = str(user["email"])
            os.environ[f"{ENV_PREFIX}{role.upper()}_PASSWORD"] = self.passwords[role]
        os.environ[f"{ENV_PREFIX}JWT_KEY"] = self.secret

    def profile_data(self) -> dict[str, Any]:
        return {
            "name": "local target_app",
            "base_url": self.base_url,
            "workers": self.workers,
            "login": {"path": "/auth/login", "format": "form", "failure_statuses": [401]},
            "tokens": {"access": "access_token", "refresh": "refresh_token", "scheme": "Bearer"},
            "endpoints": {
                "refresh": "/auth/refresh",
                "logout": "/auth/logout",
                "registration": "/auth/register",
            },
            "routes": {
                "protected": ["GET /users/me", "GET /users/me/export"],
                "admin": "GET /admin/users",
            },
            "users": {
                role: {
                    "username_env": f"{ENV_PREFIX}{role.upper()}",
                    "password_env": f"{ENV_PREFIX}{role.upper()}_PASSWORD",
                }
                for role in ROLES
            },
            "expectations": {
                "access_max_lifetime": 900,
                "refresh_max_lifetime": 7 * 24 * 3600,
                "cors_allowed_origins": ["https://app.example.com"],
                "login_limit": LOGIN_LIMIT,
                "sensitive_routes": SENSITIVE,
                "openapi": "/openapi.json",
                "health": "/health",
            },
            "grey_box": {"secret_env": f"{ENV_PREFIX}JWT_KEY", "algorithm": self.algorithm},
        }

    def profile(self) -> Profile:
        self.export_credentials()
        return parse_profile(self.profile_data(), source="generated local profile")


# The workdirs the launcher made itself, and so removes when the target stops.
_TEMPORARY_WORKDIRS: set[Path] = set()


def _workdir() -> Path:
    chosen = os.environ.get(WORKDIR_ENV)
    if chosen:
        path = Path(chosen)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix="probes-target-"))
    _TEMPORARY_WORKDIRS.add(path)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, also when it already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _free_port(host: str) -> int:
    from target_app.embedded_redis import free_port

    return free_port(host)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
