"""Rate limits: present on login and every sensitive route, one counter across workers and
instances (also while Redis is down), and not bypassed by headers, paths, methods or IPv6.

Measurements are module fixtures built on ``probes.harness.ratelimit``; each probe decides.
Locally a fresh window is a new loopback source address; remotely it is a wait for the limit to
reset, honouring Retry-After and X-RateLimit-Reset within ``audit.max_pacing_wait``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange, Redactor
from probes.harness.judge import Reference
from probes.harness.launcher import LocalTarget
from probes.harness.limits import PacingExhausted
from probes.harness.probe import Probe
from probes.harness.profile import Route
from probes.harness.ratelimit import (
    TOO_MANY,
    BypassRun,
    Call,
    Multiplication,
    Presence,
    Progress,
    Replay,
    RouteLimit,
    Variant,
    Windows,
    answers_at,
    burst_curl,
    burst_evidence,
    call_for,
    decide_multiplication,
    exhaust_held,
    header_variants,
    limited_routes,
    measure_presence,
    method_variants,
    other_family,
    path_variants,
    processed,
    processes_seen,
    register_and_log_in,
    replay_token,
    retry_after_valid,
    send_burst,
    stderr_progress,
    try_variants,
    wait_hint,
)
from probes.harness.sessions import SessionPool
from probes.harness.target import Target
from probes.harness.tokens import logout
from probes.harness.verdicts import TargetError

MODULE_BUDGET = 4000
UNKNOWN_WORKERS = 8
RECOVERY_DEADLINE_S = 20.0


# --- shared measurements -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def progress(pytestconfig: pytest.Config) -> Progress:
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return stderr_progress
    return lambda line: reporter.write_line(line)


@pytest.fixture(scope="module")
def rl_client(target: Target, redactor: Redactor) -> Iterator[ProbeClient]:
    client = ProbeClient(target.base_url, redactor, budget=MODULE_BUDGET)
    yield client
    client.close()


@pytest.fixture(scope="module")
def windows(target: Target, progress: Progress) -> Iterator[Windows]:
    pacer = Windows(target, progress)
    yield pacer
    login = next((rl for rl in limited_routes(target.profile)[0] if rl.login), None)
    if login is not None and not pacer.local:
        # Leave the login limit as found: later families log in again.
        try:
            pacer.wait(login)
        except PacingExhausted as exc:
            progress(f"rate limits: not waiting for the login limit to reset ({exc})")


@pytest.fixture(scope="module")
def workers(target: Target) -> int:
    return target.profile.workers or UNKNOWN_WORKERS


@pytest.fixture(scope="module")
def document(target: Target, rl_client: ProbeClient) -> dict[str, Any]:
    """The OpenAPI document, for request bodies the sensitive routes accept ({} without one)."""
    path = target.profile.expectations.openapi
    if not path:
        return {}
    try:
        response = rl_client.get(path, note="OpenAPI document")
        found = response.json() if response.is_success else {}
    except (ValueError, TargetError):
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class Plan:
    calls: list[tuple[RouteLimit, Call]]
    problems: list[str]
    # Per-user routes: a second user's headers, to show the two do not share one bucket.
    second_user: dict[str, dict[str, str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def plan(
    target: Target, rl_client: ProbeClient, sessions: SessionPool, document: dict[str, Any]
) -> Plan:
    """Each limited route with a request it processes. Per-user routes are called as a user:
    locally two freshly registered ones (the seeded users' buckets stay untouched for the other
    families), remotely the profile's user and spare."""
    profile = target.profile
    routes, problems = limited_routes(profile)
    found = Plan([], problems)
    users: list[dict[str, str]] = []
    for rl in routes:
        headers = None
        if rl.per_user:
            if not users:
                users = _two_users(target, rl_client, sessions, document)
            headers = users[0]
            if len(users) > 1:
                found.second_user[str(rl.route)] = users[1]
        found.calls.append((rl, call_for(rl, profile, document, headers)))
    return found


def _two_users(
    target: Target, client: ProbeClient, sessions: SessionPool, document: dict[str, Any]
) -> list[dict[str, str]]:
    if target.mode == "local" and target.profile.endpoints.registration:
        return [
            register_and_log_in(client, target.profile, document, target.sources.next())
            for _ in range(2)
        ]
    users = [sessions.get("user").headers()]
    if sessions.has("spare"):
        users.append(sessions.get("spare").headers())
    return users


@pytest.fixture(scope="module")
def presences(plan: Plan, rl_client: ProbeClient, windows: Windows) -> list[Presence]:
    """Each limited route called limit + 1 (+ EXTRA if no 429 came) times, from its own source."""
    measured = []
    for rl, call in plan.calls:
        with windows.source(rl_client) as (sender, source):
            presence = measure_presence(sender, Presence(rl, call, source))
        windows.sent(rl, [wait_hint(presence.refusal)] if presence.refusal is not None else [])
        measured.append(presence)
    return measured


def ip_keyed(presences: Sequence[Presence]) -> Presence | None:
    """The route for bursts: login when it is limited, else the first limited per-IP route."""
    return next((p for p in presences if p.enforced and not p.rl.per_user), None)


def need_limited(probe: Probe, presences: Sequence[Presence]) -> list[Presence]:
    refused = [p for p in presences if p.refusal is not None]
    if not presences:
        probe.skip("the profile states no login limit and no sensitive routes")
    if not refused:
        probe.skip("no route answered 429 at all; RL-MISSING reports the missing limits")
    return refused


def timed_note(probe: Probe, text: str, started: float, client: ProbeClient, sent: int) -> None:
    seconds = time.monotonic() - started
    requests = client.sent - sent
    probe.note(
        f"{text} ({requests} requests, {seconds:.1f} s)",
        {"requests": requests, "seconds": round(seconds, 2)},
    )


# --- presence ------------------------------------------------------------------------------------


@pytest.mark.check("RL-MISSING")
def test_limited_routes_answer_429(probe: Probe, plan: Plan, presences: list[Presence]) -> None:
    """A vulnerable target keeps serving login or a sensitive route past its stated limit."""
    if not presences:
        probe.skip("the profile states no login limit and no sensitive routes")
    for presence in presences:
        probe.note(presence.describe())
    probe.note(
        f"{sum(len(p.statuses) for p in presences)} requests, "
        f"{sum(p.seconds for p in presences):.1f} s",
        {
            "requests": sum(len(p.statuses) for p in presences),
            "seconds": round(sum(p.seconds for p in presences), 2),
        },
    )
    missing = [p for p in presences if not p.enforced and not p.only_validation]
    if missing:
        probe.finding(
            "; ".join(p.describe() for p in missing),
            [p.exchanges[min(p.rl.limit.count, len(p.exchanges) - 1)] for p in missing],
            data={"routes": [p.describe() for p in missing]},
        )
    unclear = [p for p in presences if not p.enforced]
    if unclear or plan.problems:
        probe.inconclusive(
            "; ".join(
                plan.problems
                + [
                    f"{p.rl.route} refused every request body (400/422) and never answered 429: "
                    "a limit behind validation cannot be measured without a valid body "
                    "(describe it in the OpenAPI document)"
                    for p in unclear
                ]
            )
        )


@pytest.mark.check("RL-NO-RETRY-AFTER")
def test_429_carries_retry_after(probe: Probe, presences: list[Presence]) -> None:
    """A vulnerable target answers 429 without a Retry-After telling clients when to come back."""
    refused = need_limited(probe, presences)
    lacking = [p for p in refused if p.refusal is not None and not retry_after_valid(p.refusal)]
    probe.note(f"{len(refused)} routes answered 429; {len(lacking)} without a valid Retry-After")
    if lacking:
        probe.finding(
            "429 without a valid Retry-After on " + ", ".join(str(p.rl.route) for p in lacking),
            [p.exchanges[-1] for p in lacking],
        )


@pytest.mark.check("RL-NOT-PER-USER")
def test_per_user_limit_is_per_user(
    probe: Probe,
    plan: Plan,
    presences: list[Presence],
    rl_client: ProbeClient,
    windows: Windows,
) -> None:
    """A vulnerable target refuses a second user once the first used up a per-user limit."""
    per_user = [p for p in presences if p.rl.per_user]
    if not per_user:
        probe.skip("the profile names no per-user limited route")
    checked = 0
    for presence in per_user:
        other = plan.second_user.get(str(presence.rl.route))
        if other is None:
            probe.skip("a second user is needed: local mode, or users.spare in the profile")
        if presence.refusal is None:
            continue  # RL-MISSING reports it
        call = presence.call
        with windows.at(rl_client, presence.source) as sender:
            response = sender.request(
                call.method,
                call.path,
                note="second user, same address, right after the first was refused",
                **call.with_headers(other),
            )
        checked += 1
        if response.status_code == TOO_MANY:
            probe.finding(
                f"{presence.rl.route}: a second user was refused (429) as soon as the first "
                "user had used up the limit; the limit is not kept per user",
                [presence.exchanges[-1], sender.exchanges[-1]],
            )
        if not processed(response.status_code):
            probe.inconclusive(
                f"{presence.rl.route}: the second user's request answered "
                f"{response.status_code}, so it shows nothing about the bucket"
            )
    if not checked:
        probe.skip("no per-user route answered 429; RL-MISSING reports it")
    probe.note(f"{checked} per-user routes: a second user was still served")


# --- bypasses ------------------------------------------------------------------------------------


def bypass_runs(
    windows: Windows,
    client: ProbeClient,
    presences: Sequence[Presence],
    variants: Callable[[Call], list[Variant]],
) -> list[BypassRun]:
    """Per limited route, from a new address (locally) whose limit is used up just before: each
    variant, with controls. A per-user limit stays used up since the presence check."""
    runs = []
    for presence in presences:
        if presence.refusal is None:
            continue
        with windows.source(client) as (sender, _source):
            runs.append(try_variants(sender, presence.call, presence.rl, variants(presence.call)))
    return runs


def judge_bypasses(
    probe: Probe,
    client: ProbeClient,
    presences: Sequence[Presence],
    windows: Windows,
    variants: Callable[[Call], list[Variant]],
    what: str,
) -> None:
    started, sent = time.monotonic(), client.sent
    runs = bypass_runs(windows, client, presences, variants)
    tried = sum(len(run.results) for run in runs)
    routes = ", ".join(str(run.rl.route) for run in runs if not run.skipped)
    timed_note(probe, f"{tried} {what} variants on {routes or 'no route'}", started, client, sent)
    bypasses = [result for run in runs for result in run.bypasses]
    if bypasses:
        evidence: list[Exchange] = []
        for result in bypasses:
            evidence += [e for e in (result.exchange, result.control) if e is not None]
        run_of = {id(r): run for run in runs for r in run.results}
        probe.finding(
            "; ".join(
                f"{run_of[id(r)].rl.route}: {r.variant.label} answered {r.status} "
                "while the plain request stayed refused (429)"
                for r in bypasses
            ),
            evidence,
        )
    unclear = [result.unclear for run in runs for result in run.unclear]
    skipped = [run.skipped for run in runs if run.skipped]
    if unclear or (skipped and not tried):
        probe.inconclusive("; ".join([u for u in unclear if u] + [s for s in skipped if s]))


@pytest.mark.check("RL-BYPASS-HEADER")
def test_forwarding_headers_do_not_reset_the_limit(
    probe: Probe, presences: list[Presence], rl_client: ProbeClient, windows: Windows
) -> None:
    """A vulnerable target takes a client-sent X-Forwarded-For (or alike) as the client address."""
    limited = need_limited(probe, presences)
    judge_bypasses(probe, rl_client, limited, windows, header_variants, "header")


@pytest.mark.check("RL-BYPASS-PATH")
def test_path_variants_share_the_limit(
    probe: Probe, presences: list[Presence], rl_client: ProbeClient, windows: Windows
) -> None:
    """A vulnerable target counts /login/, /LOGIN, /l%6Fgin or /login?x apart from /login."""
    limited = need_limited(probe, presences)
    judge_bypasses(probe, rl_client, limited, windows, path_variants, "path")


@pytest.mark.check("RL-BYPASS-METHOD")
def test_method_variants_share_the_limit(
    probe: Probe, presences: list[Presence], rl_client: ProbeClient, windows: Windows
) -> None:
    """A vulnerable target serves the route by HEAD or a method override without counting it."""
    limited = need_limited(probe, presences)
    judge_bypasses(probe, rl_client, limited, windows, method_variants, "method")


@pytest.mark.check("RL-BYPASS-IPV6")
def test_ipv6_loopback_shares_the_ipv4_limit(
    probe: Probe, target: Target, presences: list[Presence], redactor: Redactor
) -> None:
    """A vulnerable target keeps separate limits for one host's IPv4 and IPv6 loopback addresses."""
    pair = other_family(target.base_url)
    if pair is None:
        probe.skip("IPv6 against IPv4 is tried only on a loopback target")
    v4, v6 = pair
    health = target.profile.expectations.health or "/"
    if not (answers_at(v4, health) and answers_at(v6, health)):
        probe.skip("the target does not listen on both 127.0.0.1 and ::1 at its port")
    presence = ip_keyed(presences)
    if presence is None:
        probe.skip("no per-address route answered 429; RL-MISSING reports it")
    call, rl = presence.call, presence.rl
    four = ProbeClient(v4, redactor, budget=50)
    six = ProbeClient(v6, redactor, budget=10)
    four.exchanges = six.exchanges = probe.client.exchanges
    try:
        refusal = exhaust_held(four, call, rl)
        if refusal is None:
            probe.inconclusive(f"{rl.route} did not answer 429 over IPv4 this time")
        answer = six.request(call.method, call.path, note="same request over ::1", **call.kwargs)
        if not processed(answer.status_code):
            probe.note(f"over ::1 the route answered {answer.status_code}")
            return
        control = four.request(
            call.method, call.path, fresh=True, note="control over IPv4", **call.kwargs
        )
        if control.status_code != TOO_MANY:
            probe.inconclusive(
                f"over ::1 the route answered {answer.status_code}, but a fresh IPv4 connection "
                f"was not refused either ({control.status_code})"
            )
        probe.finding(
            f"{rl.route}: refused over 127.0.0.1, served over ::1 ({answer.status_code})",
            [refusal, *probe.client.exchanges[-2:]],
        )
    finally:
        four.close()
        six.close()


# --- multiplication across workers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def multiplied(
    presences: list[Presence], rl_client: ProbeClient, windows: Windows, workers: int
) -> Multiplication | PacingExhausted | None:
    presence = ip_keyed(presences)
    if presence is None:
        return None
    try:
        return decide_multiplication(rl_client, windows, presence.rl, presence.call, workers)
    except PacingExhausted as exc:
        return exc


def judge_multiplication(
    probe: Probe,
    result: Multiplication,
    where: str,
    concurrency: int,
    origins: Sequence[str] = (),
) -> None:
    detail = (
        f"{where}: "
        + "; ".join(f"burst {i}: {b.describe()}" for i, b in enumerate(result.bursts, start=1))
        + f" ({result.requests} requests, {result.seconds:.1f} s)"
    )
    probe.note(detail, result.data)
    if result.verdict == "finding":
        last = result.bursts[-1]
        resets = last.resets()
        by_process = last.processes(allowed_only=True)
        extra = f"; {len(resets)} distinct X-RateLimit-Reset values" if len(resets) > 1 else ""
        if by_process:
            extra += "; allowed per process: " + ", ".join(
                f"{name}: {n}" for name, n in by_process.most_common()
            )
        reproduce = (
            burst_curl(result.evidence[0], len(last.answers), concurrency, last.source, origins)
            if result.evidence
            else None
        )
        probe.finding(
            f"{where}: {result.reason}{extra}",
            result.evidence,
            data=result.data,
            reproduce=reproduce,
        )
    if result.verdict == "inconclusive":
        probe.inconclusive(f"{where}: {result.reason}", data=result.data)


@pytest.mark.check("RL-MULTIPLIED")
def test_limit_holds_across_workers(
    probe: Probe,
    presences: list[Presence],
    multiplied: Multiplication | PacingExhausted | None,
    workers: int,
) -> None:
    """A vulnerable target counts per worker process, so the limit multiplies by the workers."""
    if multiplied is None:
        probe.skip("no per-address route answered 429; RL-MISSING reports it")
    if isinstance(multiplied, PacingExhausted):
        probe.inconclusive(str(multiplied))
    presence = ip_keyed(presences)
    assert presence is not None  # multiplied was measured on it
    where = f"{presence.rl.route} ({presence.rl.text}), W = {workers}"
    judge_multiplication(probe, multiplied, where, 2 * workers)


# --- multiplication and revocation across instances (local) --------------------------------------


@pytest.fixture(scope="module")
def second_instance(target: Target) -> Iterator[LocalTarget | None]:
    """Local mode: a second target instance sharing the first one's Redis, database and key."""
    if target.local is None or target.local.redis is None:
        yield None
        return
    sibling = target.local.sibling()
    try:
        sibling.start()
        yield sibling
    finally:
        sibling.stop()


def need_second_instance(probe: Probe, target: Target, sibling: LocalTarget | None) -> LocalTarget:
    if target.local is None:
        probe.skip("starting a second instance needs the local target")
    if sibling is None:
        probe.skip(
            "the local target runs one worker without Redis; instances share state only through "
            "Redis (run with --target-workers 2 or more)"
        )
    return sibling


@pytest.mark.check("RL-MULTIPLIED")
def test_limit_holds_across_instances(
    probe: Probe,
    target: Target,
    presences: list[Presence],
    second_instance: LocalTarget | None,
    rl_client: ProbeClient,
    windows: Windows,
) -> None:
    """A vulnerable target counts per instance: two instances behind one balancer allow 2L."""
    sibling = need_second_instance(probe, target, second_instance)
    presence = ip_keyed(presences)
    if presence is None:
        probe.skip("no per-address route answered 429; RL-MISSING reports it")
    processes = 2 * sibling.workers
    result = decide_multiplication(
        rl_client,
        windows,
        presence.rl,
        presence.call,
        processes,
        bases=["", sibling.base_url],
    )
    where = f"{presence.rl.route} over 2 instances x {sibling.workers} workers"
    judge_multiplication(probe, result, where, 2 * processes, [target.base_url, sibling.base_url])


@pytest.mark.check("JWT-REVOCATION-INSTANCE-LOCAL")
def test_revocation_holds_across_instances(
    probe: Probe,
    target: Target,
    second_instance: LocalTarget | None,
    sessions: SessionPool,
    references: dict[str, Reference],
    judge_route: Route,
) -> None:
    """A vulnerable target revokes a logged-out token only on the instance that handled logout."""
    sibling = need_second_instance(probe, target, second_instance)
    if not target.profile.endpoints.logout:
        probe.skip("the profile names no logout endpoint")
    reference = references.get("user")
    if reference is None or not 200 <= reference.status < 300:
        probe.inconclusive("the user's genuine token is not answered 2xx on the judge route")
    started, sent = time.monotonic(), probe.client.sent
    session = sessions.fresh("user")
    answer = logout(probe.client, target.profile, session)
    logout_worker = answer.headers.get("x-target-worker")
    replays = replay_token(
        probe.client,
        judge_route,
        session.headers(),
        reference,
        ["", sibling.base_url],
        sibling.workers,
        "replay after logout",
        must_reach={"": logout_worker},
    )
    here = [r for r in replays if r.base == ""]
    there = [r for r in replays if r.base == sibling.base_url]
    timed_note(
        probe,
        f"{len(replays)} replays of a logged-out token: {_count(here)} on the instance that "
        f"handled the logout, {_count(there)} on the other",
        started,
        probe.client,
        sent,
    )
    if any(r.accepted for r in here):
        probe.skip(
            "the instance that handled the logout still accepts the token; JWT-LOGOUT-NOOP or "
            "JWT-REVOCATION-NOT-SHARED reports that"
        )
    leaked = [r for r in there if r.accepted]
    if not leaked:
        return
    reached = processes_seen(replays, "")
    if len(reached) < sibling.workers or (logout_worker and logout_worker not in reached):
        probe.inconclusive(
            f"the other instance accepted the token, but the replays reached only {len(reached)} "
            f"of {sibling.workers} workers of the first, so the leak cannot be placed"
        )
    probe.finding(
        f"after logout on one instance, {len(leaked)} of {len(there)} replays on the other "
        "instance were accepted (none on the first)",
        [e for e in (r.exchange for r in leaked[:3]) if e is not None],
    )


def _count(replays: Sequence[Replay]) -> str:
    statuses = Counter(r.status for r in replays)
    return (
        f"{len(replays)} ({', '.join(f'{n} x {s}' for s, n in sorted(statuses.items(), key=str))})"
    )


# --- Redis failure (local) -----------------------------------------------------------------------


@dataclass
class Outage:
    burst_allowed: int
    burst_statuses: Counter[int | None]
    burst_processes: int
    burst_requests: int
    limit: int
    before: list[Replay]
    after: list[Replay]
    logout_worker: str | None
    workers: int
    recovered: bool
    seconds: float
    evidence: list[Exchange]
    source: str


@pytest.fixture(scope="module")
def outage(
    target: Target,
    presences: list[Presence],
    rl_client: ProbeClient,
    sessions: SessionPool,
    references: dict[str, Reference],
    judge_route: Route,
    windows: Windows,
) -> Iterator[Outage | None]:
    """Local mode: log a token out, stop the target's Redis, send a burst and replay the token,
    then start Redis again (empty) and wait for the target to serve again."""
    local = target.local
    presence = ip_keyed(presences)
    reference = references.get("user")
    if local is None or local.redis is None or presence is None or reference is None:
        yield None
        return
    started = time.monotonic()
    workers = local.workers
    session = sessions.fresh("user")
    answer = logout(rl_client, target.profile, session)
    logout_worker = answer.headers.get("x-target-worker")
    replay = lambda label: replay_token(  # noqa: E731
        rl_client, judge_route, session.headers(), reference, [""], workers, label,
        must_reach={"": logout_worker},
    )  # fmt: skip
    before = replay("replay after logout, Redis up")
    rl = presence.rl
    local.stop_redis()
    try:
        with windows.source(rl_client) as (sender, source):
            first = len(sender.exchanges)
            count = rl.limit.count * workers + rl.limit.count
            burst = send_burst(
                sender, presence.call, count, 2 * workers, rl.limit, source, label="Redis down"
            )
            evidence = burst_evidence(burst, sender.exchanges[first:])
        after = replay("replay after logout, Redis down")
    finally:
        local.restart_redis()
        recovered = _recovered(rl_client, judge_route, sessions, workers)
    yield Outage(
        burst.allowed,
        Counter(a.status for a in burst.answers),
        len(burst.processes()),
        len(burst.answers),
        rl.limit.count,
        before,
        after,
        logout_worker,
        workers,
        recovered,
        time.monotonic() - started,
        evidence,
        source,
    )


def _recovered(client: ProbeClient, route: Route, sessions: SessionPool, workers: int) -> bool:
    """Redis is back: wait (bounded) until 2W answers in a row over fresh connections are no 503."""
    headers = sessions.get("user").headers()
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    streak = 0
    while time.monotonic() < deadline:
        response = client.request(
            route.method, route.path, headers=headers, fresh=True, note="after Redis restart"
        )
        streak = streak + 1 if response.status_code != 503 else 0
        if streak >= 2 * workers:
            return True
        time.sleep(0.05)
    return False


def need_outage(probe: Probe, target: Target, measured: Outage | None) -> Outage:
    if target.local is None:
        probe.skip("stopping the target's Redis needs the local target")
    if measured is None:
        probe.skip(
            "the local target runs one worker without Redis, or no per-address route answered "
            "429 (RL-MISSING), or the user's token is not served"
        )
    return measured


@pytest.mark.check("RL-MULTIPLIED")
def test_limit_holds_while_redis_is_down(
    probe: Probe, target: Target, outage: Outage | None
) -> None:
    """A vulnerable target falls back to per-process counters when Redis fails, and multiplies."""
    measured = need_outage(probe, target, outage)
    statuses = ", ".join(f"{n} x {s}" for s, n in sorted(measured.burst_statuses.items(), key=str))
    probe.note(
        f"{measured.burst_requests} requests with the target's Redis stopped: {statuses}; "
        f"{'served again' if measured.recovered else 'NOT serving again'} after Redis restarted "
        f"({measured.seconds:.1f} s for the outage checks)",
        {"requests": measured.burst_requests, "seconds": round(measured.seconds, 2)},
    )
    if measured.burst_allowed > measured.limit:
        probe.finding(
            f"with Redis stopped, {measured.burst_allowed} of {measured.burst_requests} "
            f"requests were allowed, limit {measured.limit}: the limiter counts without its store",
            measured.evidence,
            reproduce=burst_curl(
                measured.evidence[0],
                measured.burst_requests,
                2 * measured.workers,
                measured.source,
            )
            if measured.evidence
            else None,
        )
    closed = {503, TOO_MANY}
    if None in measured.burst_statuses:
        probe.inconclusive("some requests got no answer while Redis was down")
    if not set(measured.burst_statuses) <= closed and measured.burst_processes < 2:
        probe.inconclusive("the burst reached a single process, which multiplies nothing")


@pytest.mark.check("JWT-REVOCATION-FAIL-OPEN")
def test_revocation_holds_while_redis_is_down(
    probe: Probe, target: Target, outage: Outage | None
) -> None:
    """A vulnerable target accepts revoked tokens while its revocation store is unreachable."""
    measured = need_outage(probe, target, outage)
    probe.note(
        f"replays of a logged-out token: Redis up {_count(measured.before)}; "
        f"Redis down {_count(measured.after)}"
    )
    if any(r.accepted for r in measured.before):
        probe.skip(
            "the logged-out token is accepted even with Redis up; JWT-LOGOUT-NOOP or "
            "JWT-REVOCATION-NOT-SHARED reports that"
        )
    leaked = [r for r in measured.after if r.accepted]
    if not leaked:
        return
    reached = processes_seen(measured.before, "")
    if len(reached) < measured.workers:
        probe.inconclusive(
            f"accepted with Redis down, but the replays with Redis up reached only {len(reached)} "
            f"of {measured.workers} workers, so the two cannot be compared"
        )
    probe.finding(
        f"with Redis stopped, {len(leaked)} of {len(measured.after)} replays of a logged-out "
        "token were accepted (none while Redis was up)",
        [e for e in (r.exchange for r in leaked[:3]) if e is not None],
    )
