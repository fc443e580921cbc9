"""The findings catalogue: every entry well formed and tied to a probe, every probe's id in it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from probes.harness.catalogue import (
    CHECK_ID,
    CWE_ID,
    OWASP_ID,
    CatalogueError,
    _entry,
    catalogue,
    lookup,
)
from probes.harness.verdicts import SEVERITIES

REPO = Path(__file__).resolve().parents[2]
PROBES = REPO / "probes"
FIELDS = {"title", "severity", "cwe", "owasp", "remediation", "probe"}
# A check marker in code: a decorator, a module's pytestmark, or a parameter's marks=.
MARK = re.compile(
    r"""(?m)(?:^\s*@|pytestmark\s*=\s*\[?\s*|marks\s*=\s*\[?\s*)"""
    r"""pytest\.mark\.check\(\s*["']([^"']+)["']"""
)


def raw_catalogue() -> dict[str, dict[str, str]]:
    return tomllib.loads(files("probes").joinpath("catalogue.toml").read_text())


def used_check_ids() -> dict[str, set[Path]]:
    """check_id -> the files under probes/ that mark a probe with it."""
    used: dict[str, set[Path]] = {}
    for path in PROBES.rglob("*.py"):
        for check_id in MARK.findall(path.read_text()):
            used.setdefault(check_id, set()).add(path.relative_to(REPO))
    return used


def test_every_entry_is_well_formed() -> None:
    raw = raw_catalogue()
    assert raw, "the catalogue is empty"
    loaded = catalogue()  # raises CatalogueError on the first malformed entry
    assert set(loaded) == set(raw)
    for check_id, fields in raw.items():
        assert set(fields) == FIELDS, check_id
        assert CHECK_ID.match(check_id), check_id
        assert fields["severity"] in SEVERITIES, check_id
        assert CWE_ID.match(fields["cwe"]), check_id
        assert OWASP_ID.match(fields["owasp"]), check_id
        for name in ("title", "remediation"):
            assert fields[name].strip(), f"{check_id}: empty {name}"


def test_every_entry_names_an_existing_probe_that_uses_it() -> None:
    for check_id, meta in catalogue().items():
        probe = REPO / meta.probe
        assert probe.is_file(), f"{check_id}: probe {meta.probe} does not exist"
        assert probe.resolve().is_relative_to(PROBES), f"{check_id}: {meta.probe} not in probes/"
        assert check_id in probe.read_text(), f"{check_id} does not appear in {meta.probe}"


def test_every_check_marked_under_probes_is_in_the_catalogue() -> None:
    used = used_check_ids()
    assert used, "no @pytest.mark.check found under probes/"
    missing = {check_id: sorted(map(str, paths)) for check_id, paths in used.items()}
    missing = {k: v for k, v in missing.items() if k not in catalogue()}
    assert missing == {}


def test_every_collected_probe_has_a_catalogued_check_id(tmp_path: Path) -> None:
    """Also the probes generated with an id held in a variable, which no text scan sees."""
    out = tmp_path / "checks.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "probes", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "tests.harness.collect_checks"],
        cwd=REPO,
        env={**os.environ, "PROBES_CHECKS_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    collected: dict[str, str | None] = json.loads(out.read_text())
    assert len(collected) >= len(used_check_ids())
    unmarked = [nodeid for nodeid, check_id in collected.items() if check_id is None]
    unknown = {n: c for n, c in collected.items() if c is not None and c not in catalogue()}
    assert unmarked == []
    assert unknown == {}
    for nodeid, check_id in collected.items():
        assert nodeid.split("::")[0] == catalogue()[str(check_id)].probe, nodeid


def test_a_marked_check_lives_in_the_probe_its_entry_names() -> None:
    used = used_check_ids()
    misplaced = {
        check_id: (catalogue()[check_id].probe, sorted(map(str, paths)))
        for check_id, paths in used.items()
        if check_id in catalogue() and Path(catalogue()[check_id].probe) not in paths
    }
    assert misplaced == {}


def test_lookup_of_an_unknown_id_names_the_catalogue() -> None:
    with pytest.raises(CatalogueError, match=r"NOT-A-CHECK is not in probes/catalogue\.toml"):
        lookup("NOT-A-CHECK")
    assert lookup("HDR-MISSING-CSP").check_id == "HDR-MISSING-CSP"


GOOD = {
    "title": "t",
    "severity": "low",
    "cwe": "CWE-1",
    "owasp": "API10:2023",
    "remediation": "r",
    "probe": "probes/x.py",
}


@pytest.mark.parametrize(
    ("check_id", "changes", "message"),
    [
        ("lower-case", {}, "upper-kebab"),
        ("NOKEBAB", {}, "upper-kebab"),
        ("A-B", {"severity": "severe"}, "severity"),
        ("A-B", {"owasp": "API11:2023"}, "bad owasp"),
        ("A-B", {"owasp": "API1:2019"}, "bad owasp"),
        ("A-B", {"cwe": "347"}, "bad owasp"),
        ("A-B", {"extra": "x"}, "extra"),
        ("A-B", {"title": None}, "title"),
    ],
)
def test_the_loader_rejects_malformed_entries(
    check_id: str, changes: dict[str, str | None], message: str
) -> None:
    fields = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    with pytest.raises(CatalogueError, match=message):
        _entry(check_id, fields)
    assert _entry("A-B", GOOD).cwe_url == "https://cwe.mitre.org/data/definitions/1.html"
