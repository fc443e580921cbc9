"""`make efficacy`: run every probe against the secure target and against every planted flaw.

Compatible flaws share a run only where that cannot mask anything: at most one flaw per category
in a run, and flaws that change the target as a whole (its key, its signature checking, its
status codes or headers everywhere) run alone. Writes reports/efficacy.json and efficacy.md and
exits non-zero on any miss, on any finding, error or inconclusive against the secure target, or
when repeated secure runs disagree.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from target_app.flaws import CATALOGUE, Flaw
from tools.audit_run import REPO, Run, audit

# Flaws that change the target as a whole: alone, so nothing else can hide behind them.
SOLO = {
    "signature_unchecked",
    "weak_secret",
    "invalid_token_403",
    "no_www_authenticate",
    "no_security_headers",
    "bad_sub_500",
    "expired_accepted",
    "type_confusion",
    # Its check needs the Redis-outage measurement, which a flaw that removes every per-address
    # limit (no 429 to measure against) would switch off.
    "revocation_fail_open",
}
MAX_GROUP = 6
# Two workers show every per-process flaw and keep the 2-core machine responsive.
WORKERS = int(os.environ.get("EFFICACY_WORKERS", "2"))
# Values for flaws that take one: a leak big enough to be a real flaw, not a power measurement.
VALUES = {"login_delay_ms": 100}


@dataclass
class Group:
    flaws: list[Flaw]
    algorithm: str = "HS256"
    run: Run | None = None

    def spec(self) -> list[str]:
        return [f"{f.name}={VALUES[f.name]}" if f.takes_value else f.name for f in self.flaws]


@dataclass
class Row:
    flaw: str
    expected: list[str]
    reported: list[str]
    caught: bool
    extra: list[str] = field(default_factory=list)
    run: str = ""


def plan(flaws: list[Flaw]) -> list[Group]:
    groups: list[Group] = []
    for flaw in flaws:
        if flaw.requires_algorithm or flaw.name in SOLO:
            groups.append(Group([flaw], flaw.requires_algorithm or "HS256"))
            continue
        home = next(
            (g for g in groups if len(g.flaws) < MAX_GROUP and g.algorithm == "HS256"
             and not any(f.name in SOLO or f.category == flaw.category for f in g.flaws)),
            None,
        )  # fmt: skip
        if home is None:
            groups.append(Group([flaw]))
        else:
            home.flaws.append(flaw)
    return groups


def rows_for(group: Group) -> list[Row]:
    assert group.run is not None
    found = group.run.findings()
    expected_any = {c for f in group.flaws for c in f.detected_by}
    extra = sorted(found - expected_any)
    return [
        Row(
            flaw=f.name,
            expected=list(f.detected_by),
            reported=sorted(found & set(f.detected_by)),
            caught=set(f.detected_by) <= found,
            extra=extra,
            run=group.run.label,
        )
        for f in group.flaws
    ]


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    repeats = int(os.environ.get("EFFICACY_SECURE_RUNS", "1"))
    only = [n for n in os.environ.get("EFFICACY_FLAWS", "").split(",") if n]
    flaws = [CATALOGUE[n] for n in only] if only else list(CATALOGUE.values())
    secure: list[Run] = []
    for index in range(repeats):
        progress(f"efficacy: secure target, run {index + 1}/{repeats} ...")
        secure.append(audit(f"secure-{index + 1}", workers=WORKERS))
        progress(f"  {secure[-1].document.get('summary')} in {secure[-1].seconds:.0f} s")
    groups = plan(flaws)
    for index, group in enumerate(groups, 1):
        progress(f"efficacy: run {index}/{len(groups)}: {','.join(group.spec())} ...")
        group.run = audit(
            f"run-{index}",
            flaws=group.spec(),
            algorithm=group.algorithm,
            workers=WORKERS,
            # A planted login flaw is decided within 12-20 pairs; elsewhere do not wait for 100.
            extra=("--audit-option", "timing_max_pairs=45"),
        )
        progress(f"  findings {sorted(group.run.findings())} in {group.run.seconds:.0f} s")
    rows = [row for group in groups for row in rows_for(group)]
    report = summarise(secure, groups, rows)
    write(report, rows)
    print(markdown(report, rows))
    return 0 if report["ok"] else 1


def summarise(secure: list[Run], groups: list[Group], rows: list[Row]) -> dict[str, object]:
    false_positives = sorted({c for run in secure for c in run.findings()})
    secure_errors = sum(count(run, "error") for run in secure)
    secure_inconclusive = sum(
        run.document.get("summary", {}).get("inconclusive", 0) for run in secure
    )
    flaky = sorted(
        node for node in secure[0].verdicts()
        if len({run.verdicts().get(node) for run in secure}) > 1
    ) if secure else []  # fmt: skip
    runs = [g.run for g in groups if g.run is not None]
    caught = sum(row.caught for row in rows)
    ok = (
        caught == len(rows)
        and not false_positives
        and secure_errors == 0
        and secure_inconclusive == 0
        and not flaky
        and all(run.document for run in [*secure, *runs])
    )
    return {
        "ok": ok,
        "flaws": len(rows),
        "caught": caught,
        "missed": [row.flaw for row in rows if not row.caught],
        "secure_runs": len(secure),
        "false_positives": false_positives,
        "secure_errors": secure_errors,
        "secure_inconclusive": secure_inconclusive,
        "flaky_on_secure": flaky,
        "flaw_run_errors": sum(r.document.get("summary", {}).get("error", 0) for r in runs),
        "flaw_run_inconclusive": sum(
            r.document.get("summary", {}).get("inconclusive", 0) for r in runs
        ),
        "runs": [run_entry(run, []) for run in secure]
        + [run_entry(g.run, g.spec()) for g in groups if g.run is not None],
    }


def run_entry(run: Run, flaws: list[str]) -> dict[str, object]:
    """One audit run: its flaws, time, counts, and each check it left undecided, with why."""
    return {
        "label": run.label,
        "flaws": flaws,
        "seconds": round(run.seconds, 1),
        "summary": run.document.get("summary"),
        "undecided": run.undecided(),
    }


def count(run: Run, verdict: str) -> int:
    return int(run.document.get("summary", {}).get(verdict, 0))


def markdown(report: dict[str, object], rows: list[Row]) -> str:
    lines = [
        "| flaw | expected check_ids | reported | caught | extra findings in its run |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row.flaw}` | {', '.join(row.expected)} | {', '.join(row.reported) or '-'} | "
            f"{'yes' if row.caught else '**MISSED**'} | {', '.join(row.extra) or '-'} |"
        )
    positives = report["false_positives"]
    assert isinstance(positives, list)
    flaky = report["flaky_on_secure"]
    assert isinstance(flaky, list)
    named = f" ({', '.join(positives)})" if positives else ""
    lines += [
        "",
        f"Flaws caught: {report['caught']} / {report['flaws']}. "
        f"False positives on the secure target ({report['secure_runs']} runs): "
        f"{len(positives)}{named}. "
        f"Secure target: {report['secure_errors']} errors, "
        f"{report['secure_inconclusive']} inconclusive, {len(flaky)} flaky verdicts. "
        f"Flaw runs: {report['flaw_run_errors']} errors, "
        f"{report['flaw_run_inconclusive']} inconclusive.",
    ]
    return "\n".join(lines + undecided_lines(report))


def undecided_lines(report: dict[str, object]) -> list[str]:
    """Name every check a run left undecided, so a reviewer can judge each one."""
    runs = report["runs"]
    assert isinstance(runs, list)
    lines = [
        f"- {', '.join(f'`{f}`' for f in run['flaws']) or 'secure target'} ({run['label']}): "
        f"{item['check_id']} {item['verdict']}: {item['reason'] or 'no reason given'}"
        for run in runs
        for item in run["undecided"]
    ]
    return ["", "Checks left undecided:", "", *lines] if lines else []


def write(report: dict[str, object], rows: list[Row]) -> None:
    out = REPO / "reports"
    out.mkdir(exist_ok=True)
    document = {**report, "matrix": [row.__dict__ for row in rows]}
    (out / "efficacy.json").write_text(json.dumps(document, indent=2))
    (out / "efficacy.md").write_text(markdown(report, rows) + "\n")
    progress(f"efficacy: wrote {Path('reports') / 'efficacy.json'} and efficacy.md")


if __name__ == "__main__":
    sys.exit(main())
