"""Reviewer reports rendered from ``audit.json``: HTML with plots, SARIF 2.1.0 and JUnit XML.

``write_reports(audit_json)`` reads the document the recorder wrote and writes, beside it,
``audit.html``, ``audit.sarif`` and ``junit.xml``. Reading the file back (rather than the recorder's
memory) makes every format describe exactly what ``audit.json`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

from probes.reporting.html import render_html
from probes.reporting.junit import to_junit
from probes.reporting.sarif import to_sarif

HTML = "audit.html"
SARIF = "audit.sarif"
JUNIT = "junit.xml"


def write_reports(audit_json: Path) -> list[Path]:
    """Write the HTML, SARIF and JUnit reports beside ``audit_json``; their paths, in order."""
    document = json.loads(audit_json.read_text())
    directory = audit_json.parent
    outputs = {
        directory / HTML: render_html(document),
        directory / SARIF: json.dumps(to_sarif(document), indent=2, default=str) + "\n",
        directory / JUNIT: to_junit(document),
    }
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    return list(outputs)
