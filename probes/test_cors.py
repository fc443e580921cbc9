"""CORS: real preflights and actual requests (with and without a Cookie) from test origins.

The origins derive from the profile's allowed ones (``expectations.cors_allowed_origins``): a
random domain, ``null``, and look-alikes of each trusted origin (prefix, suffix, unescaped dot,
special characters, subdomain, http downgrade, trailing slash). Each goes out as a preflight and
as an actual request on the profile's first protected route.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from probes.harness.client import ProbeClient
from probes.harness.cors import (
    KINDS,
    NULL,
    PREFLIGHT,
    REFLECT_ANY,
    Answer,
    Candidate,
    api_methods,
    arbitrary_candidates,
    ask,
    bypass_candidates,
    trusted_origins,
    unused_method,
)
from probes.harness.evidence import Exchange, Redactor
from probes.harness.probe import Probe
from probes.harness.target import Target
from probes.harness.verdicts import TargetError

NO_TRUSTED = "the profile names no allowed origin (expectations.cors_allowed_origins)"
TRUSTED = "trusted"
BROAD = "broad preflight"


@dataclass
class Observed:
    trusted: list[str]
    answers: list[Answer] = field(default_factory=list)
    # Methods the API declares (from its OpenAPI document), when known.
    used_methods: set[str] | None = None
    # The unused method and the made-up header a broad preflight asks for.
    broad_method: str | None = None
    evil_header: str = ""

    def labelled(self, *labels: str) -> list[Answer]:
        return [a for a in self.answers if a.candidate.label in labels]

    def bypasses(self) -> list[Answer]:
        skip = {REFLECT_ANY, NULL, TRUSTED, BROAD}
        return [a for a in self.answers if a.candidate.label not in skip]


@pytest.fixture(scope="module")
def cors(target: Target, redactor: Redactor) -> Iterator[Observed]:
    profile = target.profile
    client = ProbeClient(target.base_url, redactor, budget=400)
    route = profile.routes.protected[0]
    allowed = profile.expectations.cors_allowed_origins
    seen = Observed(trusted_origins(allowed), evil_header=f"x-evil-{secrets.token_hex(3)}")
    seen.used_methods = _declared_methods(client, profile.expectations.openapi)
    candidates = arbitrary_candidates()
    for origin in seen.trusted:
        candidates += [Candidate(TRUSTED, origin), *bypass_candidates(origin, allowed)]
    for candidate in candidates:
        seen.answers += [ask(client, route, candidate, kind) for kind in KINDS]
    used = seen.used_methods or {r.method for r in profile.routes.protected}
    seen.broad_method = unused_method(used | {route.method})
    for origin in seen.trusted:
        seen.answers.append(
            ask(
                client,
                route,
                Candidate(BROAD, origin),
                PREFLIGHT,
                method=seen.broad_method or route.method,
                request_headers=f"authorization, {seen.evil_header}",
            )
        )
    yield seen
    client.close()


def _declared_methods(client: ProbeClient, openapi: str | None) -> set[str] | None:
    if not openapi:
        return None
    try:
        response = client.get(openapi, note="OpenAPI document (methods the API uses)")
        document = response.json() if response.is_success else None
    except (ValueError, TargetError):
        return None
    methods = api_methods(document) if isinstance(document, dict) else set()
    return methods or None


def severity(echoed: list[Answer]) -> str:
    return "high" if any(a.credentials for a in echoed) else "medium"


def kinds(answers: list[Answer]) -> str:
    return ", ".join(dict.fromkeys(a.describe() for a in answers))


def where(answers: list[Answer]) -> str:
    """The request kinds that were granted, and whether credentials were allowed too."""
    sent = ", ".join(dict.fromkeys(f"{a.kind} ({a.status})" for a in answers))
    creds = any(a.credentials for a in answers)
    return f"{sent}{', with credentials allowed' if creds else ', without credentials'}"


def accepted_data(answers: list[Answer]) -> dict[str, object]:
    return {
        "accepted": [
            {
                "origin": a.candidate.origin,
                "class": a.candidate.label,
                "request": a.kind,
                "status": a.status,
                "allow_origin": a.allow_origin,
                "credentials": a.credentials,
            }
            for a in answers
        ]
    }


def named(answers: list[Answer], limit: int = 8) -> str:
    origins = list(dict.fromkeys(str(a.candidate) for a in answers))
    more = f" and {len(origins) - limit} more" if len(origins) > limit else ""
    return ", ".join(origins[:limit]) + more


def evidence_of(answers: list[Answer]) -> list[Exchange]:
    """One exchange per origin first (the evidence is capped), then the other request kinds."""
    first: dict[str, Answer] = {}
    rest: list[Answer] = []
    for answer in answers:
        if answer.candidate.origin in first:
            rest.append(answer)
        else:
            first[answer.candidate.origin] = answer
    return [a.exchange for a in [*first.values(), *rest]]


def report_accepted(probe: Probe, echoed: list[Answer], what: str, cors: Observed) -> None:
    if not echoed:
        return
    anything = any(a.echoed for a in cors.labelled(REFLECT_ANY))
    finer = any(a.candidate.label != REFLECT_ANY for a in echoed)
    also = (
        " (the target trusts every origin: see CORS-ORIGIN-REFLECTED)" if anything and finer else ""
    )
    probe.finding(
        f"{what}: {named(echoed)} came back in Access-Control-Allow-Origin on "
        f"{where(echoed)}{also}",
        evidence_of(echoed),
        severity=severity(echoed),
        data=accepted_data(echoed),
    )


@pytest.mark.check("CORS-ORIGIN-REFLECTED")
def test_arbitrary_origin_is_refused(probe: Probe, cors: Observed) -> None:
    """A vulnerable target grants CORS to any origin: a random domain comes back in ACAO."""
    answers = cors.labelled(REFLECT_ANY)
    report_accepted(probe, [a for a in answers if a.echoed], "any origin is trusted", cors)
    public = [a for a in answers if a.wildcard and not a.credentials]
    if public:
        probe.finding(
            f"Access-Control-Allow-Origin: * (without credentials) on {kinds(public)}: any site "
            "can read these responses",
            [a.exchange for a in public],
            severity="low",
            data=accepted_data(public),
        )
    probe.note(f"{len(answers)} requests from a random origin, none granted")


@pytest.mark.check("CORS-NULL-ORIGIN")
def test_null_origin_is_refused(probe: Probe, cors: Observed) -> None:
    """A vulnerable target trusts the 'null' origin (sandboxed iframes, data: and file: pages)."""
    answers = cors.labelled(NULL)
    report_accepted(probe, [a for a in answers if a.echoed], "the null origin is trusted", cors)
    probe.note(f"{len(answers)} requests with Origin: null, none granted")


@pytest.mark.check("CORS-ORIGIN-BYPASS")
def test_look_alike_origins_are_refused(probe: Probe, cors: Observed) -> None:
    """A vulnerable target accepts a look-alike of its trusted origin (a broken prefix or regex)."""
    if not cors.trusted:
        probe.skip(f"{NO_TRUSTED}; look-alike origins derive from it")
    answers = cors.bypasses()
    echoed = [a for a in answers if a.echoed]
    count = len({a.candidate.origin for a in echoed})
    report_accepted(probe, echoed, f"{count} look-alike origins accepted", cors)
    probe.note(
        f"{len({a.candidate.origin for a in answers})} look-alikes of {', '.join(cors.trusted)}, "
        "none accepted"
    )


@pytest.mark.check("CORS-WILDCARD-CREDENTIALS")
def test_no_wildcard_with_credentials(probe: Probe, cors: Observed) -> None:
    """A vulnerable target answers Access-Control-Allow-Origin: * with credentials allowed."""
    both = [a for a in cors.answers if a.wildcard and a.credentials]
    if both:
        probe.finding(
            f"Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true on "
            f"{len(both)} responses to {len({a.candidate.origin for a in both})} origins: "
            f"{where(both)}",
            evidence_of(both),
            data=accepted_data(both),
        )
    probe.note(f"{len(cors.answers)} answers, none with * and credentials together")


@pytest.mark.check("CORS-PREFLIGHT-BROAD")
def test_preflight_grants_only_what_the_api_uses(probe: Probe, cors: Observed) -> None:
    """A vulnerable target's preflight grants any method or header asked for (e.g. X-Evil)."""
    if not cors.trusted:
        probe.skip(f"{NO_TRUSTED}; broadness is judged on a trusted origin's preflight")
    preflights = [a for a in cors.labelled(TRUSTED, BROAD) if a.kind == PREFLIGHT and a.granted]
    if not preflights:
        probe.inconclusive("no preflight from a trusted origin was granted, so none can be judged")
    problems: list[tuple[Answer, str]] = []
    for answer in preflights:
        if answer.candidate.label == BROAD:
            method = cors.broad_method
            if method and answer.grants_method(method):
                problems.append((answer, f"unused method {method}"))
            if answer.grants_header(cors.evil_header):
                problems.append((answer, f"arbitrary header {cors.evil_header}"))
        if cors.used_methods is not None:
            extra = answer.allow_methods - cors.used_methods - {"OPTIONS", "HEAD", "*"}
            if extra:
                problems.append((answer, f"methods the API does not declare: {sorted(extra)}"))
    if problems:
        what = "; ".join(dict.fromkeys(reason for _, reason in problems))
        probe.finding(
            f"a trusted origin's preflight grants {what}",
            list({id(a): a.exchange for a, _ in problems}.values()),
        )
    probe.note(f"{len(preflights)} granted preflights grant only what the API uses")


@pytest.mark.check("CORS-NO-VARY")
def test_echoed_origin_varies(probe: Probe, cors: Observed) -> None:
    """A vulnerable target echoes the Origin without Vary: Origin (caches mix origins' answers)."""
    echoing = [a for a in cors.answers if a.echoed]
    if not echoing:
        probe.skip("no response echoed an Origin, so no Vary: Origin is needed")
    lacking = [a for a in echoing if not a.varies_on_origin]
    if lacking:
        probe.finding(
            f"{len(lacking)} of {len(echoing)} responses echo the Origin without Vary: Origin "
            f"({kinds(lacking)})",
            [a.exchange for a in lacking],
        )
    probe.note(f"{len(echoing)} responses echo an Origin, each with Vary: Origin")


@pytest.mark.check("CORS-MAXAGE-EXCESSIVE")
def test_preflight_max_age_is_bounded(probe: Probe, cors: Observed, target: Target) -> None:
    """A vulnerable target lets browsers cache a granted preflight for longer than the cap."""
    cap = target.profile.expectations.cors_max_age
    granted = [a for a in cors.answers if a.kind == PREFLIGHT and a.granted]
    if not granted:
        probe.skip("no preflight was granted, so no Access-Control-Max-Age applies")
    long = [a for a in granted if a.max_age is not None and a.max_age > cap]
    if long:
        ages = sorted({a.max_age for a in long if a.max_age is not None})
        probe.finding(
            f"granted preflights set Access-Control-Max-Age {ages} s, above the cap of {cap} s "
            "(expectations.cors_max_age)",
            [a.exchange for a in long],
        )
    ages = sorted({a.max_age for a in granted if a.max_age is not None})
    probe.note(f"{len(granted)} granted preflights, Max-Age {ages or 'absent'} (cap {cap} s)")


@pytest.mark.check("CORS-TRUSTED-ORIGIN-REFUSED")
def test_trusted_origin_works(probe: Probe, cors: Observed) -> None:
    """A misconfigured target refuses its own trusted origin (so its browser clients break)."""
    if not cors.trusted:
        probe.skip(NO_TRUSTED)
    answers = cors.labelled(TRUSTED)
    refused = [a for a in answers if not a.works_for_browser()]
    if refused:
        origins = ", ".join(dict.fromkeys(a.candidate.origin for a in refused))
        probe.finding(
            f"the trusted origin {origins} is refused on {kinds(refused)}",
            [a.exchange for a in refused],
        )
    probe.note(f"{', '.join(cors.trusted)} granted on {len(answers)} requests")
