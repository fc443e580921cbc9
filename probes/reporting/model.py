"""What every report format reads from ``audit.json``: ordering, links, the gate and coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from probes.harness.catalogue import catalogue
from probes.harness.verdicts import SEVERITIES, Verdict, severity_rank

NOT_RUN = "not run"
VERDICTS = tuple(v.value for v in Verdict)

# OWASP API Security Top 10 (2023): id -> (name, page slug).
OWASP_API_2023 = {
    "API1:2023": ("Broken Object Level Authorization", "0xa1-broken-object-level-authorization"),
    "API2:2023": ("Broken Authentication", "0xa2-broken-authentication"),
    "API3:2023": (
        "Broken Object Property Level Authorization",
        "0xa3-broken-object-property-level-authorization",
    ),
    "API4:2023": ("Unrestricted Resource Consumption", "0xa4-unrestricted-resource-consumption"),
    "API5:2023": (
        "Broken Function Level Authorization",
        "0xa5-broken-function-level-authorization",
    ),
    "API6:2023": (
        "Unrestricted Access to Sensitive Business Flows",
        "0xa6-unrestricted-access-to-sensitive-business-flows",
    ),
    "API7:2023": ("Server Side Request Forgery", "0xa7-server-side-request-forgery"),
    "API8:2023": ("Security Misconfiguration", "0xa8-security-misconfiguration"),
    "API9:2023": ("Improper Inventory Management", "0xa9-improper-inventory-management"),
    "API10:2023": ("Unsafe Consumption of APIs", "0xaa-unsafe-consumption-of-apis"),
}
OWASP_BASE = "https://owasp.org/API-Security/editions/2023/en/"

FAMILIES = {
    "test_status_codes": "Status codes and authorization",
    "test_security_headers": "Security headers",
    "test_token_forgery": "Token forgery",
    "test_token_fuzz": "Token fuzzing",
    "test_token_lifetime": "Token lifetime",
    "test_token_secret": "Signing secret",
    "test_token_sessions": "Sessions, refresh and logout",
    "test_login_timing": "Login timing and enumeration",
    "test_rate_limits": "Rate limits",
    "test_cors": "CORS",
    "test_openapi_fuzz": "OpenAPI fuzzing",
}


def cwe_url(cwe: str) -> str:
    return f"https://cwe.mitre.org/data/definitions/{cwe.removeprefix('CWE-')}.html"


def owasp_name(owasp: str) -> str:
    return OWASP_API_2023.get(owasp, ("", ""))[0]


def owasp_url(owasp: str) -> str:
    slug = OWASP_API_2023.get(owasp, ("", ""))[1]
    return OWASP_BASE + slug + "/" if slug else "https://owasp.org/API-Security/"


def family(probe: str) -> str:
    """The family a probe module belongs to, e.g. ``probes/test_cors.py`` -> ``CORS``."""
    stem = PurePosixPath(probe).stem
    return FAMILIES.get(stem, stem.removeprefix("test_").replace("_", " ").capitalize())


def findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings, worst severity first (then by check_id), as the terminal summary lists them."""
    found = [r for r in document["results"] if r["verdict"] == Verdict.FINDING]
    return sorted(found, key=lambda r: (severity_rank(r["severity"]), r["check_id"], r["nodeid"]))


def severity_counts(document: dict[str, Any]) -> dict[str, int]:
    counts = Counter(r["severity"] for r in findings(document))
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def verdict_counts(document: dict[str, Any]) -> dict[str, int]:
    counts = Counter(r["verdict"] for r in document["results"])
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def gate(document: dict[str, Any]) -> tuple[bool, str]:
    """(failed, why): the ``--fail-on`` gate that ``make audit`` applies, from the document."""
    fail_on = document.get("fail_on", "medium")
    limit = severity_rank(fail_on)
    blocking = [r for r in findings(document) if severity_rank(r["severity"]) <= limit]
    errors = verdict_counts(document)[Verdict.ERROR]
    reasons = []
    if blocking:
        reasons.append(f"{len(blocking)} finding(s) at or above {fail_on}")
    if errors:
        reasons.append(f"{errors} check(s) ended in error")
    if reasons:
        return True, "; ".join(reasons)
    return False, f"no finding at or above {fail_on} and no error"


def coverage(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of the catalogue with what happened to it in this run.

    One row per result; a catalogue check without any result gets one row with the verdict
    ``not run`` (its family was not selected or does not exist in this installation).
    """
    rows: list[dict[str, Any]] = []
    seen = set()
    for result in document["results"]:
        seen.add(result["check_id"])
        rows.append(
            {
                "check_id": result["check_id"],
                "title": result["title"],
                "family": family(result["probe"]),
                "severity": result["severity"],
                "verdict": result["verdict"],
                "why": result.get("reason") or result.get("detail") or "",
                "requests": result.get("requests", 0),
                "duration_s": result.get("duration_s", 0.0),
                "nodeid": result["nodeid"],
            }
        )
    for check_id, meta in catalogue().items():
        if check_id in seen:
            continue
        rows.append(
            {
                "check_id": check_id,
                "title": meta.title,
                "family": family(meta.probe),
                "severity": meta.severity,
                "verdict": NOT_RUN,
                "why": f"{meta.probe} was not part of this run",
                "requests": 0,
                "duration_s": 0.0,
                "nodeid": "",
            }
        )
    order = {name: index for index, name in enumerate(FAMILIES.values())}
    rows.sort(key=lambda r: (order.get(r["family"], len(order)), r["family"], r["check_id"]))
    return rows


def module_of(nodeid: str) -> str:
    """``probes/test_cors.py::test_x`` -> ``probes.test_cors`` (the JUnit classname)."""
    path = nodeid.split("::", 1)[0]
    return path.removesuffix(".py").replace("/", ".") or "probes"
