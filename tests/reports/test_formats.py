"""SARIF, JUnit and HTML rendered from a hand-made document that holds every verdict and plot."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from probes.harness.catalogue import catalogue
from probes.harness.verdicts import SEVERITIES, Verdict, severity_rank
from probes.reporting import write_reports
from probes.reporting.html import SCRIPT, render_html, script_hash
from probes.reporting.junit import to_junit
from probes.reporting.plots import rate_limit_plot, timing_plot
from probes.reporting.sarif import to_sarif
from tests.reports.sample import BURSTS, MARKUP, document, rate_result, result

SCHEMA = Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "80cd7ffb9b62a4162d541aa9170862dd264f6cce0f04c57f1ac9f2337b808958"


# --- SARIF ---------------------------------------------------------------------------------------


def sarif_errors(log: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def test_the_schema_fixture_is_the_official_sarif_2_1_0_schema() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA.read_text())
    Draft7Validator.check_schema(schema)
    assert schema["$id"].endswith("/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_the_schema_rejects_what_sarif_forbids() -> None:
    """The validation below can fail: broken logs are caught (so a pass means something)."""
    log = to_sarif(document())
    assert sarif_errors(log) == []
    broken = []
    for path, value in (
        (("version",), "2.0.0"),
        (("runs", 0, "results", 0, "level"), "critical"),
        (("runs", 0, "results", 0, "kind"), "vulnerable"),
        (("runs", 0, "tool", "driver", "rules", 0, "helpUri"), "not a uri"),
    ):
        bad = copy.deepcopy(log)
        node = bad
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        broken.append(bad)
    no_message = copy.deepcopy(log)
    del no_message["runs"][0]["results"][0]["message"]
    broken.append(no_message)
    for bad in broken:
        assert sarif_errors(bad), json.dumps(bad)[:200]


def test_sarif_is_valid_against_the_official_schema() -> None:
    assert sarif_errors(to_sarif(document([rate_result()]))) == []


def test_sarif_has_one_rule_per_check_id_with_catalogue_metadata() -> None:
    doc = document()
    run = to_sarif(doc)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert sorted(ids) == sorted({r["check_id"] for r in doc["results"]})  # HDR-MISSING-CSP once
    alg_none = rules[ids.index("JWT-ALG-NONE")]
    meta = catalogue()["JWT-ALG-NONE"]
    assert alg_none["shortDescription"]["text"] == meta.title
    assert alg_none["help"]["text"] == meta.remediation
    assert alg_none["properties"]["cwe"] == "CWE-347"
    assert alg_none["properties"]["owasp"] == meta.owasp
    assert alg_none["properties"]["severity"] == "critical"
    assert alg_none["properties"]["security-severity"] == "9.5"
    assert alg_none["helpUri"] == "https://cwe.mitre.org/data/definitions/347.html"
    assert alg_none["defaultConfiguration"]["level"] == "error"


def test_sarif_results_are_findings_and_inconclusive_checks() -> None:
    doc = document()
    run = to_sarif(doc)["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    findings = {r["check_id"] for r in doc["results"] if r["verdict"] == "finding"}
    assert {r["ruleId"] for r in run["results"] if r["kind"] == "fail"} == findings
    assert [r["ruleId"] for r in run["results"] if r["kind"] != "fail"] == [
        "AUTH-TIMING-LONG-PASSWORD"
    ]
    # Worst first, as in the HTML; the level follows the severity.
    assert run["results"][0]["ruleId"] == "JWT-ALG-NONE"
    assert by_rule["JWT-ALG-NONE"]["level"] == "error"
    assert by_rule["HDR-MISSING-NOSNIFF"]["level"] == "warning"
    assert by_rule["HDR-MISSING-REFERRER-POLICY"]["level"] == "note"
    # SARIF: any kind but fail has level none.
    assert by_rule["AUTH-TIMING-LONG-PASSWORD"]["level"] == "none"
    assert by_rule["AUTH-TIMING-LONG-PASSWORD"]["kind"] == "open"
    for sarif_result in run["results"]:
        rule = run["tool"]["driver"]["rules"][sarif_result["ruleIndex"]]
        assert rule["id"] == sarif_result["ruleId"]
        assert {"cwe", "owasp", "severity", "verdict"} <= set(sarif_result["properties"])
    alg_none = by_rule["JWT-ALG-NONE"]
    assert alg_none["message"]["text"].endswith("8 of 8 forged tokens accepted")
    assert alg_none["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "/users/me"
    )
    assert alg_none["webRequest"]["method"] == "GET"
    assert alg_none["webResponse"]["statusCode"] == 200


def test_sarif_reports_errors_as_failed_execution_and_keeps_coverage() -> None:
    doc = document()
    run = to_sarif(doc)["runs"][0]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [n["associatedRule"]["id"] for n in notes] == ["JWT-KID-INJECTION"]
    assert notes[0]["level"] == "error"
    assert "connection refused" in notes[0]["message"]["text"]
    coverage = Counter(c["verdict"] for c in run["properties"]["coverage"])
    assert dict(coverage) == {k: v for k, v in doc["summary"].items() if v}
    assert run["properties"]["gate_failed"] is True


def test_sarif_of_a_clean_run_is_valid_and_empty() -> None:
    doc = document()
    doc["results"] = [r for r in doc["results"] if r["verdict"] in ("pass", "skipped")]
    log = to_sarif(doc)
    assert sarif_errors(log) == []
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


# --- JUnit ---------------------------------------------------------------------------------------


def parse_junit(text: str) -> ET.Element:
    return ET.fromstring(text.encode())  # noqa: S314 - our own output


def test_junit_counts_match_the_document() -> None:
    doc = document()
    root = parse_junit(to_junit(doc))
    suite = root.find("testsuite")
    assert suite is not None
    summary = doc["summary"]
    cases = suite.findall("testcase")
    assert len(cases) == len(doc["results"]) == sum(summary.values())
    assert int(suite.get("tests", "")) == len(doc["results"])
    assert int(suite.get("failures", "")) == summary["finding"]
    assert int(suite.get("errors", "")) == summary["error"] + summary["inconclusive"]
    assert int(suite.get("skipped", "")) == summary["skipped"]
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert root.get(attribute) == suite.get(attribute)


def test_junit_maps_each_verdict() -> None:
    doc = document()
    suite = parse_junit(to_junit(doc)).find("testsuite")
    assert suite is not None
    expected = {"pass": None, "finding": "failure", "error": "error", "inconclusive": "error"}
    expected["skipped"] = "skipped"
    seen = Counter()
    for case in suite.findall("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        verdict = props["verdict"]
        seen[verdict] += 1
        outcomes = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if expected[verdict] is None:
            assert outcomes == []
        else:
            assert [o.tag for o in outcomes] == [expected[verdict]]
            if verdict in ("finding", "error", "inconclusive"):
                assert outcomes[0].get("type") == verdict
        assert case.get("name") == next(
            r["check_id"] for r in doc["results"] if r["nodeid"] == props["nodeid"]
        )
        assert case.get("classname", "").startswith("probes.test_")
    assert dict(seen) == {k: v for k, v in doc["summary"].items() if v}


def test_junit_stays_well_formed_with_characters_xml_cannot_hold() -> None:
    text = to_junit(document())
    assert "\x00" not in text
    suite = parse_junit(text).find("testsuite")
    assert suite is not None
    nosniff = next(c for c in suite.findall("testcase") if c.get("name") == "HDR-MISSING-NOSNIFF")
    failure = nosniff.find("failure")
    assert failure is not None
    assert "user response\ufffd" in failure.get("message", "")
    assert "reproduce: curl" in (failure.text or "")


# --- HTML ----------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of the script elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def test_html_loads_nothing_from_anywhere() -> None:
    text = render_html(document([rate_result()]))
    page = Page(text)
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img", "video", "audio"), tag
        assert "src" not in attrs, (tag, attrs)
        if tag != "a":
            href = attrs.get("href") or attrs.get("xlink:href") or "#"
            assert href.startswith("#"), (tag, attrs)
    assert "@import" not in text
    assert not re.search(r"url\((?!#)", text)  # CSS and SVG url() refer only to this page
    # One inline script, allowed by its hash; nothing else may run or load.
    assert page.scripts == [SCRIPT]
    csp = page.all("meta", http_equiv="Content-Security-Policy")[0]["content"] or ""
    assert "default-src 'none'" in csp
    assert f"script-src '{script_hash()}'" in csp
    digest = hashlib.sha256(page.scripts[0].encode()).digest()
    assert script_hash() == "sha256-" + base64.b64encode(digest).decode()


def test_html_escapes_what_the_target_sent() -> None:
    text = render_html(document())
    assert MARKUP not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert len(Page(text).all("script")) == 1


def test_html_header_has_target_mode_flaws_times_version_and_counts() -> None:
    doc = document()
    text = render_html(doc)
    page = Page(text)
    assert 'id="target-url">http://127.0.0.1:8000<' in text
    assert "local, 2 workers" in text
    assert "alg_none, no_security_headers" in text
    assert "2026-01-02 03:04:05 UTC" in text
    assert "55.0 s" in text
    assert "jwt-api-probes 0.1.0" in text
    assert "GATE FAILED" in text
    for verdict, count in doc["summary"].items():
        assert page.all("li", data_verdict=verdict, data_count=str(count)), verdict
    severities = Counter(r["severity"] for r in doc["results"] if r["verdict"] == "finding")
    for severity in SEVERITIES:
        assert page.all("li", data_severity=severity, data_count=str(severities[severity]))


def test_html_lists_findings_worst_first_with_links_evidence_and_curl() -> None:
    doc = document()
    text = render_html(doc)
    page = Page(text)
    shown = [a for t, a in page.tags if t == "li" and "finding" in (a.get("class") or "").split()]
    ids = [a["data-check-id"] for a in shown]
    assert sorted(ids) == sorted(r["check_id"] for r in doc["results"] if r["verdict"] == "finding")
    ranks = [severity_rank(a["data-severity"] or "") for a in shown]
    assert ranks == sorted(ranks)
    assert ids[0] == "JWT-ALG-NONE"
    assert page.all("a", href="https://cwe.mitre.org/data/definitions/347.html")
    assert page.all(
        "a", href="https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/"
    )
    assert len(page.all("details", **{"class": "evidence"})) == 3  # findings with evidence
    assert len(page.all("button", **{"class": "copy"})) == 3  # findings with a reproduction
    assert "<code>jwt.decode(token, key, algorithms=[&#34;HS256&#34;])</code>" in text
    # Each exchange: request line, headers, blank line, body; status line with its time.
    assert '<pre class="request">GET http://127.0.0.1:8000/users/me\naccept: */*\n' in text
    assert (
        '<pre class="response">HTTP 200  (3.2 ms)\ncontent-type: application/json\n\n&lt;script&gt;'
        in text
    )
    assert (
        '<pre class="response">no response: ConnectError: connection refused  (3.2 ms)</pre>'
        in text
    )


def test_html_coverage_lists_every_check_and_what_did_not_run() -> None:
    doc = document()
    page = Page(render_html(doc))
    rows = [a for t, a in page.tags if t == "tr" and a.get("data-check-id")]
    assert {a["data-check-id"] for a in rows} == set(catalogue())
    verdicts = Counter(a["data-verdict"] for a in rows)
    ran = {r["check_id"] for r in doc["results"]}
    assert verdicts["not run"] == len(set(catalogue()) - ran) > 0
    for verdict, count in doc["summary"].items():
        assert verdicts[verdict] == count


def test_html_plots_are_inline_svg_with_ids_unique_on_the_page() -> None:
    text = render_html(document([rate_result()]))
    page = Page(text)
    figures = Counter(a["data-plot"] for t, a in page.tags if t == "figure")
    assert figures == {"timing": 2, "rate": 1, "lifetime": 1}
    assert len(page.all("svg")) >= 4
    ids = [a["id"] for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for reference in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', text):
        target = reference[0] or reference[1]
        assert target in ids, target


def test_html_without_plot_data_says_so() -> None:
    doc = document()
    doc["results"] = [r for r in doc["results"] if not r["data"]]
    text = render_html(doc)
    assert "No login-timing samples in this run." in text
    assert "No rate-limit bursts in this run." in text
    assert "No token lifetimes measured in this run." in text


# --- plots ---------------------------------------------------------------------------------------


def test_rate_limit_plot_reads_the_documented_shape() -> None:
    plot = rate_limit_plot(rate_result(), 0)
    assert plot is not None
    for label in ("allowed by worker 4101", "allowed by worker 4102", "limited (429)"):
        assert label in plot.svg
    assert "declared limit 5/minute" in plot.svg
    assert "19 request(s) allowed in all" in plot.caption
    # Without per-worker counts (remote), one "allowed" series.
    single = copy.deepcopy(rate_result())
    for burst in single["data"]["bursts"]:
        del burst["per_worker"]
    plot = rate_limit_plot(single, 1)
    assert plot is not None
    assert ">allowed<" in plot.svg
    assert "worker" not in plot.svg


def test_rate_limit_plot_reads_the_rate_limit_family_summary_too() -> None:
    """``per_burst`` with ``refused`` and ``allowed_by_process``, as the RL family records it."""
    data = {
        "requests": 25,
        "bursts": 1,
        "expected_workers": 4,
        "per_burst": [
            {
                "requests": 25,
                "allowed": 19,
                "refused": 6,
                "failed": 0,
                "allowed_by_process": {
                    "worker 13388": 5,
                    "worker 13387": 4,
                    "http://127.0.0.1:36745 worker 13790": 5,
                    "http://127.0.0.1:36745 worker 13789": 5,
                },
            }
        ],
    }
    plot = rate_limit_plot(result("AUTH-ENUMERATION-CONTENT", Verdict.FINDING, data=data), 0)
    assert plot is not None
    assert "allowed by worker 13388" in plot.svg
    assert "allowed by http://127.0.0.1:36745 worker 13790" in plot.svg
    assert "limited (429)" in plot.svg
    assert "declared limit" not in plot.svg
    assert "1 burst(s), 19 request(s) allowed in all, no limit in the data" in plot.caption
    data["per_burst"][0]["limit"] = 5
    plot = rate_limit_plot(result("AUTH-ENUMERATION-CONTENT", Verdict.FINDING, data=data), 1)
    assert plot is not None
    assert "declared limit 5" in plot.svg


def test_plots_leave_out_data_they_cannot_read() -> None:
    empty = result("AUTH-ENUMERATION-CONTENT", Verdict.PASS, data={"bursts": []})
    assert rate_limit_plot(empty, 0) is None
    one_arm = result(
        "AUTH-TIMING-ENUMERATION", Verdict.INCONCLUSIVE, data={"samples_ms": {"E": [1.0]}}
    )
    assert timing_plot(one_arm, 0) is None
    assert BURSTS["bursts"]  # the sample is not empty itself


def test_timing_plot_without_a_decision_still_shows_the_distributions() -> None:
    doc = document()
    undecided = next(r for r in doc["results"] if r["check_id"] == "AUTH-TIMING-LONG-PASSWORD")
    plot = timing_plot(undecided, 0)
    assert plot is not None
    assert "no decision was reached" in plot.svg
    assert "known user, over-long password" in plot.svg
    assert "verdict inconclusive" in plot.caption


# --- files ---------------------------------------------------------------------------------------


def test_write_reports_writes_three_files_beside_audit_json(tmp_path: Path) -> None:
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps(document()))
    written = write_reports(audit)
    assert [p.name for p in written] == ["audit.html", "audit.sarif", "junit.xml"]
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in written)
    assert sarif_errors(json.loads((tmp_path / "audit.sarif").read_text())) == []


@pytest.mark.parametrize("verdict", [v.value for v in Verdict])
def test_every_verdict_alone_renders(verdict: str) -> None:
    doc = document()
    doc["results"] = [r for r in doc["results"] if r["verdict"] == verdict]
    doc["summary"] = {v.value: (len(doc["results"]) if v == verdict else 0) for v in Verdict}
    assert sarif_errors(to_sarif(doc)) == []
    suite = parse_junit(to_junit(doc)).find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "")) == len(doc["results"])
    assert 'id="coverage-table"' in render_html(doc)
