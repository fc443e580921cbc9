"""Security headers, API-aware: on success, error and preflight responses alike."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from probes.harness.auth import login_request
from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange, Redactor
from probes.harness.limits import parse_limit
from probes.harness.probe import Probe
from probes.harness.sessions import SessionPool
from probes.harness.target import Target

BANNERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")
SUCCESS = ("user response", "token response")
JSON = {"Content-Type": "application/json"}


def nosniff(h: httpx.Headers) -> bool:
    return h.get("x-content-type-options", "").strip().lower() == "nosniff"


def frame_denied(h: httpx.Headers) -> bool:
    xfo = h.get("x-frame-options", "").strip().upper() in ("DENY", "SAMEORIGIN")
    return xfo or "frame-ancestors" in h.get("content-security-policy", "")


def has_csp(h: httpx.Headers) -> bool:
    return bool(h.get("content-security-policy", "").strip())


def has_referrer_policy(h: httpx.Headers) -> bool:
    return bool(h.get("referrer-policy", "").strip())


def no_store(h: httpx.Headers) -> bool:
    return "no-store" in h.get("cache-control", "").lower()


RULES: dict[str, Callable[[httpx.Headers], bool]] = {
    "X-Content-Type-Options: nosniff": nosniff,
    "X-Frame-Options or CSP frame-ancestors": frame_denied,
    "Content-Security-Policy": has_csp,
    "Referrer-Policy": has_referrer_policy,
}


class Sample:
    """One response of a class (200 JSON, 401, 404, 422, preflight, 429)."""

    def __init__(self, label: str, response: httpx.Response, exchange: Exchange) -> None:
        self.label = label
        self.headers = response.headers
        self.status = response.status_code
        self.exchange = exchange


def collect_429(client: ProbeClient, target: Target) -> Sample | None:
    """Trip the login limit with unknown users; locally from a loopback address of its own."""
    limit = parse_limit(target.profile.expectations.login_limit)
    if limit is None:
        return None
    path = target.profile.login.path

    def trip(sender: ProbeClient) -> Sample | None:
        for _ in range(limit.count + 2):
            body = login_request(
                target.profile, f"nobody-{secrets.token_hex(4)}", secrets.token_hex(8)
            )
            response = sender.post(path, note="login to reach the limit", **body)
            if response.status_code == 429:
                return Sample("429", response, sender.exchanges[-1])
        return None

    if target.mode == "local":
        with client.from_source(target.sources.next()) as sender:
            return trip(sender)
    return trip(client)


@pytest.fixture(scope="module")
def samples(
    target: Target, redactor: Redactor, sessions: SessionPool
) -> Iterator[dict[str, Sample]]:
    client = ProbeClient(target.base_url, redactor, budget=50)
    profile = target.profile
    route = profile.routes.protected[0]
    user = sessions.get("user")
    origin = (profile.expectations.cors_allowed_origins or ["https://probe.example"])[0]
    requests: dict[str, Callable[[], httpx.Response]] = {
        "user response": lambda: client.request(route.method, route.path, headers=user.headers()),
        "401": lambda: client.request(route.method, route.path),
        "404": lambda: client.get(f"/probe-not-found-{secrets.token_hex(4)}"),
        "client error": lambda: client.post(profile.login.path, content=b"{", headers=JSON),
        "preflight": lambda: client.options(route.path, headers={
            "Origin": origin,
            "Access-Control-Request-Method": route.method,
            "Access-Control-Request-Headers": "authorization",
        }),
    }  # fmt: skip
    found = {label: Sample(label, send(), client.exchanges[-1]) for label, send in requests.items()}
    sessions.fresh("user", via=client)
    login = client.exchanges[-1]
    found["token response"] = Sample("token response", _replay(login), login)
    limited = collect_429(client, target)
    if limited is not None:
        found["429"] = limited
    yield found
    client.close()


def _replay(exchange: Exchange) -> httpx.Response:
    return httpx.Response(exchange.status or 0, headers=exchange.response_headers)


def missing(
    samples: dict[str, Sample], labels: tuple[str, ...], rule: Callable[[httpx.Headers], bool]
) -> list[Sample]:
    present = [samples[label] for label in labels if label in samples]
    return [sample for sample in present if not rule(sample.headers)]


def success_samples(probe: Probe, samples: dict[str, Sample]) -> None:
    for label in SUCCESS:
        if label in samples and not 200 <= samples[label].status < 300:
            probe.inconclusive(f"the {label} answered {samples[label].status}, not 2xx")


def expect_header(probe: Probe, samples: dict[str, Sample], name: str) -> None:
    success_samples(probe, samples)
    lacking = missing(samples, SUCCESS, RULES[name])
    detail = f"{name} missing on: {', '.join(s.label for s in lacking)}"
    if lacking:
        probe.finding(detail, [s.exchange for s in lacking])


@pytest.mark.check("HDR-MISSING-NOSNIFF")
def test_nosniff(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target lets browsers sniff its responses' content type."""
    expect_header(probe, samples, "X-Content-Type-Options: nosniff")


@pytest.mark.check("HDR-MISSING-FRAME-DENY")
def test_framing_denied(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target can be framed (no X-Frame-Options, no CSP frame-ancestors)."""
    expect_header(probe, samples, "X-Frame-Options or CSP frame-ancestors")


@pytest.mark.check("HDR-MISSING-CSP")
def test_content_security_policy(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target sends no Content-Security-Policy."""
    expect_header(probe, samples, "Content-Security-Policy")


@pytest.mark.check("HDR-MISSING-REFERRER-POLICY")
def test_referrer_policy(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target sends no Referrer-Policy."""
    expect_header(probe, samples, "Referrer-Policy")


@pytest.mark.check("HDR-MISSING-CACHE-CONTROL")
def test_token_and_user_responses_not_stored(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target lets caches keep responses that carry tokens or user data."""
    success_samples(probe, samples)
    lacking = missing(samples, SUCCESS, no_store)
    if lacking:
        probe.finding(
            f"no Cache-Control: no-store on: {', '.join(s.label for s in lacking)}",
            [s.exchange for s in lacking],
        )


@pytest.mark.check("HDR-MISSING-HSTS")
def test_hsts_over_https(probe: Probe, target: Target, samples: dict[str, Sample]) -> None:
    """A vulnerable target served over https sends no Strict-Transport-Security."""
    if not target.base_url.startswith("https://"):
        probe.skip("the target is served over http; HSTS is only demanded over https")
    success_samples(probe, samples)
    lacking = missing(
        samples, SUCCESS, lambda h: "max-age" in h.get("strict-transport-security", "")
    )
    if lacking:
        probe.finding(
            f"no Strict-Transport-Security on: {', '.join(s.label for s in lacking)}",
            [s.exchange for s in lacking],
        )


@pytest.mark.check("HDR-SERVER-BANNER")
def test_no_server_banner(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target names its server stack in Server or X-Powered-By headers."""
    bannered = [(s, name) for s in samples.values() for name in BANNERS if s.headers.get(name)]
    if bannered:
        names = sorted({f"{name}: {s.headers[name]}" for s, name in bannered})
        probe.finding(f"banner headers: {', '.join(names)}", [s.exchange for s, _ in bannered])
    # No banner anywhere counts only if the target answered: a 5xx success sample may come from
    # another layer (a proxy's error page) than the one whose banners are in question.
    for label in SUCCESS:
        if label in samples and samples[label].status >= 500:
            probe.inconclusive(
                f"the {label} answered {samples[label].status}: the target failed, so its "
                "success responses were not seen"
            )


@pytest.mark.check("HDR-MISSING-ON-ERRORS")
def test_headers_on_error_and_preflight_responses(probe: Probe, samples: dict[str, Sample]) -> None:
    """A vulnerable target sets its security headers on successful responses only."""
    success_samples(probe, samples)
    reference = samples["user response"].headers
    expected = {name: rule for name, rule in RULES.items() if rule(reference)}
    if not expected:
        probe.skip("no security header is set even on success; the header checks report that")
    others = [s for label, s in samples.items() if label not in SUCCESS]
    gaps = [(s, name) for s in others for name, rule in expected.items() if not rule(s.headers)]
    if gaps:
        where = sorted({f"{s.label} ({s.status})" for s, _ in gaps})
        headers = sorted({name for _, name in gaps})
        probe.finding(
            f"present on success but missing on {', '.join(where)}: {', '.join(headers)}",
            list({id(s): s.exchange for s, _ in gaps}.values()),
        )
