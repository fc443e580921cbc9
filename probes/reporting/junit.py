"""``junit.xml``: one testcase per check result, in one testsuite, for CI test dashboards.

Verdict -> JUnit (the counts of the testsuite match ``summary`` in ``audit.json``):

- pass -> a passing testcase;
- finding -> ``<failure type="finding">`` (the target is vulnerable: a failed check);
- error -> ``<error type="error">`` (the check could not run: target unreachable or harness error);
- inconclusive -> ``<error type="inconclusive">`` (the check ran but reached no verdict; it must
  not look green, and it is not a demonstrated vulnerability either);
- skipped -> ``<skipped>`` with the reason.

So ``failures`` = findings, ``errors`` = errors + inconclusive, ``skipped`` = skipped and
``tests`` = all results. Each testcase's ``name`` is the check_id, its ``classname`` the probe
module, and its ``<properties>`` carry the verdict, severity, CWE and OWASP id.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from probes.harness.verdicts import Verdict
from probes.reporting import model

SUITE = "jwt-api-probes"
# Characters XML 1.0 cannot hold at all (fuzzed inputs can carry them): shown as U+FFFD.
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: object) -> str:
    return NOT_XML.sub("\ufffd", str(value))


def _element(
    parent: ET.Element, tag: str, text: str | None = None, **attributes: object
) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: clean(v) for k, v in attributes.items()})
    if text is not None:
        node.text = clean(text)
    return node


def _outcome(case: ET.Element, result: dict[str, Any]) -> None:
    verdict = result["verdict"]
    if verdict == Verdict.FINDING:
        lines = [f"detail: {result['detail']}", f"fix: {result['remediation']}"]
        if result.get("reproduce"):
            lines.append(f"reproduce: {result['reproduce']}")
        _element(
            case,
            "failure",
            "\n".join(lines),
            type="finding",
            message=f"{result['check_id']} [{result['severity']}] {result['detail']}",
        )
    elif verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE):
        reason = result.get("reason") or verdict
        _element(case, "error", reason, type=verdict, message=f"{verdict}: {reason}")
    elif verdict == Verdict.SKIPPED:
        _element(case, "skipped", message=result.get("reason") or "skipped")


def to_junit(document: dict[str, Any]) -> str:
    results = sorted(document["results"], key=lambda r: r["nodeid"])
    counts = model.verdict_counts(document)
    suite = ET.Element(
        "testsuite",
        name=SUITE,
        tests=str(len(results)),
        failures=str(counts[Verdict.FINDING]),
        errors=str(counts[Verdict.ERROR] + counts[Verdict.INCONCLUSIVE]),
        skipped=str(counts[Verdict.SKIPPED]),
        time=f"{float(document.get('duration_s', 0.0)):.3f}",
        timestamp=document["started"],
    )
    target = document.get("target") or {}
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", target.get("url", "")),
        ("mode", target.get("mode", "")),
        ("flaws", ",".join(target.get("flaws") or [])),
        ("fail_on", document.get("fail_on", "")),
        ("tool_version", document["tool"]["version"]),
    ):
        _element(properties, "property", name=name, value=value)
    for result in results:
        case = _element(
            suite,
            "testcase",
            classname=model.module_of(result["nodeid"]),
            name=result["check_id"],
            time=f"{float(result.get('duration_s', 0.0)):.3f}",
        )
        props = ET.SubElement(case, "properties")
        for name in ("verdict", "severity", "cwe", "owasp", "nodeid"):
            _element(props, "property", name=name, value=result.get(name, ""))
        _outcome(case, result)
    root = ET.Element("testsuites", name=SUITE)
    for attribute in ("tests", "failures", "errors", "skipped", "time"):
        root.set(attribute, suite.get(attribute, ""))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
