"""The probes work after a real (non-editable) install, from a directory outside the repository.

The source is copied to a temporary directory and built into a wheel there (so the build leaves
nothing in the checkout), the wheel is installed with ``pip install --target``, and pytest runs
``--pyargs probes.…`` from another temporary directory with only that install on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "probes", "target_app")
TIMEOUT = 300
pytestmark = pytest.mark.audit


@dataclass(frozen=True)
class Installed:
    wheel: Path
    site: Path


def run(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        list(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{args}\n{output}"
    return output


def package_data(package: str) -> set[str]:
    """The files a wheel must carry for ``package``, as the checkout has them right now."""
    root = REPO / package
    found = {"probes/catalogue.toml"} if package == "probes" else set()
    for pattern in ("profiles/*.toml", "data/*", "reporting/templates/*"):
        found |= {str(p.relative_to(REPO)) for p in root.glob(pattern) if p.is_file()}
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    dist = base / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)], cwd=base)
    (wheel,) = dist.glob("jwt_api_probes-*.whl")
    site = base / "site"
    run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)], cwd=base)
    return Installed(wheel, site)


def test_the_wheel_ships_the_catalogue_profiles_and_data(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = package_data("probes")
    assert "probes/catalogue.toml" in expected
    assert any(name.startswith("probes/profiles/") for name in expected), (
        "the checkout has no example profiles in probes/profiles/"
    )
    assert expected <= names, sorted(expected - names)
    assert {"probes/plugin.py", "target_app/__main__.py"} <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "probes = probes.plugin" in text


def test_pyargs_probes_runs_from_anywhere_after_install(
    installed: Installed, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed.site)}
    env.pop("PYTEST_ADDOPTS", None)
    python = [sys.executable, "-c"]
    where = run(
        [*python, "import probes, target_app; print(probes.__file__); print(target_app.__file__)"],
        cwd=elsewhere,
        env=env,
    )
    for line in where.split():
        assert Path(line).is_relative_to(installed.site), where  # the installed copy, not the repo

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "probes.test_security_headers",
         "-p", "no:cacheprovider", "--target-workers", "1"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    report = elsewhere / "reports" / "audit.json"
    assert report.is_file(), output
    assert completed.returncode == 0, output
    for name in ("audit.html", "audit.sarif", "junit.xml"):  # the templates came with the wheel
        assert (report.parent / name).is_file(), output
    assert "rootdir: " + str(elsewhere) in output  # no repository conftest or pyproject in play
    document = json.loads(report.read_text())
    verdicts = {r["check_id"]: r["verdict"] for r in document["results"]}
    assert verdicts == {
        "HDR-MISSING-NOSNIFF": "pass",
        "HDR-MISSING-FRAME-DENY": "pass",
        "HDR-MISSING-CSP": "pass",
        "HDR-MISSING-REFERRER-POLICY": "pass",
        "HDR-MISSING-CACHE-CONTROL": "pass",
        "HDR-MISSING-HSTS": "skipped",  # served over http
        "HDR-SERVER-BANNER": "pass",
        "HDR-MISSING-ON-ERRORS": "pass",
    }, output
    assert all(r["probe"] == "probes/test_security_headers.py" for r in document["results"])
    # Outside the rootdir pytest's own node ids lack the module ("::test_nosniff"); the report
    # names it as a checkout run does, so results of different families cannot collide.
    nodeids = {r["nodeid"] for r in document["results"]}
    assert len(nodeids) == len(verdicts)
    assert all(n.startswith("probes/test_security_headers.py::test_") for n in nodeids), nodeids
