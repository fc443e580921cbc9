"""A hand-made ``audit.json`` document with every verdict and every plotted data shape.

It is built from real catalogue entries (so metadata matches what the probes record) and holds
the awkward cases on purpose: markup in a response body, an XML-illegal control character, an
unsigned token in evidence, a duplicate check_id in two families' worth of node ids.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

from probes.harness.catalogue import lookup
from probes.harness.verdicts import CheckResult, Verdict

UNSIGNED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."
ELIDED = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.<signature-elided>"
MARKUP = '<script>alert("x")</script><img src="https://example.invalid/x.png">'
TARGET = "http://127.0.0.1:8000"

TIMING = {
    "decision": "leak",
    "pairs": 12,
    "median_diff_ms": 250.5,
    "ci_ms": [240.0, 262.0],
    "p_value": 0.000244,
    "alpha_at_look": 0.0005,
    "delta_ms": 13.4,
    "aa_noise_ms": 1.2,
    "samples_ms": {
        "E": [262.0 + i for i in range(12)],
        "N": [5.0 + i / 10 for i in range(12)],
        "N2": [5.1 + i / 10 for i in range(12)],
        "L": [260.0 + i for i in range(12)],
    },
    "requests": 52,
}
# The documented rate-limit shape (probes/reporting/plots.py): per-burst counts, per worker.
BURSTS = {
    "route": "POST /auth/login",
    "limit": 5,
    "window": "minute",
    "bursts": [
        {"sent": 12, "allowed": 10, "limited": 2, "per_worker": {"4101": 5, "4102": 5}},
        {"sent": 12, "allowed": 9, "limited": 3, "per_worker": {"4101": 5, "4102": 4}},
    ],
}


def exchange(url: str, status: int | None, body: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": "GET",
        "url": url,
        "request_headers": {"accept": "*/*", "authorization": f"Bearer {UNSIGNED}"},
        "elapsed_ms": 3.2,
    }
    if status is None:
        out["error"] = "ConnectError: connection refused"
    else:
        out.update(
            status=status,
            response_headers={"content-type": "application/json"},
            response_body=body,
        )
    out.update(extra)
    return out


def result(check_id: str, verdict: Verdict, nodeid: str | None = None, **fields: Any) -> dict:
    meta = lookup(check_id)
    res = CheckResult(
        check_id=check_id,
        nodeid=nodeid or f"{meta.probe}::test_{check_id.lower().replace('-', '_')}",
        verdict=verdict,
        title=meta.title,
        severity=meta.severity,
        cwe=meta.cwe,
        owasp=meta.owasp,
        remediation=meta.remediation,
        probe=meta.probe,
        requests=3,
        duration_s=0.25,
    )
    for name, value in fields.items():
        setattr(res, name, value)
    out = asdict(res)
    out["verdict"] = str(verdict)
    return out


def results() -> list[dict[str, Any]]:
    return [
        result(
            "JWT-ALG-NONE",
            Verdict.FINDING,
            confidence="high",
            detail="8 of 8 forged tokens accepted",
            evidence=[
                exchange(f"{TARGET}/users/me", 200, MARKUP, note="alg none"),
                exchange(f"{TARGET}/admin/users", None, note="alg none, admin route"),
            ],
            reproduce=f"curl -i {TARGET}/users/me -H 'authorization: Bearer {UNSIGNED}'",
        ),
        result(
            "HDR-MISSING-NOSNIFF",
            Verdict.FINDING,
            confidence="high",
            detail="nosniff missing on: user response\x00",
            evidence=[exchange(f"{TARGET}/users/me", 200, '{"email": "alice@example.test"}')],
            reproduce=f"curl -i {TARGET}/users/me -H 'authorization: Bearer {ELIDED}'",
        ),
        result(
            "HDR-MISSING-REFERRER-POLICY",
            Verdict.FINDING,
            confidence="medium",
            detail="Referrer-Policy missing",
            evidence=[],
            reproduce=None,
        ),
        result(
            "AUTH-TIMING-ENUMERATION",
            Verdict.FINDING,
            confidence="high",
            detail="known vs unknown user: median difference +250.5 ms",
            evidence=[exchange(f"{TARGET}/auth/login", 401)],
            reproduce=f"curl -i -X POST {TARGET}/auth/login",
            data=copy.deepcopy(TIMING),
        ),
        result(
            "AUTH-TIMING-LONG-PASSWORD",
            Verdict.INCONCLUSIVE,
            reason="undecided after 500 pairs: the A/A noise exceeds delta / 2",
            data={"samples_ms": copy.deepcopy(TIMING["samples_ms"]), "decision": "inconclusive"},
        ),
        result(
            "JWT-ACCESS-LIFETIME-EXCESSIVE",
            Verdict.FINDING,
            confidence="high",
            detail="access tokens live 86400 s, policy allows 900 s",
            data={"lifetime_s": 86400.0, "policy_s": 900},
        ),
        result(
            "JWT-REFRESH-LIFETIME-EXCESSIVE",
            Verdict.PASS,
            detail="refresh tokens live 604800 s (policy 604800 s)",
            data={"lifetime_s": 604800.0, "policy_s": 604800},
        ),
        result("JWT-BLANK-KEY", Verdict.PASS),
        result(
            "JWT-KEY-CONFUSION",
            Verdict.SKIPPED,
            reason="nothing to forge with for key-confusion (no public key published)",
        ),
        result(
            "JWT-KID-INJECTION",
            Verdict.ERROR,
            reason="target error: ConnectError: connection refused",
        ),
        # Same check_id from two node ids: one rule, two testcases.
        result("HDR-MISSING-CSP", Verdict.PASS, nodeid="probes/test_security_headers.py::test_a"),
        result("HDR-MISSING-CSP", Verdict.PASS, nodeid="probes/test_security_headers.py::test_b"),
    ]


def rate_result() -> dict[str, Any]:
    """A result carrying the documented rate-limit shape (the plot reads only ``data``)."""
    return result("AUTH-ENUMERATION-CONTENT", Verdict.PASS, data=copy.deepcopy(BURSTS))


def document(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = results() + list(extra or [])
    summary = {v.value: 0 for v in Verdict}
    for r in found:
        summary[r["verdict"]] += 1
    return {
        "tool": {"name": "jwt-api-probes", "version": "0.1.0"},
        "target": {
            "url": TARGET,
            "mode": "local",
            "profile": "local target_app",
            "flaws": ["alg_none", "no_security_headers"],
            "workers": 2,
        },
        "started": "2026-01-02T03:04:05+00:00",
        "finished": "2026-01-02T03:05:00+00:00",
        "duration_s": 55.0,
        "fail_on": "medium",
        "summary": summary,
        "results": sorted(found, key=lambda r: r["nodeid"]),
    }
