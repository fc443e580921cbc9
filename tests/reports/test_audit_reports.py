"""End to end: an audit with planted flaws writes four reports; the HTML works in a real browser.

The browser is Debian's Chromium (``scripts/ensure-chromium.sh`` installs it), driven through
Playwright's Python package with ``executable_path``: no browser is ever downloaded.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from probes.harness.launcher import KEY_FILE, ROLES
from tests.probes.audit import REPO, AuditRun, run_audit
from tests.probes.procs import processes_mentioning
from tests.probes.test_no_secrets import forms, leaks
from tests.reports.test_formats import sarif_errors

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RATE_LIMITS = "probes/test_rate_limits.py"
MODULES = [
    "probes/test_token_forgery.py",
    "probes/test_security_headers.py",
    "probes/test_login_timing.py",
    "probes/test_token_lifetime.py",
]
FLAWS = ["alg_none", "no_security_headers", "early_return_login"]
EXPECTED = {"JWT-ALG-NONE", "HDR-MISSING-NOSNIFF", "AUTH-TIMING-ENUMERATION"}
REPORTS = ("audit.json", "audit.html", "audit.sarif", "junit.xml")
pytestmark = pytest.mark.audit


def rate_family() -> bool:
    """The rate-limit family joins the run once it exists (it is written separately)."""
    return (REPO / RATE_LIMITS).exists()


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    base = tmp_path_factory.mktemp("reports-e2e")
    rate = rate_family()
    return run_audit(
        base / "reports",
        [*MODULES, *([RATE_LIMITS] if rate else [])],
        flaws=",".join([*FLAWS, *(["memory_limiter"] if rate else [])]),
        workers=2 if rate else 1,
        env={"PROBES_LOCAL_WORKDIR": str(base / "target")},
    )


def expected_findings() -> set[str]:
    return EXPECTED | ({"RL-MULTIPLIED"} if rate_family() else set())


def test_the_audit_fails_the_gate_and_writes_all_four_reports(audit: AuditRun) -> None:
    assert audit.returncode == 1, audit.output  # critical and medium findings fail the gate
    assert audit.findings() >= expected_findings(), audit.output
    assert audit.with_verdict("error") == set(), audit.output
    for name in REPORTS:
        assert (audit.report_dir / name).stat().st_size > 0, name
    assert f"report: {audit.report_dir / 'audit.html'}" in audit.output
    others = ", ".join(str(audit.report_dir / name) for name in ("audit.json", "audit.sarif"))
    assert f"also: {others}, {audit.report_dir / 'junit.xml'}" in audit.output


def test_the_sarif_of_the_run_is_valid_and_carries_the_findings(audit: AuditRun) -> None:
    log = json.loads((audit.report_dir / "audit.sarif").read_text())
    assert sarif_errors(log) == []
    run = log["runs"][0]
    failed = {r["ruleId"] for r in run["results"] if r["kind"] == "fail"}
    assert failed == audit.findings()
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == set(audit.verdicts())
    alg_none = next(r for r in run["results"] if r["ruleId"] == "JWT-ALG-NONE")
    assert alg_none["level"] == "error"
    assert alg_none["properties"]["cwe"] == "CWE-347"


def test_the_junit_of_the_run_matches_audit_json(audit: AuditRun) -> None:
    root = ET.fromstring((audit.report_dir / "junit.xml").read_bytes())  # noqa: S314
    suite = root.find("testsuite")
    assert suite is not None
    summary = audit.document["summary"]
    assert int(suite.get("tests", "")) == len(audit.results) == sum(summary.values())
    assert int(suite.get("failures", "")) == summary["finding"]
    assert int(suite.get("errors", "")) == summary["error"] + summary["inconclusive"]
    assert int(suite.get("skipped", "")) == summary["skipped"]
    failures = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failures == audit.findings()


@contextmanager
def chromium(marker: str) -> Iterator[Any]:
    """The system Chromium under Playwright; closed on the way out, whatever happened."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # An unknown switch is ignored by Chromium but names its processes for the check below.
            args=[*BROWSER_ARGS, f"--probes-report-test={marker}"],
            timeout=60_000,
        )
        try:
            yield browser
        finally:
            browser.close()


def test_the_html_report_works_in_headless_chromium(audit: AuditRun) -> None:
    report = audit.report_dir / "audit.html"
    marker = secrets.token_hex(8)
    problems: list[str] = []
    requests: list[str] = []
    with chromium(marker) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")

        shown = page.locator("#findings-list > li.finding").evaluate_all(
            "items => items.map(i => [i.dataset.checkId, i.dataset.severity])"
        )
        ids = [check_id for check_id, _ in shown]
        assert set(ids) == audit.findings()
        assert set(ids) >= expected_findings()
        assert ids[0] == "JWT-ALG-NONE"
        alg_none = page.locator('#findings-list > li.finding[data-check-id="JWT-ALG-NONE"]')
        assert alg_none.locator(".badge").first.inner_text() == "CRITICAL"
        assert "CWE-347" in alg_none.inner_text()

        families = ["timing", "lifetime", *(["rate"] if rate_family() else [])]
        for family in families:
            svgs = page.locator(f'figure[data-plot="{family}"] svg')
            assert svgs.count() >= 1, family
            for index in range(svgs.count()):
                box = svgs.nth(index).bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100, family
                assert svgs.nth(index).locator("path").count() > 5, family
        timing = page.locator('figure[data-plot="timing"]').evaluate_all(
            "figures => figures.map(f => f.dataset.checkId)"
        )
        assert "AUTH-TIMING-ENUMERATION" in timing

        rows = page.locator("#coverage-table tr[data-check-id]").count()
        assert rows >= len(audit.results)
        assert page.evaluate("document.querySelectorAll('[src]').length") == 0

        page.locator("button.toggle-all").click()
        assert alg_none.locator("details.evidence").evaluate("d => d.open") is True
        alg_none.locator("button.copy").click()
        page.wait_for_function(
            "b => b.textContent !== 'Copy'", arg=alg_none.locator("button.copy").element_handle()
        )
        page.screenshot(path=str(audit.report_dir / "audit.png"), full_page=True)
    assert problems == []
    assert requests == [report.as_uri()]  # the page itself, and nothing else
    assert (audit.report_dir / "audit.png").stat().st_size > 10_000
    assert processes_mentioning(marker) == []


def test_no_password_secret_or_signed_token_in_any_report(audit: AuditRun) -> None:
    workdir = audit.report_dir.parent / "target"
    seeded = json.loads((workdir / "seed.json").read_text())
    secret = (workdir / KEY_FILE).read_text()
    assert len(seeded) == len(ROLES)
    assert len(secret) >= 32

    def every_form(value: str) -> set[str]:
        return forms(value) | {html.escape(value)}

    secrets_ = [(f"password of {u['email']}", f) for u in seeded for f in every_form(u["password"])]
    secrets_ += [("JWT secret", form) for form in every_form(secret)]
    for name in REPORTS:
        text = (audit.report_dir / name).read_text()
        assert leaks(text, secrets_) == [], name
    # There was something to leak: tokens are shown, their signatures elided.
    page = (audit.report_dir / "audit.html").read_text()
    assert "Bearer eyJ" in page
    assert "&lt;signature-elided&gt;" in page
    assert "<signature-elided>" in (audit.report_dir / "audit.sarif").read_text()
