"""OpenAPI-driven fuzzing with schemathesis' Python API, bounded and recorded as evidence.

Each operation of the document gets ``examples`` generated cases per generation mode (positive,
then negative), sent with the profile user's token through one ``requests`` session. Each
response goes through schemathesis' own checks (``not_a_server_error``, ``ignored_auth``,
``status_code_conformance``); a failure keeps schemathesis' curl reproduction. Every exchange is
recorded redacted, and counted with the harness's requests.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException
from requests.adapters import HTTPAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.openapi.checks import IgnoredAuth, UndefinedStatusCode
from schemathesis.specs.openapi.checks import ignored_auth, status_code_conformance

from probes.harness.client import count_sent
from probes.harness.evidence import Exchange, Redactor
from probes.harness.verdicts import HarnessError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TIMEOUT = 10.0
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# What each schemathesis failure becomes: the kind a check reports.
SERVER_ERROR = "server error"
IGNORED_AUTH = "ignored auth"
UNDOCUMENTED = "undocumented status"
KINDS: dict[type[Failure], str] = {
    ServerError: SERVER_ERROR,
    IgnoredAuth: IGNORED_AUTH,
    UndefinedStatusCode: UNDOCUMENTED,
}
STATE_CHANGING = "state-changing; allowed by audit.openapi_state_changing"
# Distinct failures kept per kind (each with its reproduction); later ones are only counted.
MAX_KEPT = 20


class UnusableSchema(HarnessError):
    """schemathesis cannot load the OpenAPI document."""


@dataclass
class FuzzFailure:
    kind: str
    operation: str
    title: str
    message: str
    status: int | None
    reproduce: str  # schemathesis' curl command, redacted
    exchanges: list[Exchange]
    count: int = 1

    def summary(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "title": self.title,
            "message": self.message,
            "status": self.status,
            "count": self.count,
            "reproduce": self.reproduce,
        }


@dataclass
class FuzzReport:
    seed: int
    examples: int
    cases: int = 0
    requests: int = 0
    per_operation: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    excluded: dict[str, str] = field(default_factory=dict)  # operation -> why it was left out
    invalid: list[str] = field(default_factory=list)  # operations schemathesis cannot use
    transport_errors: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    failures: dict[tuple[str, str, str], FuzzFailure] = field(default_factory=dict)
    exhausted: bool = False

    def of_kind(self, kind: str) -> list[FuzzFailure]:
        return [f for f in self.failures.values() if f.kind == kind]

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "examples_per_operation_and_mode": self.examples,
            "cases": self.cases,
            "requests": self.requests,
            "operations": dict(self.per_operation),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "excluded": self.excluded,
            "invalid_operations": self.invalid,
            "budget_exhausted": self.exhausted,
            "transport_errors": len(self.transport_errors),
        }


class _SourceAdapter(HTTPAdapter):
    """Sends from one loopback source address (local mode: its own rate-limit buckets)."""

    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


class _Recorder:
    """A requests response hook: counts, bounds and records every exchange, redacted."""

    def __init__(self, redactor: Redactor, budget: int) -> None:
        self.redactor = redactor
        self.budget = budget
        self.sent = 0
        self.exchanges: list[Exchange] = []

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.sent += 1
        count_sent()
        self.exchanges.append(exchange_of(self.redactor, response))

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.hook]}

    @property
    def exhausted(self) -> bool:
        return self.sent >= self.budget


def exchange_of(redactor: Redactor, response: requests.Response) -> Exchange:
    request = response.request
    body = request.body if isinstance(request.body, bytes | str) else b""
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    content_type = str(request.headers.get("content-type", ""))
    return Exchange(
        method=str(request.method),
        url=redactor.text(str(request.url)),
        request_headers=redactor.headers((k, str(v)) for k, v in request.headers.items()),
        request_body=redactor.body(raw, content_type) if raw else "",
        status=response.status_code,
        response_headers=redactor.headers(response.headers.items()),
        response_body=redactor.body(response.content, response.headers.get("content-type", "")),
        elapsed_ms=response.elapsed.total_seconds() * 1000,
    )


def make_session(source: str | None, recorder: _Recorder) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: traffic stays on the target
    if source:
        adapter = _SourceAdapter(source)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    session.hooks["response"].append(recorder.hook)
    return session


def order(operations: Iterable[Any], last_paths: set[str]) -> list[Any]:
    """Safe methods first, state-changing ones after, and logout-like paths last."""
    ranked = [
        (op.method.upper() not in SAFE_METHODS, op.path in last_paths, index, op)
        for index, op in enumerate(operations)
    ]
    return [entry[-1] for entry in sorted(ranked, key=lambda e: e[:3])]


def fuzz(
    document: dict[str, Any],
    base_url: str,
    *,
    auth_headers: dict[str, str],
    redactor: Redactor,
    examples: int,
    state_changing: bool,
    leave_out: dict[str, str] | None = None,
    source: str | None = None,
    last_paths: Iterable[str] = (),
    seed: int | None = None,
) -> FuzzReport:
    """Fuzz every usable operation; the loops are bounded by ``examples`` and a request budget.

    ``leave_out`` maps operations (``"GET /path"``) to the reason they are not fuzzed; without
    ``state_changing``, only GET, HEAD and OPTIONS operations are.
    """
    report = FuzzReport(
        seed=seed if seed is not None else secrets.randbelow(2**32), examples=examples
    )
    try:
        schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
        schema.config.update(base_url=base_url)
    except Exception as exc:  # schemathesis' loader errors have no common public base
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UnusableSchema(f"{type(exc).__name__}: {redactor.text(first)}") from None
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation schemathesis cannot build cases for
            report.invalid.append(redactor.text(str(exc).splitlines()[0] if str(exc) else "?"))
    usable = []
    for operation in order(operations, set(last_paths)):
        if operation.label in (leave_out or {}):
            report.excluded[operation.label] = (leave_out or {})[operation.label]
        elif state_changing or operation.method.upper() in SAFE_METHODS:
            usable.append(operation)
        else:
            report.excluded[operation.label] = STATE_CHANGING
    # Each case is one request, ignored_auth re-sends a few per operation, and same-host
    # redirects add hops: twice that is a bound no sane run reaches.
    recorder = _Recorder(redactor, budget=2 * (examples * len(MODES) + 4) * len(usable))
    session = make_session(source, recorder)
    judged: set[str] = set()  # operations ignored_auth has decided (enforced, or not)
    try:
        for index, operation in enumerate(usable):
            for mode_index, mode in enumerate(MODES):
                run = _runner(
                    operation, mode, session, recorder, report, auth_headers, judged, base_url
                )
                case_seed = report.seed + 2 * index + mode_index
                _drive(run, operation, mode, examples, case_seed, report, redactor)
    finally:
        session.close()
    report.requests = recorder.sent
    report.exhausted = recorder.exhausted
    return report


def _drive(
    run: Any,
    operation: Any,
    mode: GenerationMode,
    examples: int,
    case_seed: int,
    report: FuzzReport,
    redactor: Redactor,
) -> None:
    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )(given(operation.as_strategy(generation_mode=mode))(run))
    try:
        hypothesis_seed(case_seed)(test)()
    except HypothesisException as exc:
        # e.g. Unsatisfiable: no negative case exists for an operation without parameters.
        name = type(exc).__name__
        if name != "Unsatisfiable":
            report.harness_errors.append(f"{operation.label} ({mode.value}): {name}")
    except Exception as exc:  # schemathesis could not generate or serialize a case
        text = redactor.text(str(exc).splitlines()[0] if str(exc) else "")
        report.harness_errors.append(
            f"{operation.label} ({mode.value}): {type(exc).__name__} {text}"
        )


def _runner(
    operation: Any,
    mode: GenerationMode,
    session: requests.Session,
    recorder: _Recorder,
    report: FuzzReport,
    auth_headers: dict[str, str],
    judged: set[str],
    base_url: str,
) -> Any:
    def run(case: Any) -> None:
        if recorder.exhausted:
            return
        before = len(recorder.exchanges)
        try:
            response = case.call(
                base_url=base_url, session=session, headers=dict(auth_headers), timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            report.transport_errors.append(f"{operation.label}: {type(exc).__name__}")
            return
        report.cases += 1
        report.per_operation[operation.label] += 1
        report.statuses[response.status_code] += 1
        checks = [not_a_server_error, status_code_conformance]
        if operation.label not in judged:
            checks.append(ignored_auth)
        sent = dict(auth_headers)
        # ignored_auth re-sends without our session (it drops it with the credentials): the
        # hooks still count and record those requests.
        resend = {"session": session, "headers": sent, "timeout": TIMEOUT, "hooks": recorder.hooks}
        try:
            case.validate_response(response, checks=checks, headers=sent, transport_kwargs=resend)
        except FailureGroup as group:
            exchanges = recorder.exchanges[before:]
            for failure in group.exceptions:
                _keep(report, failure, case, response, exchanges, recorder.redactor)
                if isinstance(failure, IgnoredAuth):
                    judged.add(operation.label)  # one failure is proof enough
            return
        except requests.RequestException as exc:  # an ignored_auth re-send failed
            report.transport_errors.append(f"{operation.label}: {type(exc).__name__}")
            return
        if ignored_auth in checks and 200 <= response.status_code < 300:
            judged.add(operation.label)  # enforcement confirmed once, as schemathesis' engine does

    return run


def _keep(
    report: FuzzReport,
    failure: Exception,
    case: Any,
    response: Any,
    exchanges: list[Exchange],
    redactor: Redactor,
) -> None:
    kind = next((k for cls, k in KINDS.items() if isinstance(failure, cls)), None)
    if kind is None or not isinstance(failure, Failure):
        return
    status = getattr(failure, "status_code", None)
    if isinstance(failure, IgnoredAuth) and exchanges:
        # The failing request is ignored_auth's re-send without (or with invalid) credentials;
        # schemathesis' curl would show the generated case, so the re-send itself is replayed.
        reproduce = exchanges[-1].curl()
        status = exchanges[-1].status
        shown = exchanges[-1:] + exchanges[:1]
    else:
        reproduce = case.as_curl_command(headers=dict(response.request.headers))
        shown = exchanges[:1]
    key = (kind, failure.operation or case.operation.label, str(status or failure.title))
    kept = report.failures.get(key)
    if kept is not None:
        kept.count += 1
        return
    if len(report.of_kind(kind)) >= MAX_KEPT:
        return
    report.failures[key] = FuzzFailure(
        kind=kind,
        operation=key[1],
        title=failure.title,
        message=redactor.text(failure.message.strip().splitlines()[0] if failure.message else ""),
        status=status,
        reproduce=redactor.text(reproduce),
        exchanges=shown,
    )
