"""Loads the findings catalogue (``probes/catalogue.toml``): metadata apart from detection logic."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from probes.harness.verdicts import SEVERITIES

CHECK_ID = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)+$")
OWASP_ID = re.compile(r"^API(10|[1-9]):2023$")
CWE_ID = re.compile(r"^CWE-\d+$")


@dataclass(frozen=True)
class CheckMeta:
    check_id: str
    title: str
    severity: str
    cwe: str
    owasp: str
    remediation: str
    probe: str

    @property
    def cwe_url(self) -> str:
        return f"https://cwe.mitre.org/data/definitions/{self.cwe.removeprefix('CWE-')}.html"


class CatalogueError(ValueError):
    pass


@cache
def catalogue() -> dict[str, CheckMeta]:
    raw = tomllib.loads(files("probes").joinpath("catalogue.toml").read_text())
    return {check_id: _entry(check_id, fields) for check_id, fields in raw.items()}


def lookup(check_id: str) -> CheckMeta:
    try:
        return catalogue()[check_id]
    except KeyError:
        raise CatalogueError(f"{check_id} is not in probes/catalogue.toml") from None


def _entry(check_id: str, fields: dict[str, str]) -> CheckMeta:
    if not CHECK_ID.match(check_id):
        raise CatalogueError(f"{check_id}: check_id must be upper-kebab")
    try:
        meta = CheckMeta(check_id=check_id, **fields)
    except TypeError as exc:
        raise CatalogueError(f"{check_id}: {exc}") from None
    if meta.severity not in SEVERITIES:
        raise CatalogueError(f"{check_id}: severity {meta.severity!r} not in {SEVERITIES}")
    if not OWASP_ID.match(meta.owasp) or not CWE_ID.match(meta.cwe):
        raise CatalogueError(f"{check_id}: bad owasp {meta.owasp!r} or cwe {meta.cwe!r}")
    return meta
