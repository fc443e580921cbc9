"""``python -m target_app``: clear one-line refusals (no traceback), and the flaw listing."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from target_app.embedded_redis import free_port
from target_app.flaws import CATALOGUE
from tests.target.live import EMBEDDED_NOTE, clean_env, group_pids, launch, launcher_command

GOOD_SECRET = "k" * 32


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    leftover: list[int]


def run_launcher(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Run:
    """Run the launcher to completion in its own process group; never leave it running."""
    command = launcher_command("--host", "127.0.0.1", "--port", str(free_port()), *args)
    process = subprocess.Popen(
        command,
        cwd=cwd,  # no stray .env is read
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        # The launcher has exited: whatever is still in its group was left behind.
        leftover = group_pids(process.pid)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return Run(process.returncode, stdout, stderr, leftover)


REFUSALS = {
    "missing JWT_SECRET": ([], {}, "JWT_SECRET is not set"),
    "short secret": ([], {"JWT_SECRET": "s" * 31}, "JWT_SECRET is shorter than 32 bytes"),
    "unknown flaw": (
        ["--flaws", "alg_none,no_such_flaw"],
        {"JWT_SECRET": GOOD_SECRET},
        "unknown flaw 'no_such_flaw'",
    ),
    "unknown flaw from TARGET_FLAWS": (
        [],
        {"JWT_SECRET": GOOD_SECRET, "TARGET_FLAWS": "alg_nonee"},
        "unknown flaw 'alg_nonee'",
    ),
    "wildcard origin with credentials": (
        [],
        {"JWT_SECRET": GOOD_SECRET, "ALLOWED_ORIGINS": "*"},
        "ALLOWED_ORIGINS contains '*' while credentials are allowed",
    ),
    "zero workers": (["--workers", "0"], {"JWT_SECRET": GOOD_SECRET}, "invalid setting"),
    "missing seed file": (
        ["--seed", "no-such-seed.json"],
        {"JWT_SECRET": GOOD_SECRET},
        "seed file no-such-seed.json",
    ),
}


@pytest.mark.parametrize(("args", "env", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_launcher_refuses_with_a_one_line_error(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    run = run_launcher(tmp_path, *args, env=env)

    assert run.returncode != 0
    assert "Traceback" not in run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    if "JWT_SECRET" in env:
        assert env["JWT_SECRET"] not in run.stdout + run.stderr, "the secret was echoed"


def test_refusal_with_several_workers_stops_the_embedded_redis(tmp_path: Path) -> None:
    run = run_launcher(tmp_path, "--workers", "2")

    assert run.returncode != 0
    assert run.stderr.strip().startswith("error: JWT_SECRET is not set")
    note = EMBEDDED_NOTE.search(run.stdout)
    assert note, run.stdout  # the embedded Redis was started before the settings were checked
    assert run.leftover == [], "processes outlived the refusal"
    client = redis.Redis.from_url(note.group(1), socket_connect_timeout=1)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


def test_a_32_byte_secret_is_accepted(tmp_path: Path) -> None:
    # The other side of the short-secret refusal: exactly 32 bytes starts and serves.
    with launch(tmp_path, secret=GOOD_SECRET, seed=None) as target:
        assert target.request("GET", "/health").json() == {"status": "ok"}


def test_list_flaws_prints_every_flaw_in_the_catalogue(tmp_path: Path) -> None:
    run = run_launcher(tmp_path, "--list-flaws")  # needs no secret

    assert run.returncode == 0, run.stderr
    listed = [line.split()[0] for line in run.stdout.splitlines() if line and line[0] != " "]
    assert sorted(listed) == sorted(CATALOGUE)
    for flaw in CATALOGUE.values():
        assert flaw.description in run.stdout
        assert all(check_id in run.stdout for check_id in flaw.detected_by)
