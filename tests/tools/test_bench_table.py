"""The table `make bench` prints: every section's figures, and each goal marked met or missed."""

from __future__ import annotations

from typing import Any

from tools.bench_table import render

REPORT: dict[str, Any] = {
    "machine": {"cores": 2},
    "repeats": 3,
    "bench_wall_s": 612.3,
    "section_s": {"full_audit": 133.5, "rate_limits": 110.2},
    "full_audit": {
        "wall_s": 101.5,
        "summary": {"pass": 67, "finding": 0, "skipped": 4, "error": 0},
        "requests": 964,
        "logins": 263,
        "bcrypt_verify_s": 0.2101,
        "bcrypt_floor_s": 27.6,
        "ratio_to_floor": 3.68,
        "families": {"test_cors": {"requests": 120.0, "seconds": 3.2, "checks": 6.0}},
        "jwt_family": {
            "requests": 210.0,
            "seconds": 12.5,
            "checks": 30.0,
            "jwt_tool_playbook_requests": 122,
        },
    },
    "rate_limits": {
        "per_workers": {
            "2": {"verdict": "finding", "requests": 15, "bursts": 1, "seconds": 4.5},
            "4": {"verdict": "pass", "requests": 75, "bursts": 3, "seconds": 15.0},
        },
        "miss_rate": {"workers": 4, "runs": 20, "misses": 1, "rate": 0.05},
        "seconds": 112.0,
    },
    "timing_power": {
        "100 ms": {"runs": 3, "detected": 3, "share": 1.0, "median_pairs": 12, "cap_pairs": 100},
        "5 ms": {"runs": 2, "detected": 2, "share": 1.0, "median_pairs": 45, "cap_pairs": 200},
        "2 ms": {"runs": 1, "detected": 0, "share": 0.0, "median_pairs": None, "cap_pairs": 100},
    },
    "throughput": {"users_me_rps": 147, "bare_rps": 332, "overhead_ratio": 2.26},
    "responsiveness": {"samples": 254, "health_p50_ms": 16.5, "health_p99_ms": 52.3},
}


def rows(table: str) -> dict[str, list[str]]:
    """First cell -> the other cells, for every table row."""
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("|---")
    ]
    return {row[0]: row[1:] for row in cells}


def test_every_section_has_its_figures() -> None:
    table = render(REPORT)
    assert table.startswith("make bench: 2 cores, BENCH_REPEATS=3, 612.3 s in all")
    by_measure = rows(table)
    assert (
        "101.5 s (67 pass, 4 skipped); 964 requests, 263 logins"
        in by_measure["full local audit, 4 workers, secure target"][0]
    )
    assert (
        "jwt_tool's playbook sends about 122"
        in by_measure["JWT family (forgery, lifetime, secret, sessions, fuzz)"][0]
    )
    assert by_measure["`GET /users/me`, 2 workers, against the same app's bare route"][0] == (
        "147 against 332 req/s: the security stack costs 2.26×"
    )
    assert by_measure["`/health` while 8 logins run, 2 workers"][0] == (
        "p50 16.5 ms, p99 52.3 ms (254 samples)"
    )
    assert by_measure["test_cors"] == ["6", "120", "3.2"]


def test_goals_are_marked_met_or_missed() -> None:
    by_measure = rows(render(REPORT))
    assert by_measure["bcrypt floor (logins × one verify at cost 12 ÷ cores)"][1] == "≤ 2×: missed"
    assert by_measure["timing power, `login_delay_ms` = 100"][1] == "≤ 10 pairs: missed"
    assert by_measure["timing power, `login_delay_ms` = 5"] == [
        "2 of 2 runs detected (median 45 pairs, cap 200)",
        "≤ 200 pairs: met",
    ]
    assert by_measure["timing power, `login_delay_ms` = 2"] == [
        "0 of 1 runs detected within the cap of 100 pairs",
        "",
    ]
    assert by_measure["`make bench` wall time"] == [
        "612.3 s (full_audit 133.5 s, rate_limits 110.2 s)",
        "< 10 min: missed",
    ]
    assert by_measure["multiplication misses at W = 4"] == ["1 of 20 runs", "0: missed"]
    assert by_measure["rate-limit multiplication, `memory_limiter`, W = 2"][1] == "a finding: met"
    assert by_measure["rate-limit multiplication, `memory_limiter`, W = 4"][1] == (
        "a finding: missed"
    )


def test_sections_not_run_are_left_out() -> None:
    only = {k: REPORT[k] for k in ("machine", "repeats", "bench_wall_s", "throughput")}
    by_measure = rows(render(only))
    assert set(by_measure) == {
        "measure",
        "`make bench` wall time",
        "`GET /users/me`, 2 workers, against the same app's bare route",
    }
