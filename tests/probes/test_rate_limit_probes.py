"""The rate-limit family against the secure target (4 workers on Redis, five runs) and against each
rate-limit flaw at 2 and 4 workers: exactly the flaw's detected_by is reported. Also the IPv6
check against a dual-stack stub, and the bench's measuring function."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from probes.harness.auth import log_in
from probes.harness.catalogue import lookup
from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.judge import Reference
from probes.harness.launcher import LocalTarget
from probes.harness.profile import Route
from probes.harness.ratelimit import (
    Windows,
    call_for,
    decide_multiplication,
    limited_routes,
    measure_memory_limiter,
    replay_token,
)
from probes.harness.target import Target
from probes.harness.tokens import logout
from probes.harness.verdicts import severity_rank
from target_app.flaws import CATALOGUE
from tests.probes.audit import AuditRun, run_audit
from tests.probes.procs import processes_in_group, processes_mentioning

RL_MODULE = ["probes/test_rate_limits.py"]
pytestmark = pytest.mark.audit

RL_FLAWS = [
    "no_login_limit",
    "sensitive_routes_unlimited",
    "memory_limiter",
    "xff_trusted",
    "no_retry_after",
    # Its check shares the rate-limit family's Redis-outage measurement.
    "revocation_fail_open",
]
# Honest skips on the local target: it listens on 127.0.0.1 only, so IPv6 cannot be compared.
EXPECTED_SKIPS = {"RL-BYPASS-IPV6"}
# With no limit on export there is no per-user bucket to share (RL-MISSING reports it).
FLAW_SKIPS = {"sensitive_routes_unlimited": {"RL-NOT-PER-USER"}}
MULTIPLIED_CHECKS = {
    "probes/test_rate_limits.py::test_limit_holds_across_workers",
    "probes/test_rate_limits.py::test_limit_holds_across_instances",
    "probes/test_rate_limits.py::test_limit_holds_while_redis_is_down",
}


def gate_fails(check_ids: set[str]) -> bool:
    """Whether these findings fail the default gate (--fail-on medium)."""
    return any(severity_rank(lookup(c).severity) <= severity_rank("medium") for c in check_ids)


def by_nodeid(run: AuditRun) -> dict[str, dict[str, object]]:
    return {str(r["nodeid"]): r for r in run.results}


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("flaw", RL_FLAWS)
def test_flaw_is_reported_by_exactly_its_checks(tmp_path: Path, flaw: str, workers: int) -> None:
    run = run_audit(tmp_path, RL_MODULE, flaws=flaw, workers=workers)
    expected = set(CATALOGUE[flaw].detected_by)
    assert run.findings() == expected, run.output
    assert run.with_verdict("error") == set(), run.output
    assert run.with_verdict("inconclusive") == set(), run.output
    assert run.with_verdict("skipped") == EXPECTED_SKIPS | FLAW_SKIPS.get(flaw, set()), run.output
    assert run.returncode == (1 if gate_fails(expected) else 0), run.output
    for result in run.results:
        if result["verdict"] == "finding":
            assert result["evidence"], result
            assert str(result["reproduce"]).startswith(("curl ", "seq ", "{ seq ")), result
    if flaw == "memory_limiter":
        multiplied_everywhere(run, workers)


def multiplied_everywhere(run: AuditRun, workers: int) -> None:
    """Each multiplication check shows the flaw, with per-burst and per-process counts."""
    results = by_nodeid(run)
    found = {n for n in MULTIPLIED_CHECKS if results[n]["verdict"] == "finding"}
    assert found == MULTIPLIED_CHECKS, run.output
    across = results["probes/test_rate_limits.py::test_limit_holds_across_workers"]
    data = across["data"]
    assert isinstance(data, dict)
    burst = data["per_burst"][-1]
    assert burst["requests"] == 5 * workers + 5
    assert burst["allowed"] > 5
    # Each worker counts for itself: several allowed requests, none more than the limit.
    assert len(burst["allowed_by_process"]) >= 2
    assert max(burst["allowed_by_process"].values()) <= 5
    assert "allowed per process" in str(across["detail"])
    assert str(across["reproduce"]).startswith(f"seq {5 * workers + 5} | xargs -P {2 * workers}")
    instances = results["probes/test_rate_limits.py::test_limit_holds_across_instances"]
    assert str(instances["reproduce"]).startswith("{ seq "), instances


@pytest.mark.parametrize("attempt", range(5))
def test_secure_target_passes_every_rate_limit_check(tmp_path: Path, attempt: int) -> None:
    workdir = tmp_path / "target"
    run = run_audit(tmp_path, RL_MODULE, workers=4, env={"PROBES_LOCAL_WORKDIR": str(workdir)})
    # Both instances (and the restarted Redis) are gone: none names the shared workdir.
    assert processes_mentioning(str(workdir)) == []
    summary = run.document["summary"]
    assert (summary["finding"], summary["error"], summary["inconclusive"]) == (0, 0, 0), run.output
    assert run.with_verdict("skipped") == EXPECTED_SKIPS, run.output
    assert summary["pass"] == len(run.results) - len(EXPECTED_SKIPS), run.output
    assert run.returncode == 0, run.output
    # Each pass carries its measurement; the bursts show one shared counter.
    for result in run.results:
        if result["verdict"] == "pass":
            assert result["detail"], result
    across = by_nodeid(run)["probes/test_rate_limits.py::test_limit_holds_across_workers"]
    data = across["data"]
    assert isinstance(data, dict)
    assert data["requests"] >= 25 and data["seconds"] > 0
    for burst in data["per_burst"]:
        assert burst["allowed"] <= 5
        assert len(burst["distinct_resets"]) <= 1  # one counter, one reset time
    assert len(data["per_burst"][-1]["answered_by_process"]) >= 2


# --- IPv6 against IPv4: a dual-stack stub (the local target listens on IPv4 only) ---------------

STUB_LIMIT = 2


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def dual_stack_stub(per_address: bool) -> Iterator[str]:
    """A login limited to 2 a minute, on 127.0.0.1 and ::1 at one port; keyed on the client
    address (so each family has its own bucket), or one bucket for everybody."""
    hits: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5

        def log_message(self, *_: object) -> None:
            return None

        def _send(self, status: int, body: dict[str, str], headers: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, {"status": "ok"}, {})
            else:
                self._send(404, {"detail": "Not Found"}, {})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path != "/auth/login":
                self._send(404, {"detail": "Not Found"}, {})
                return
            key = self.client_address[0] if per_address else "everyone"
            with lock:
                hits[key] = hits.get(key, 0) + 1
                over = hits[key] > STUB_LIMIT
            if over:
                self._send(429, {"detail": "Too Many Requests"}, {"retry-after": "60"})
            else:
                self._send(401, {"detail": "Incorrect username or password"}, {})

    for _ in range(20):
        four = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = four.server_address[1]
        try:
            six = _V6Server(("::1", port), Handler)
        except OSError:
            four.server_close()
            continue
        break
    else:
        pytest.skip("no port free on both 127.0.0.1 and ::1")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (four, six)]
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for server in (four, six):
            server.shutdown()
            server.server_close()


STUB_PROFILE = """
name = "dual-stack stub"
[login]
path = "/auth/login"
format = "form"
[routes]
protected = ["GET /me"]
[users.user]
username_env = "STUB_USER"
password_env = "STUB_PASSWORD"
[expectations]
login_limit = "2/minute"
health = "/health"
[audit]
max_pacing_wait = 0
"""


@pytest.mark.parametrize(("per_address", "verdict"), [(True, "finding"), (False, "pass")])
def test_ipv6_check_against_a_dual_stack_stub(
    tmp_path: Path, per_address: bool, verdict: str
) -> None:
    profile = tmp_path / "stub.toml"
    profile.write_text(STUB_PROFILE)
    with dual_stack_stub(per_address) as origin:
        started = time.monotonic()
        run = run_audit(
            tmp_path / "reports",
            [*RL_MODULE, "-k", "ipv6"],
            extra=["--base-url", origin, "--target-profile", str(profile)],
            env={"STUB_USER": "nobody@example.invalid", "STUB_PASSWORD": "not-a-password"},
        )
        assert time.monotonic() - started < 60, run.output  # no pacing wait in this run
    assert run.verdicts() == {"RL-BYPASS-IPV6": verdict}, run.output
    if verdict == "finding":
        [result] = run.results
        urls = [e["url"] for e in result["evidence"]]
        assert any("127.0.0.1" in u for u in urls) and any("[::1]" in u for u in urls), urls


# --- the bench's measuring function --------------------------------------------------------------


def test_memory_limiter_bench_measures_a_decision_per_run() -> None:
    figures = measure_memory_limiter(workers=(2,), repeats=2, repeat_workers=2)
    decided = figures.per_workers[2]
    assert decided["verdict"] == "finding", figures
    assert decided["requests"] >= 15 and decided["bursts"] >= 1 and decided["seconds"] > 0
    assert (figures.runs, figures.misses, figures.miss_rate) == (2, 0, 0.0), figures
    summary = figures.to_dict()
    assert summary["miss_rate"] == {"workers": 2, "runs": 2, "misses": 0, "rate": 0.0}
    assert summary["per_workers"]["2"] == decided


# --- two instances that do not share their Redis keys ---------------------------------------------


def test_instances_on_separate_redis_namespaces_multiply_the_limit_and_leak_logouts() -> None:
    """The cross-instance measurements see a deployment whose instances keep separate state."""
    primary = LocalTarget(flaws="", workers=2)
    sibling: LocalTarget | None = None
    client: ProbeClient | None = None
    try:
        primary.start()
        sibling = primary.sibling()
        sibling.redis_prefix = f"{primary.redis_prefix}-other"  # the misconfiguration
        sibling.start()
        target = Target(primary.base_url, primary.profile(), "local", "", primary)
        client = ProbeClient(primary.base_url, Redactor(), budget=500)
        login = next(rl for rl in limited_routes(target.profile)[0] if rl.login)
        call = call_for(login, target.profile, {})
        bases = ["", sibling.base_url]
        decision = decide_multiplication(client, Windows(target), login, call, 4, bases=bases)
        assert decision.verdict == "finding", decision.reason
        assert decision.bursts[-1].allowed > login.limit.count

        me = Route(method="GET", path="/users/me")
        with client.from_source(target.sources.next()) as sender:
            session = log_in(sender, target.profile, "user")
        reference = Reference.of(client.get(me.path, headers=session.headers()))
        assert reference.status == 200
        answer = logout(client, target.profile, session)
        replays = replay_token(
            client, me, session.headers(), reference, bases, 2, "replay",
            must_reach={"": answer.headers.get("x-target-worker")},
        )  # fmt: skip
        assert not [r for r in replays if r.base == "" and r.accepted]
        assert [r for r in replays if r.base == sibling.base_url and r.accepted]
    finally:
        if client is not None:
            client.close()
        groups = [t.process.pid for t in (primary, sibling) if t and t.process]
        redis = primary.redis
        if sibling is not None:
            sibling.stop()
        primary.stop()
    assert [processes_in_group(pid) for pid in groups] == [[], []]
    assert redis is not None and redis.process.poll() is not None
