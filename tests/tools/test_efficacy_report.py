"""The efficacy report: what each run caught, and every check it left undecided, with why."""

from __future__ import annotations

from typing import Any

from target_app.flaws import CATALOGUE
from tools.audit_run import Run
from tools.efficacy import Group, markdown, rows_for, summarise


def result(check_id: str, verdict: str, reason: str | None = None) -> dict[str, Any]:
    return {"nodeid": f"probes/x.py::{check_id}", "check_id": check_id, "verdict": verdict,
            "reason": reason}  # fmt: skip


def run(label: str, *results: dict[str, Any]) -> Run:
    summary: dict[str, int] = {}
    for item in results:
        summary[item["verdict"]] = summary.get(item["verdict"], 0) + 1
    return Run(label, 0, 1.0, {"summary": summary, "results": list(results)}, "")


def report(secure: Run, flawed: Run) -> tuple[dict[str, object], str]:
    group = Group([CATALOGUE["invalid_token_403"]], run=flawed)
    rows = rows_for(group)
    summary = summarise([secure], [group], rows)
    return summary, markdown(summary, rows)


def test_a_flaw_run_names_each_undecided_check_and_its_reason() -> None:
    secure = run("secure-1", result("AUTHZ-403-FOR-UNAUTHENTICATED", "pass"))
    flawed = run(
        "run-1",
        result("AUTHZ-403-FOR-UNAUTHENTICATED", "finding"),
        result("AUTHZ-NO-WWW-AUTHENTICATE", "inconclusive", "no route answered [401]"),
    )

    summary, text = report(secure, flawed)

    assert summary["ok"] is True
    assert summary["flaw_run_inconclusive"] == 1
    runs = summary["runs"]
    assert isinstance(runs, list)
    assert runs[1]["flaws"] == ["invalid_token_403"]
    assert runs[1]["undecided"] == [
        {"check_id": "AUTHZ-NO-WWW-AUTHENTICATE", "verdict": "inconclusive",
         "reason": "no route answered [401]"}
    ]  # fmt: skip
    assert (
        "- `invalid_token_403` (run-1): AUTHZ-NO-WWW-AUTHENTICATE inconclusive: "
        "no route answered [401]"
    ) in text.splitlines()


def test_an_undecided_check_on_the_secure_target_fails_the_matrix_and_is_named() -> None:
    secure = run("secure-1", result("HDR-MISSING-CSP", "error", "target error: ConnectError"))
    flawed = run("run-1", result("AUTHZ-403-FOR-UNAUTHENTICATED", "finding"))

    summary, text = report(secure, flawed)

    assert summary["ok"] is False
    assert summary["secure_errors"] == 1
    assert "- secure target (secure-1): HDR-MISSING-CSP error: target error: ConnectError" in (
        text.splitlines()
    )


def test_a_report_with_nothing_undecided_has_no_undecided_list() -> None:
    secure = run("secure-1", result("AUTHZ-403-FOR-UNAUTHENTICATED", "pass"))
    flawed = run("run-1", result("AUTHZ-403-FOR-UNAUTHENTICATED", "finding"))

    summary, text = report(secure, flawed)

    assert summary["ok"] is True
    assert "undecided" not in text
