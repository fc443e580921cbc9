"""The local launcher's workdir: private files, a chosen directory kept, a temporary one removed."""

from __future__ import annotations

import json
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from probes.harness.launcher import (
    KEY_FILE,
    ROLES,
    WORKDIR_ENV,
    LaunchError,
    LocalTarget,
    _write_private,
)
from tests.probes.procs import processes_in_group, processes_mentioning

pytestmark = pytest.mark.audit  # launches the real target


@pytest.fixture
def launched() -> Iterator[list[LocalTarget]]:
    targets: list[LocalTarget] = []
    yield targets
    for target in targets:
        target.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_chosen_workdir_holds_private_seed_and_key_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, launched: list[LocalTarget]
) -> None:
    chosen = tmp_path / "work" / "dir"
    monkeypatch.setenv(WORKDIR_ENV, str(chosen))
    target = LocalTarget(flaws="", workers=1)
    launched.append(target)
    assert target.workdir == chosen
    target.start()
    assert httpx.get(f"{target.base_url}/health", timeout=5).status_code == 200
    assert target.process is not None
    pid = target.process.pid

    seed, key = chosen / "seed.json", chosen / KEY_FILE
    assert mode(chosen) == 0o700
    assert mode(seed) == 0o600 and mode(key) == 0o600
    assert key.read_text() == target.secret
    users = {u["email"]: u["password"] for u in json.loads(seed.read_text())}
    assert users == {ROLES[role]["email"]: password for role, password in target.passwords.items()}

    target.stop()
    assert processes_in_group(pid) == []
    assert seed.exists() and key.exists()  # the caller's directory is the caller's to remove


def test_a_temporary_workdir_gets_no_key_file_and_is_removed_on_stop(
    monkeypatch: pytest.MonkeyPatch, launched: list[LocalTarget]
) -> None:
    monkeypatch.delenv(WORKDIR_ENV, raising=False)
    target = LocalTarget(flaws="", workers=1)
    launched.append(target)
    workdir = target.workdir
    assert workdir.parent == Path(tempfile.gettempdir())
    target.start()
    assert target.process is not None
    pid = target.process.pid
    assert (workdir / "seed.json").exists()
    assert not (workdir / KEY_FILE).exists()

    target.stop()
    assert not workdir.exists()  # the seeded passwords do not outlive the run
    assert processes_in_group(pid) == []
    target.stop()  # twice (the fixture, then atexit) is harmless


def test_a_failed_start_reports_the_log_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, launched: list[LocalTarget]
) -> None:
    monkeypatch.delenv(WORKDIR_ENV, raising=False)
    target = LocalTarget(flaws="no_such_flaw", workers=1)
    launched.append(target)
    workdir = target.workdir
    with pytest.raises(LaunchError, match="exited during start-up") as caught:
        target.start()
    assert "no_such_flaw" in str(caught.value)  # the target's own complaint, from its log
    assert not workdir.exists()
    assert processes_mentioning(str(workdir)) == []


def test_private_files_are_private_even_when_they_existed(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text("old and longer content")
    path.chmod(0o644)
    _write_private(path, "new")
    assert path.read_text() == "new"
    assert mode(path) == 0o600
