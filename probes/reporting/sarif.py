"""``audit.sarif``: the run as a SARIF 2.1.0 log for code-scanning dashboards.

- One rule (``reportingDescriptor``) per ``check_id`` that ran, with the catalogue's title,
  remediation, CWE, OWASP API 2023 id and severity (``properties``, plus the numeric
  ``security-severity`` that GitHub code scanning ranks by).
- One result per finding (``kind`` fail, ``level`` from the severity: critical and high are
  ``error``, medium ``warning``, low and info ``note``) and per inconclusive check (``kind`` open:
  the rule was evaluated and could not decide; ``level`` none, as SARIF requires for any kind but
  fail). Each result names the target URL it concerns as its location and carries the first
  redacted exchange as ``webRequest``/``webResponse``.
- Checks that ended in error are tool-execution notifications (``level`` error) of the invocation,
  whose ``executionSuccessful`` is then false.
- Passed and skipped checks are not results (dashboards would show them as alerts); they are listed,
  with every other verdict, in ``runs[0].properties.coverage``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from probes.harness.verdicts import Verdict
from probes.reporting import model

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads this (a number 0.0-10.0 as a string) to rank security alerts.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def _rule(result: dict[str, Any]) -> dict[str, Any]:
    severity = result["severity"]
    owasp = result["owasp"]
    return {
        "id": result["check_id"],
        "name": "".join(part.capitalize() for part in result["check_id"].split("-")),
        "shortDescription": {"text": result["title"]},
        "fullDescription": {"text": f"{result['title']} ({result['cwe']}, OWASP {owasp})."},
        "help": {"text": result["remediation"], "markdown": result["remediation"]},
        "helpUri": model.cwe_url(result["cwe"]),
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": ["security", result["cwe"], f"OWASP-{owasp}", model.family(result["probe"])],
            "severity": severity,
            "security-severity": SECURITY_SEVERITY[severity],
            "cwe": result["cwe"],
            "owasp": owasp,
            "owasp_name": model.owasp_name(owasp),
            "owasp_url": model.owasp_url(owasp),
            "probe": result["probe"],
        },
    }


def _location(result: dict[str, Any], target_url: str) -> dict[str, Any]:
    evidence = result.get("evidence") or []
    uri = next((x["url"] for x in evidence if x.get("url")), None) or target_url or "about:blank"
    return {
        "physicalLocation": {"artifactLocation": {"uri": uri}},
        "logicalLocations": [{"name": result["check_id"], "fullyQualifiedName": result["nodeid"]}],
    }


def _web(exchange: dict[str, Any]) -> dict[str, Any]:
    web: dict[str, Any] = {}
    request: dict[str, Any] = {
        "method": exchange.get("method", ""),
        "target": exchange.get("url", ""),
        "headers": {str(k): str(v) for k, v in (exchange.get("request_headers") or {}).items()},
    }
    if exchange.get("request_body"):
        request["body"] = {"text": exchange["request_body"]}
    web["webRequest"] = request
    if exchange.get("status") is not None:
        response: dict[str, Any] = {
            "statusCode": int(exchange["status"]),
            "headers": {
                str(k): str(v) for k, v in (exchange.get("response_headers") or {}).items()
            },
        }
        if exchange.get("response_body"):
            response["body"] = {"text": exchange["response_body"]}
        web["webResponse"] = response
    else:
        web["webResponse"] = {"noResponseReceived": True}
    return web


def _fingerprint(result: dict[str, Any], target_url: str) -> str:
    key = f"{result['check_id']}|{result['nodeid']}|{target_url}"
    return hashlib.sha256(key.encode()).hexdigest()


def _result(result: dict[str, Any], rule_index: int, target_url: str) -> dict[str, Any]:
    finding = result["verdict"] == Verdict.FINDING
    text = (
        f"{result['title']}: {result['detail']}"
        if finding
        else f"{result['title']}: inconclusive: {result.get('reason') or 'undecided'}"
    )
    out: dict[str, Any] = {
        "ruleId": result["check_id"],
        "ruleIndex": rule_index,
        "kind": "fail" if finding else "open",
        "level": LEVELS[result["severity"]] if finding else "none",
        "message": {"text": text},
        "locations": [_location(result, target_url)],
        "fingerprints": {"jwt-api-probes/v1": _fingerprint(result, target_url)},
        "properties": {
            "verdict": result["verdict"],
            "severity": result["severity"],
            "confidence": result.get("confidence"),
            "cwe": result["cwe"],
            "owasp": result["owasp"],
            "detail": result.get("detail"),
            "reason": result.get("reason"),
            "reproduce": result.get("reproduce"),
            "requests": result.get("requests", 0),
            "duration_s": result.get("duration_s", 0.0),
        },
    }
    out["properties"] = {k: v for k, v in out["properties"].items() if v is not None}
    evidence = result.get("evidence") or []
    if evidence:
        out.update(_web(evidence[0]))
    return out


def to_sarif(document: dict[str, Any]) -> dict[str, Any]:
    results = document["results"]
    target = document.get("target") or {}
    target_url = target.get("url") or ""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for result in sorted(results, key=lambda r: r["check_id"]):
        if result["check_id"] not in index:
            index[result["check_id"]] = len(rules)
            rules.append(_rule(result))
    reported = [
        _result(r, index[r["check_id"]], target_url)
        for r in model.findings(document)
        + [r for r in results if r["verdict"] == Verdict.INCONCLUSIVE]
    ]
    errors = [r for r in results if r["verdict"] == Verdict.ERROR]
    invocation: dict[str, Any] = {
        "executionSuccessful": not errors,
        "startTimeUtc": document["started"],
        "endTimeUtc": document["finished"],
        "toolExecutionNotifications": [
            {
                "level": "error",
                "message": {"text": f"{r['check_id']} ended in error: {r.get('reason') or ''}"},
                "associatedRule": {"id": r["check_id"], "index": index[r["check_id"]]},
            }
            for r in errors
        ],
    }
    failed, why = model.gate(document)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": document["tool"]["name"],
                        "version": document["tool"]["version"],
                        "semanticVersion": document["tool"]["version"],
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "automationDetails": {"id": f"jwt-api-probes/{target.get('mode', 'unknown')}/"},
                "results": reported,
                "properties": {
                    "target": target,
                    "fail_on": document.get("fail_on"),
                    "gate_failed": failed,
                    "gate": why,
                    "summary": document["summary"],
                    "coverage": [
                        {
                            "check_id": r["check_id"],
                            "nodeid": r["nodeid"],
                            "verdict": r["verdict"],
                            "reason": r.get("reason"),
                        }
                        for r in results
                    ],
                },
            }
        ],
    }
