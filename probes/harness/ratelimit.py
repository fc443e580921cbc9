"""Rate-limit measurements: the limited routes, presence, bursts over fresh connections, bypass
variants and token replays. The probes in ``probes/test_rate_limits.py`` decide from these.

Every loop is bounded in requests and in time. Locally each fresh window is a new loopback source
address (a fresh per-IP bucket at once); remotely it is a wait that honours ``Retry-After`` and
``X-RateLimit-Reset``, within the profile's ``audit.max_pacing_wait``.
"""

from __future__ import annotations

import secrets
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from probes.harness.auth import extract_token, login_request
from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange, Redactor
from probes.harness.judge import Reference, accepted
from probes.harness.limits import Limit, PacingExhausted, parse_limit
from probes.harness.profile import Profile, Route
from probes.harness.target import Target
from probes.harness.verdicts import HarnessError, TargetError

WORKER_HEADER = "x-target-worker"
UNKNOWN_WORKERS = 8
MAX_BURSTS = 3
# Requests past limit + 1 when no 429 has come yet: the evidence that the limit really is absent.
EXTRA = 2
BURST_DEADLINE_S = 120.0
REPLAY_DEADLINE_S = 60.0
TOO_MANY = 429
# A used-up limit must stay used up while the variants are tried: if the target says it resets
# sooner than this, wait for the reset and use it up afresh.
HOLD_S = 20.0
# Answers that show a variant never reached the route's handler.
NOT_ROUTED = frozenset({404, 405, 501})
# Validation refusals: they may sit in front of the limiter, so they prove nothing either way.
VALIDATION = frozenset({400, 422})
EXAMPLE_DOMAIN = "example.invalid"  # reserved (RFC 2606): a reset mail can never go anywhere

Progress = Callable[[str], None]


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- what is limited, and how to call it ---------------------------------------------------------


@dataclass(frozen=True)
class RouteLimit:
    route: Route
    limit: Limit
    text: str
    per_user: bool = False
    login: bool = False

    @property
    def label(self) -> str:
        return f"{self.route} ({self.text}{' per user' if self.per_user else ''})"


def limited_routes(profile: Profile) -> tuple[list[RouteLimit], list[str]]:
    """The login route and each sensitive route with its stated limit; and unreadable limits."""
    found: list[RouteLimit] = []
    problems: list[str] = []
    wanted = [(Route(method="POST", path=profile.login.path), profile.expectations.login_limit)]
    flags = [(False, True)]
    for item in profile.expectations.sensitive_routes:
        wanted.append((item.route, item.limit))
        flags.append((item.per_user, False))
    for (route, text), (per_user, login) in zip(wanted, flags, strict=True):
        if not text:
            continue
        try:
            limit = parse_limit(text)
        except ValueError:
            problems.append(f"{route}: limit {text!r} is not like '5/minute'")
            continue
        if limit is not None:
            found.append(RouteLimit(route, limit, text, per_user, login))
    return found, problems


@dataclass(frozen=True)
class Call:
    """One request to a limited route: method, path (or absolute URL) and httpx arguments."""

    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def with_headers(self, extra: dict[str, str]) -> dict[str, Any]:
        kwargs = dict(self.kwargs)
        kwargs["headers"] = {**kwargs.get("headers", {}), **extra}
        return kwargs


def random_text(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def probe_address() -> str:
    return f"rl-probe-{secrets.token_hex(4)}@{EXAMPLE_DOMAIN}"


def call_for(
    rl: RouteLimit,
    profile: Profile,
    document: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Call:
    """A request the route processes: a login with an unknown user and a wrong password (no real
    account is locked out), or a body built from the OpenAPI schema with a reserved address."""
    kwargs: dict[str, Any]
    if rl.login:
        kwargs = login_request(profile, probe_address(), random_text())
    else:
        kwargs = body_for(document, rl.route)
    if headers:
        kwargs["headers"] = dict(headers)
    return Call(rl.route.method, rl.route.path, kwargs)


def body_for(
    document: dict[str, Any], route: Route, values: dict[str, str] | None = None
) -> dict[str, Any]:
    """httpx arguments for a body the OpenAPI document describes for ``route``; ``values`` fills
    fields by name fragment (e.g. ``{"email": ..., "password": ...}``)."""
    operation = (document.get("paths") or {}).get(route.path, {}).get(route.method.lower())
    if not isinstance(operation, dict):
        return {}
    content = (operation.get("requestBody") or {}).get("content") or {}
    for media, key in (
        ("application/json", "json"),
        ("application/x-www-form-urlencoded", "data"),
        ("multipart/form-data", "data"),
    ):
        if media in content:
            schema = content[media].get("schema") or {}
            return {key: example(schema, document, values or {})}
    return {}


def example(
    schema: Any, document: dict[str, Any], values: dict[str, str], name: str = "", depth: int = 0
) -> Any:
    """A small valid value for a JSON schema: required properties only, bounded depth."""
    schema = _resolve(schema, document)
    if depth > 6 or not isinstance(schema, dict):
        return None
    for fragment, value in values.items():
        if fragment in name.lower() and schema.get("type", "string") == "string":
            return value
    if "example" in schema:
        return schema["example"]
    for key in ("examples", "enum"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if _resolve(o, document).get("type") != "null"]
        if options:
            return example(options[0], document, values, name, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example(part, document, values, name, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {
            key: example(properties[key], document, values, key, depth + 1)
            for key in schema.get("required") or []
            if key in properties
        }
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [example(schema.get("items") or {}, document, values, name, depth + 1)] * count
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return _string(schema, name)


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = str(schema.get("format", ""))
    if fmt == "email" or "mail" in name.lower():
        return probe_address()
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    if fmt == "date-time":
        return "2024-01-01T00:00:00Z"
    low = int(schema.get("minLength") or 0)
    high = int(schema.get("maxLength") or 64)
    return "probe" + "x" * max(min(max(low, 8), high) - 5, 0)


def _resolve(schema: Any, document: dict[str, Any]) -> Any:
    for _ in range(10):
        if not isinstance(schema, dict) or "$ref" not in schema:
            return schema
        node: Any = document
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node
    return schema


def register_and_log_in(
    client: ProbeClient, profile: Profile, document: dict[str, Any], source: str | None
) -> dict[str, str]:
    """Local mode: a brand-new user (own rate-limit buckets), logged in; its auth headers."""
    registration = profile.endpoints.registration
    if not registration:
        raise HarnessError("the profile names no registration endpoint")
    email, password = f"rl-{secrets.token_hex(6)}@example.test", f"Pw-{random_text(14)}"
    client.redactor.add_secret(password)
    route = Route(method="POST", path=registration)
    body = body_for(document, route, {"mail": email, "user": email, "password": password}) or {
        "json": {"email": email, "password": password}
    }
    response = client.post(registration, note="register a fresh user", **body)
    if not response.is_success:
        raise HarnessError(f"registering a fresh user failed ({response.status_code})")
    with client.from_source(source) if source else _same(client) as login_client:
        answer = login_client.post(
            profile.login.path,
            note="log in the fresh user",
            **login_request(profile, email, password),
        )
    token = extract_token(profile, answer, profile.tokens.access)
    if token is None:
        raise HarnessError(f"logging in a freshly registered user failed ({answer.status_code})")
    return {"Authorization": f"{profile.tokens.scheme} {token}"}


@contextmanager
def _same(client: ProbeClient) -> Iterator[ProbeClient]:
    yield client


# --- response details ----------------------------------------------------------------------------


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    try:
        return int(float(value))
    except ValueError:
        return None


def wait_hint(response: httpx.Response | Mapping[str, str]) -> float | None:
    """Seconds until the limit resets, from Retry-After (seconds or a date) or X-RateLimit-Reset
    (an epoch time or seconds from now); of a response, or of its (lower-case) headers."""
    headers = response.headers if isinstance(response, httpx.Response) else response
    value = headers.get("retry-after", "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset", "").strip()
    try:
        moment = float(reset)
    except ValueError:
        return None
    return max(moment - time.time(), 0.0) if moment > 1e9 else moment


def retry_after_valid(response: httpx.Response) -> bool:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return bool(value)


def processed(status: int | None) -> bool:
    """The handler did the route's work: a success, or a refusal made by the handler itself."""
    if status is None:
        return False
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status not in NOT_ROUTED | VALIDATION | {TOO_MANY}


# --- fresh windows -------------------------------------------------------------------------------


class Windows:
    """Fresh rate-limit windows: locally a new loopback source address, remotely a wait.

    Remotely a window is fresh once a full limit period has passed since this module's last
    request to the route, and no sooner than any Retry-After or X-RateLimit-Reset said.
    """

    def __init__(self, target: Target, progress: Progress = stderr_progress) -> None:
        self.target = target
        self.progress = progress
        self.budget = float(target.profile.audit.max_pacing_wait)
        self.waited = 0.0
        self._ready: dict[str, float] = {}

    @property
    def local(self) -> bool:
        return self.target.mode == "local"

    @contextmanager
    def fresh(self, client: ProbeClient, rl: RouteLimit) -> Iterator[tuple[ProbeClient, str]]:
        """A client whose requests to ``rl`` start in a fresh window, and where they come from."""
        if self.local:
            source = self.target.sources.next()
            with client.from_source(source) as sender:
                yield sender, source
            return
        self.wait(rl)
        yield client, "this host"

    @contextmanager
    def source(self, client: ProbeClient) -> Iterator[tuple[ProbeClient, str]]:
        """A client with its own (new) source address locally; remotely this host, no waiting."""
        if self.local:
            source = self.target.sources.next()
            with client.from_source(source) as sender:
                yield sender, source
            return
        yield client, "this host"

    @contextmanager
    def at(self, client: ProbeClient, source: str) -> Iterator[ProbeClient]:
        """A client sending from ``source`` again (as given by ``fresh`` or ``source``)."""
        if self.local:
            with client.from_source(source) as sender:
                yield sender
            return
        yield client

    def sent(self, rl: RouteLimit, hints: Sequence[float | None] = ()) -> None:
        """Requests to ``rl`` just went out: the next fresh window is a full period away, or
        later if a 429's Retry-After or X-RateLimit-Reset (``hints``, seconds) says so."""
        ready = time.monotonic() + rl.limit.seconds
        for hint in hints:
            if hint is not None:
                ready = max(ready, time.monotonic() + hint + 0.5)
        key = str(rl.route)
        self._ready[key] = max(self._ready.get(key, 0.0), ready)

    def wait(self, rl: RouteLimit) -> None:
        delay = self._ready.get(str(rl.route), 0.0) - time.monotonic()
        if delay <= 0:
            return
        if self.waited + delay > self.budget:
            raise PacingExhausted(
                f"a fresh window on {rl.route} needs {delay:.0f} s more, past the pacing budget "
                f"(audit.max_pacing_wait = {self.budget:.0f} s, {self.waited:.0f} s used)"
            )
        self.progress(f"rate limits: waiting {delay:.0f} s for a fresh window on {rl.route}")
        time.sleep(delay)
        self.waited += delay


# --- presence ------------------------------------------------------------------------------------


@dataclass
class Presence:
    rl: RouteLimit
    call: Call
    source: str
    statuses: list[int] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    refusal: httpx.Response | None = None
    seconds: float = 0.0

    @property
    def first_429(self) -> int | None:
        return self.statuses.index(TOO_MANY) + 1 if TOO_MANY in self.statuses else None

    @property
    def enforced(self) -> bool:
        first = self.first_429
        return first is not None and first <= self.rl.limit.count + 1

    @property
    def only_validation(self) -> bool:
        return bool(self.statuses) and all(s in VALIDATION for s in self.statuses)

    def describe(self) -> str:
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(Counter(self.statuses).items()))
        where = f"429 at request {self.first_429}" if self.first_429 else "no 429"
        return f"{self.rl.label}: {len(self.statuses)} requests ({counts}), {where}"


def measure_presence(sender: ProbeClient, presence: Presence) -> Presence:
    """Requests one after another over one kept-alive connection (one worker: a per-worker
    counter still shows its limit here), until the first 429, at most limit + 1 + EXTRA."""
    started = time.monotonic()
    call = presence.call
    for index in range(presence.rl.limit.count + 1 + EXTRA):
        response = sender.request(
            call.method, call.path, note=f"{presence.rl.route} request {index + 1}", **call.kwargs
        )
        presence.statuses.append(response.status_code)
        presence.exchanges.append(sender.exchanges[-1])
        if response.status_code == TOO_MANY:
            presence.refusal = response
            break
    presence.seconds = time.monotonic() - started
    return presence


# --- bursts --------------------------------------------------------------------------------------


@dataclass
class Answer:
    base: str
    status: int | None
    worker: str | None = None
    remaining: int | None = None
    limit: int | None = None
    reset: str | None = None
    hint: float | None = None
    note: str = ""

    @property
    def allowed(self) -> bool:
        return self.status is not None and self.status < 500 and self.status != TOO_MANY

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500

    @property
    def process(self) -> str | None:
        if not self.worker:
            return None
        return f"{self.base} worker {self.worker}" if self.base else f"worker {self.worker}"


@dataclass
class Burst:
    answers: list[Answer]
    limit: Limit
    started_epoch: float
    seconds: float
    source: str

    @property
    def allowed(self) -> int:
        return sum(a.allowed for a in self.answers)

    @property
    def refused(self) -> int:
        return sum(a.status == TOO_MANY for a in self.answers)

    @property
    def failed(self) -> int:
        return sum(a.failed for a in self.answers)

    def processes(self, allowed_only: bool = False) -> Counter[str]:
        return Counter(
            a.process for a in self.answers if a.process and (a.allowed or not allowed_only)
        )

    def resets(self) -> list[str]:
        return sorted({a.reset for a in self.answers if a.reset})

    def might_cross(self, remote: bool) -> bool:
        """Whether the burst may straddle a window boundary (then 2L, not L, is the bound)."""
        end = self.started_epoch + self.seconds
        if self.seconds >= self.limit.seconds:
            return True
        for reset in self.resets():
            try:
                moment = float(reset)
            except ValueError:
                continue
            if moment > 1e9 and self.started_epoch <= moment <= end:
                return True
        if remote and not self.resets():
            # A fixed window may be aligned to the clock: did the burst cross a multiple of it?
            period = self.limit.seconds
            return int(self.started_epoch // period) != int(end // period)
        return False

    def remaining_proof(self) -> str | None:
        """Proof of separate counters from X-RateLimit-Remaining in a fresh window.

        One shared counter reads its count after its own hit, so at most k answers can show a
        value of L - k or more: concurrent requests may repeat lower values, never these. (A
        target that reports the count before the hit shows L itself once: then L - k + 1.) More
        answers above that line mean several counters, each starting from L.
        """
        values = sorted(
            (a.remaining for a in self.answers if a.allowed and a.remaining is not None),
            reverse=True,
        )
        stated = next((a.limit for a in self.answers if a.limit), None) or self.limit.count
        before_hit = 1 if values and values[0] >= stated else 0
        for rank, value in enumerate(values, start=1):
            if value > stated - rank + before_hit:
                return (
                    f"{rank} answers reported {value} or more of {stated} remaining; one shared "
                    f"counter lets at most {max(stated - value + before_hit, 0)} do so"
                )
        return None

    def describe(self) -> str:
        text = f"{len(self.answers)} requests: {self.allowed} allowed, {self.refused} refused (429)"
        if self.failed:
            text += f", {self.failed} failed"
        return text + f" in {self.seconds:.1f} s"

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.answers),
            "allowed": self.allowed,
            "refused": self.refused,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
            "distinct_resets": self.resets()[:16],
            "allowed_by_process": dict(self.processes(allowed_only=True)),
            "answered_by_process": dict(self.processes()),
        }


def send_burst(
    sender: ProbeClient,
    call: Call,
    count: int,
    concurrency: int,
    limit: Limit,
    source: str,
    bases: Sequence[str] = ("",),
    label: str = "burst",
) -> Burst:
    """``count`` requests, each over its own new TCP connection, ``concurrency`` in flight, spread
    over ``bases`` in turn ("" is the target itself); bounded by BURST_DEADLINE_S."""

    def one(index: int) -> Answer:
        base = bases[index % len(bases)]
        note = f"{label} request {index + 1}"
        try:
            response = sender.request(
                call.method, f"{base}{call.path}", fresh=True, note=note, **call.kwargs
            )
        except TargetError:
            return Answer(base, None, note=note)
        return Answer(
            base,
            response.status_code,
            worker=response.headers.get(WORKER_HEADER),
            remaining=_int_header(response, "x-ratelimit-remaining"),
            limit=_int_header(response, "x-ratelimit-limit"),
            reset=response.headers.get("x-ratelimit-reset"),
            hint=wait_hint(response) if response.status_code == TOO_MANY else None,
            note=note,
        )

    started_epoch, started = time.time(), time.monotonic()
    pool = ThreadPoolExecutor(max_workers=max(concurrency, 1), thread_name_prefix="rl-burst")
    try:
        futures = [pool.submit(one, index) for index in range(count)]
        done, _pending = wait(futures, timeout=BURST_DEADLINE_S)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    answers = [f.result() for f in futures if f in done and not f.cancelled()]
    return Burst(answers, limit, started_epoch, time.monotonic() - started, source)


@dataclass
class Multiplication:
    verdict: str  # "finding", "pass" or "inconclusive"
    reason: str
    bursts: list[Burst]
    workers: int
    requests: int
    seconds: float
    evidence: list[Exchange] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bursts": len(self.bursts),
            "seconds": round(self.seconds, 2),
            "expected_workers": self.workers,
            "per_burst": [burst.summary() for burst in self.bursts],
        }


def judge_burst(burst: Burst, workers: int, remote: bool) -> tuple[str, str]:
    """("finding" | "clean" | "unclear", why) for one burst in a fresh window."""
    limit = burst.limit.count
    crossing = burst.might_cross(remote)
    bound = 2 * limit if crossing else limit
    if burst.allowed > bound:
        why = f"{burst.allowed} of {len(burst.answers)} requests allowed, limit {limit}"
        return "finding", why + (" (the burst may span two windows: bound 2L)" if crossing else "")
    proof = None if crossing else burst.remaining_proof()
    if proof:
        return "finding", f"separate counters: {proof}"
    if burst.failed:
        return "unclear", f"{burst.failed} of {len(burst.answers)} requests failed"
    if len(burst.answers) <= limit:
        return "unclear", f"only {len(burst.answers)} answers came back in time"
    if crossing:
        return "unclear", "the burst may have spanned two windows"
    seen = len(burst.processes())
    if seen and seen < min(2, workers):
        return "unclear", f"every answer came from one process ({next(iter(burst.processes()))})"
    return "clean", ""


def decide_multiplication(
    client: ProbeClient,
    windows: Windows,
    rl: RouteLimit,
    call: Call,
    workers: int,
    bases: Sequence[str] = ("",),
    max_bursts: int = MAX_BURSTS,
) -> Multiplication:
    """Bursts of N = L·W + L requests in fresh windows (W processes behind all ``bases``), at
    least 2W in flight, until a finding or enough clean bursts: one when the answering process is
    known (a second process answering would have shown its own counter), else ``max_bursts``."""
    started, sent_before = time.monotonic(), client.sent
    limit = rl.limit.count
    count = limit * workers + limit
    bursts: list[Burst] = []
    reasons: list[str] = []
    clean = 0
    for number in range(1, max_bursts + 1):
        with windows.fresh(client, rl) as (sender, source):
            first = len(sender.exchanges)
            burst = send_burst(
                sender, call, count, 2 * workers, rl.limit, source, bases, f"burst {number}"
            )
            exchanges = sender.exchanges[first:]
        windows.sent(rl, [a.hint for a in burst.answers])
        bursts.append(burst)
        outcome, why = judge_burst(burst, workers, remote=not windows.local)
        if outcome == "finding":
            return Multiplication(
                "finding",
                f"burst {number}: {why}",
                bursts,
                workers,
                client.sent - sent_before,
                time.monotonic() - started,
                burst_evidence(burst, exchanges),
            )
        if outcome == "unclear":
            reasons.append(f"burst {number}: {why}")
            continue
        clean += 1
        if burst.processes() or clean >= max_bursts:
            break
    seconds = time.monotonic() - started
    sent = client.sent - sent_before
    if clean and (any(b.processes() for b in bursts) or clean >= max_bursts):
        return Multiplication("pass", "", bursts, workers, sent, seconds)
    return Multiplication(
        "inconclusive",
        "; ".join(reasons) or f"only {clean} of {max_bursts} bursts were clean",
        bursts,
        workers,
        sent,
        seconds,
    )


def burst_evidence(burst: Burst, exchanges: list[Exchange]) -> list[Exchange]:
    """Allowed answers from as many different processes as possible, then a refused one."""
    by_note = {e.note: e for e in exchanges}
    chosen: list[Exchange] = []
    seen: set[str | None] = set()
    for answer in burst.answers:
        if answer.allowed and answer.process not in seen and answer.note in by_note:
            seen.add(answer.process)
            chosen.append(by_note[answer.note])
    refused = [by_note[a.note] for a in burst.answers if a.status == TOO_MANY and a.note in by_note]
    return chosen[:5] + refused[:1]


def burst_curl(
    exchange: Exchange,
    count: int,
    concurrency: int,
    source: str | None,
    origins: Sequence[str] = (),
) -> str:
    """A shell line that repeats the burst: ``count`` curls, ``concurrency`` at once, spread over
    ``origins`` (scheme://host:port of each instance) when given."""
    single = exchange.curl().replace("curl -i ", "curl -s -o /dev/null -w '%{http_code}\\n' ", 1)
    if source and source.count(".") == 3:
        single = single.replace("curl ", f"curl --interface {source} ", 1)
    if len(origins) < 2:
        return f"seq {count} | xargs -P {concurrency} -I{{}} {single} | sort | uniq -c"
    mine = httpx.URL(exchange.url)
    own = f"{mine.scheme}://{mine.netloc.decode()}"
    share, step = -(-count // len(origins)), concurrency // len(origins) or 1
    parts = [
        f"seq {share} | xargs -P {step} -I{{}} {single.replace(own, origin, 1)} &"
        for origin in origins
    ]
    return "{ " + " ".join(parts) + " wait; } | sort | uniq -c"


# --- bypass variants -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    kind: str
    label: str
    method: str
    path: str
    kwargs: dict[str, Any]
    # New arguments for each send (a new spoofed address each time), when given.
    renew: Callable[[], dict[str, Any]] | None = None

    def arguments(self, attempt: int) -> dict[str, Any]:
        return self.renew() if self.renew is not None and attempt else self.kwargs


def _spoofed_ip() -> str:
    return f"203.0.113.{secrets.randbelow(250) + 1}"  # TEST-NET-3, documentation only


def header_variants(call: Call) -> list[Variant]:
    found = []
    for name, template in (
        ("X-Forwarded-For", "{ip}"),
        ("X-Real-IP", "{ip}"),
        ("Forwarded", "for={ip}"),
        ("True-Client-IP", "{ip}"),
        ("X-Client-IP", "{ip}"),
    ):

        def renew(name: str = name, template: str = template) -> dict[str, Any]:
            return call.with_headers({name: template.format(ip=_spoofed_ip())})

        kwargs = renew()
        label = f"{name}: {kwargs['headers'][name]}"
        found.append(Variant("header", label, call.method, call.path, kwargs, renew))
    return found


def path_variants(call: Call) -> list[Variant]:
    path, _, query = call.path.partition("?")
    head, _, last = path.rstrip("/").rpartition("/")
    letter = next((i for i, c in enumerate(last) if c.isalpha()), None)
    encoded = (
        f"{head}/{last[:letter]}%{ord(last[letter]):02X}{last[letter + 1 :]}"
        if letter is not None
        else None
    )
    joiner = "&" if query else "?"
    candidates = {
        "trailing slash": path.rstrip("/") + "/",
        "upper case": path.upper(),
        "percent-encoded letter": encoded,
        "double slash": "/" + path,
        "extra query string": f"{call.path}{joiner}rl={secrets.token_hex(3)}",
    }
    return [
        Variant("path", f"{label}: {variant}", call.method, variant, dict(call.kwargs))
        for label, variant in candidates.items()
        if variant and variant != call.path
    ]


def method_variants(call: Call) -> list[Variant]:
    other = "POST" if call.method == "GET" else "GET"
    found = [Variant("method", f"HEAD {call.path}", "HEAD", call.path, dict(call.kwargs))]
    for header in ("X-HTTP-Method-Override", "X-Method-Override"):
        kwargs = call.with_headers({header: call.method})
        found.append(
            Variant("method", f"{other} with {header}: {call.method}", other, call.path, kwargs)
        )
    return found


@dataclass
class VariantResult:
    variant: Variant
    status: int | None
    exchange: Exchange | None
    control: Exchange | None = None
    bypassed: bool = False
    unclear: str | None = None


@dataclass
class BypassRun:
    rl: RouteLimit
    results: list[VariantResult] = field(default_factory=list)
    refusal: Exchange | None = None
    skipped: str | None = None

    @property
    def bypasses(self) -> list[VariantResult]:
        return [r for r in self.results if r.bypassed]

    @property
    def unclear(self) -> list[VariantResult]:
        return [r for r in self.results if r.unclear]


def exhaust(sender: ProbeClient, call: Call, rl: RouteLimit, note: str) -> Exchange | None:
    """Send the plain request until it is refused (429); the refusal, or None within the bound."""
    for index in range(rl.limit.count + 1 + EXTRA):
        response = sender.request(call.method, call.path, note=f"{note} {index + 1}", **call.kwargs)
        if response.status_code == TOO_MANY:
            return sender.exchanges[-1]
    return None


def try_variants(
    sender: ProbeClient, call: Call, rl: RouteLimit, variants: Sequence[Variant]
) -> BypassRun:
    """Once the plain request is refused, send each variant over the same kept-alive connection.

    A variant the route processes counts as a bypass only if, twice in a row, the plain request
    right after it (the control) is still refused. Otherwise the variant may have reached a process
    with its own unspent counter, or a slot that just expired: then the limit is used up again and
    the variant tried again, once.
    """
    run = BypassRun(rl)
    run.refusal = exhaust_held(sender, call, rl)
    if run.refusal is None:
        run.skipped = f"{rl.route} never answered 429 within {rl.limit.count + 1 + EXTRA} requests"
        return run
    for variant in variants:
        run.results.append(_try_variant(sender, call, rl, variant))
    return run


def exhaust_held(sender: ProbeClient, call: Call, rl: RouteLimit) -> Exchange | None:
    """``exhaust``, and once more after the reset if the target says it resets within HOLD_S."""
    refusal = exhaust(sender, call, rl, "use up the limit")
    hint = wait_hint(refusal.response_headers) if refusal is not None else None
    if hint is not None and hint < HOLD_S:
        time.sleep(hint + 0.5)
        refusal = exhaust(sender, call, rl, "use up the limit after its reset")
    return refusal


def _try_variant(
    sender: ProbeClient, call: Call, rl: RouteLimit, variant: Variant
) -> VariantResult:
    result = VariantResult(variant, None, None)
    confirmed = 0
    for attempt in range(3):
        try:
            response = sender.request(
                variant.method,
                variant.path,
                note=f"variant {variant.label}",
                **variant.arguments(attempt),
            )
        except TargetError as exc:
            result.unclear = str(exc)
            return result
        result.status, result.exchange = response.status_code, sender.exchanges[-1]
        if not processed(response.status_code):
            result.unclear = (
                f"{variant.label} was served once, then answered {response.status_code}"
                if confirmed
                else None
            )
            return result
        control = sender.request(call.method, call.path, note="control: plain", **call.kwargs)
        result.control = sender.exchanges[-1]
        if control.status_code == TOO_MANY:
            confirmed += 1
            if confirmed == 2:
                result.bypassed, result.unclear = True, None
                return result
            continue
        confirmed = 0
        result.unclear = (
            f"{variant.label} answered {response.status_code}, but the plain request right after "
            f"was not refused either ({control.status_code})"
        )
        if attempt == 2 or exhaust(sender, call, rl, "use up the limit again") is None:
            return result
    return result


# --- IPv6 against IPv4 loopback ------------------------------------------------------------------

LOOPBACK_PAIRS = {"127.0.0.1": "::1", "localhost": "::1", "::1": "127.0.0.1"}


def other_family(base_url: str) -> tuple[str, str] | None:
    """(IPv4 base, IPv6 base) for a loopback target, whichever it was given as; else None."""
    url = httpx.URL(base_url)
    if url.host not in LOOPBACK_PAIRS:
        return None
    port = url.port or (443 if url.scheme == "https" else 80)
    v4 = f"{url.scheme}://127.0.0.1:{port}"
    v6 = f"{url.scheme}://[::1]:{port}"
    return v4, v6


def answers_at(base: str, path: str) -> bool:
    try:
        httpx.get(f"{base}{path}", timeout=3.0)
    except httpx.HTTPError:
        return False
    return True


# --- token replays -------------------------------------------------------------------------------


@dataclass
class Replay:
    base: str
    status: int | None
    worker: str | None
    accepted: bool
    exchange: Exchange | None


def replay_token(
    client: ProbeClient,
    route: Route,
    headers: dict[str, str],
    reference: Reference,
    bases: Sequence[str],
    workers: int,
    label: str,
    must_reach: dict[str, str | None] | None = None,
) -> list[Replay]:
    """Replays over fresh connections in concurrent rounds of 2W per base, until every base was
    answered by W distinct processes (and by ``must_reach[base]`` when given), when the answering
    process is known; at least 4W replays, at most 16W, within REPLAY_DEADLINE_S."""
    replays: list[Replay] = []
    deadline = time.monotonic() + REPLAY_DEADLINE_S
    rounds = 0

    def one(base: str, index: int) -> Replay:
        note = f"{label} {index}"
        try:
            response = client.request(
                route.method, f"{base}{route.path}", headers=headers, fresh=True, note=note
            )
        except TargetError:
            return Replay(base, None, None, False, None)
        exchange = next((e for e in reversed(client.exchanges) if e.note == note), None)
        return Replay(
            base,
            response.status_code,
            response.headers.get(WORKER_HEADER),
            accepted(response, reference),
            exchange,
        )

    def covered() -> bool:
        if len(replays) < 4 * workers:
            return False
        for base in bases:
            seen = {r.worker for r in replays if r.base == base and r.worker}
            if not seen:
                continue  # the answering process is not known: the count alone must do
            wanted = (must_reach or {}).get(base)
            if len(seen) < workers or (wanted and wanted not in seen):
                return False
        return True

    with ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="rl-replay") as pool:
        while not covered() and len(replays) < 16 * workers and time.monotonic() < deadline:
            rounds += 1
            jobs = [
                pool.submit(one, base, rounds * 1000 + i)
                for base in bases
                for i in range(2 * workers)
            ]
            replays += [job.result() for job in jobs]
    return replays


def processes_seen(replays: Sequence[Replay], base: str) -> set[str]:
    return {r.worker for r in replays if r.base == base and r.worker}


# --- bench ---------------------------------------------------------------------------------------


@dataclass
class BenchFigures:
    """``memory_limiter``: requests, bursts and seconds to decide per worker count, and the miss
    rate (runs that did not end in a finding) over repeated decisions at one worker count."""

    per_workers: dict[int, dict[str, Any]]
    repeat_workers: int
    runs: int
    misses: int
    seconds: float

    @property
    def miss_rate(self) -> float:
        return self.misses / self.runs if self.runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_workers": {str(w): figures for w, figures in sorted(self.per_workers.items())},
            "miss_rate": {
                "workers": self.repeat_workers,
                "runs": self.runs,
                "misses": self.misses,
                "rate": round(self.miss_rate, 3),
            },
            "seconds": round(self.seconds, 1),
        }


def measure_memory_limiter(
    workers: Sequence[int] = (2, 4, 8),
    repeats: int = 20,
    repeat_workers: int = 4,
    progress: Progress = stderr_progress,
) -> BenchFigures:
    """For the bench: launch the local target with ``memory_limiter`` once per worker count and
    decide RL-MULTIPLIED on its login route as the probe does (fresh source addresses give fresh
    windows, so repeated decisions need no waiting)."""
    from probes.harness.launcher import LocalTarget

    started = time.monotonic()
    per_workers: dict[int, dict[str, Any]] = {}
    misses = runs = 0
    for count in sorted(set(workers) | ({repeat_workers} if repeats else set())):
        local = LocalTarget(flaws="memory_limiter", workers=count)
        try:
            local.start()
            target = Target(local.base_url, local.profile(), "local", local.flaws, local)
            rl = next(r for r in limited_routes(target.profile)[0] if r.login)
            client = ProbeClient(target.base_url, Redactor(), budget=100_000)
            windows = Windows(target, progress)
            rounds = repeats if count == repeat_workers else 1
            try:
                for run in range(rounds):
                    call = call_for(rl, target.profile, {})
                    decision = decide_multiplication(client, windows, rl, call, count)
                    if run == 0 and count in workers:
                        per_workers[count] = {
                            "verdict": decision.verdict,
                            "requests": decision.requests,
                            "bursts": len(decision.bursts),
                            "seconds": round(decision.seconds, 2),
                        }
                    if count == repeat_workers:
                        runs += 1
                        misses += decision.verdict != "finding"
                    client.exchanges.clear()
                progress(f"memory_limiter W={count}: {per_workers.get(count)}")
            finally:
                client.close()
        finally:
            local.stop()
    return BenchFigures(per_workers, repeat_workers, runs, misses, time.monotonic() - started)
