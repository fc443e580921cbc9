"""The table `make bench` prints (and writes to reports/bench.md) from its bench.json document.

Markdown, so the same text reads in a terminal and pastes into the README. Each row names the
goal the issue set for it, where there is one, and says whether the figure met it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Row = tuple[str, str, str]

AUDIT_FLOOR_GOAL = 2.0
BENCH_GOAL_S = 600
PAIRS_GOALS = {"100 ms": 10, "5 ms": 200}


def render(report: dict[str, Any]) -> str:
    cores = report.get("machine", {}).get("cores", "?")
    lines = [
        f"make bench: {cores} cores, BENCH_REPEATS={report.get('repeats', '?')}, "
        f"{report.get('bench_wall_s', '?')} s in all",
        "",
        "| measure | result | goal |",
        "|---|---|---|",
    ]
    wall = report.get("bench_wall_s")
    if wall is not None:
        sections = ", ".join(f"{k} {v:g} s" for k, v in report.get("section_s", {}).items())
        lines.append(
            f"| `make bench` wall time | {wall:g} s ({sections}) | "
            f"{met(wall < BENCH_GOAL_S, f'< {BENCH_GOAL_S // 60} min')} |"
        )
    for section, rows in ROWS.items():
        if section in report:
            lines += [
                f"| {measure} | {result} | {goal} |"
                for measure, result, goal in rows(report[section])
            ]
    families = report.get("full_audit", {}).get("families")
    if families:
        lines += ["", "| probe family | checks | requests | seconds |", "|---|---|---|---|"]
        lines += [
            f"| {name} | {f['checks']:g} | {f['requests']:g} | {f['seconds']:g} |"
            for name, f in families.items()
        ]
    return "\n".join(lines) + "\n"


def met(ok: bool | None, goal: str) -> str:
    if ok is None:
        return goal
    return f"{goal}: {'met' if ok else 'missed'}"


def _full_audit(s: dict[str, Any]) -> Iterator[Row]:
    summary = s.get("summary") or {}
    counts = ", ".join(f"{v} {k}" for k, v in summary.items() if v) or "no results"
    ratio = s.get("ratio_to_floor")
    yield (
        "full local audit, 4 workers, secure target",
        f"{s['wall_s']} s ({counts}); {s['requests']} requests, {s['logins']} logins",
        "",
    )
    yield (
        "bcrypt floor (logins × one verify at cost 12 ÷ cores)",
        f"{s['bcrypt_floor_s']} s ({s['bcrypt_verify_s'] * 1000:.0f} ms per verify); "
        f"audit = {ratio}× the floor",
        met(ratio is not None and ratio <= AUDIT_FLOOR_GOAL, f"≤ {AUDIT_FLOOR_GOAL:g}×"),
    )
    jwt = s["jwt_family"]
    yield (
        "JWT family (forgery, lifetime, secret, sessions, fuzz)",
        f"{jwt['checks']:g} checks, {jwt['requests']:g} requests, {jwt['seconds']:g} s; "
        f"jwt_tool's playbook sends about {jwt['jwt_tool_playbook_requests']}",
        "",
    )


def _rate_limits(s: dict[str, Any]) -> Iterator[Row]:
    for workers, f in s["per_workers"].items():
        yield (
            f"rate-limit multiplication, `memory_limiter`, W = {workers}",
            f"{f['verdict']}: {f['requests']} requests, {f['bursts']} burst(s), {f['seconds']} s",
            met(f["verdict"] == "finding", "a finding"),
        )
    miss = s["miss_rate"]
    yield (
        f"multiplication misses at W = {miss['workers']}",
        f"{miss['misses']} of {miss['runs']} runs",
        met(miss["misses"] == 0, "0"),
    )


def _timing_power(s: dict[str, Any]) -> Iterator[Row]:
    for delay, f in s.items():
        pairs = f["median_pairs"]
        goal = PAIRS_GOALS.get(delay)
        yield (
            f"timing power, `login_delay_ms` = {delay.removesuffix(' ms')}",
            f"{f['detected']} of {f['runs']} runs detected "
            + (
                f"within the cap of {f.get('cap_pairs', '?')} pairs"
                if pairs is None
                else f"(median {pairs:g} pairs, cap {f.get('cap_pairs', '?')})"
            ),
            met(pairs is not None and pairs <= goal, f"≤ {goal} pairs") if goal else "",
        )


def _throughput(s: dict[str, Any]) -> Iterator[Row]:
    yield (
        "`GET /users/me`, 2 workers, against the same app's bare route",
        f"{s['users_me_rps']} against {s['bare_rps']} req/s: the security stack costs "
        f"{s['overhead_ratio']}×",
        "",
    )


def _responsiveness(s: dict[str, Any]) -> Iterator[Row]:
    yield (
        "`/health` while 8 logins run, 2 workers",
        f"p50 {s['health_p50_ms']} ms, p99 {s['health_p99_ms']} ms ({s['samples']} samples)",
        "",
    )


ROWS: dict[str, Callable[[dict[str, Any]], Iterator[Row]]] = {
    "full_audit": _full_audit,
    "rate_limits": _rate_limits,
    "timing_power": _timing_power,
    "throughput": _throughput,
    "responsiveness": _responsiveness,
}
