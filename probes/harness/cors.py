"""CORS probing: test origins derived from a trusted one, and what each answer granted.

A test origin counts as accepted only when its exact value comes back in
``Access-Control-Allow-Origin``; ``*`` is recorded apart (a wildcard, not an acceptance).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from probes.harness.client import ProbeClient
from probes.harness.evidence import Exchange
from probes.harness.profile import Route

PREFLIGHT = "preflight"
ACTUAL = "actual request"
ACTUAL_COOKIE = "actual request with Cookie"
KINDS = (PREFLIGHT, ACTUAL, ACTUAL_COOKIE)
# Characters some origin checks let through before the attacker's domain (PortSwigger, Corsy).
SPECIAL_CHARS = ("_", "`", "!", "~", "$", "%60", "-", "=", "&", "'", "(", ")", "*", "+", ",", ";")
# Methods that need no Access-Control-Allow-Methods entry (CORS-safelisted).
SAFELISTED_METHODS = {"GET", "HEAD", "POST"}
UNUSED_METHOD_CANDIDATES = ("PUT", "DELETE", "PATCH")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_TRUSTED = 3

REFLECT_ANY = "reflect-any"
NULL = "null"


@dataclass(frozen=True)
class Candidate:
    """A test origin and the class it belongs to (reflect-any, null, prefix, suffix, ...)."""

    label: str
    origin: str

    def __str__(self) -> str:
        return f"{self.origin} ({self.label})"


def is_origin(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path == ""


def trusted_origins(allowed: list[str]) -> list[str]:
    """The profile's allowed origins that are real origins (no ``*``), at most three."""
    return [origin for origin in allowed if is_origin(origin)][:MAX_TRUSTED]


def attacker_domain() -> str:
    return f"probe-{secrets.token_hex(4)}.attacker.test"


def arbitrary_candidates() -> list[Candidate]:
    """Origins no allow-list should hold: a random domain, and ``null``."""
    return [Candidate(REFLECT_ANY, f"https://{attacker_domain()}"), Candidate(NULL, "null")]


def bypass_candidates(trusted: str, allowed: list[str]) -> list[Candidate]:
    """Look-alikes of a trusted origin that a broken matcher (prefix, regex, suffix) accepts."""
    parts = urlsplit(trusted)
    scheme, host = parts.scheme, parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    evil = attacker_domain()
    found = [
        Candidate("prefix", f"{scheme}://{host}.{evil}{port}"),
        Candidate("suffix", f"{scheme}://evil{host}{port}"),
        Candidate("arbitrary subdomain", f"{scheme}://{evil.split('.')[0]}.{host}{port}"),
        Candidate("trailing slash", f"{trusted}/"),
    ]
    labels = host.split(".")
    if len(labels) >= 3:
        domain = ".".join(labels[-2:])
        found.append(Candidate("suffix of the domain", f"{scheme}://evil{domain}{port}"))
    for index in range(len(labels) - 1):
        dotless = ".".join(labels[: index + 1]) + "x" + ".".join(labels[index + 1 :])
        found.append(Candidate("unescaped dot", f"{scheme}://{dotless}{port}"))
    for char in SPECIAL_CHARS:
        found.append(
            Candidate(f"special character {char}", f"{scheme}://{host}{char}.{evil}{port}")
        )
    if scheme == "https":
        found.append(Candidate("http downgrade", f"http://{host}{port}"))
    known = set(allowed)
    unique: dict[str, Candidate] = {}
    for candidate in found:
        if candidate.origin not in known:
            unique.setdefault(candidate.origin, candidate)
    return list(unique.values())


def tokens(value: str | None) -> frozenset[str]:
    """A comma-separated header as a set of lower-cased tokens."""
    return frozenset(t.strip().lower() for t in (value or "").split(",") if t.strip())


@dataclass(frozen=True)
class Answer:
    """What one request with a test origin got back."""

    candidate: Candidate
    kind: str  # PREFLIGHT, ACTUAL or ACTUAL_COOKIE
    status: int
    allow_origin: str | None
    credentials: bool
    vary: frozenset[str]
    max_age: int | None
    allow_methods: frozenset[str]
    allow_headers: frozenset[str]
    exchange: Exchange
    requested_method: str = ""
    requested_headers: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        candidate: Candidate,
        kind: str,
        response: httpx.Response,
        exchange: Exchange,
        requested_method: str = "",
        requested_headers: frozenset[str] = frozenset(),
    ) -> Answer:
        h = response.headers
        raw_age = h.get("access-control-max-age", "").strip()
        return cls(
            candidate=candidate,
            kind=kind,
            status=response.status_code,
            allow_origin=h.get("access-control-allow-origin"),
            credentials=h.get("access-control-allow-credentials", "").strip().lower() == "true",
            vary=tokens(", ".join(h.get_list("vary"))),
            max_age=int(raw_age) if raw_age.lstrip("-").isdigit() else None,
            allow_methods=frozenset(
                m.upper() for m in tokens(h.get("access-control-allow-methods"))
            ),
            allow_headers=tokens(h.get("access-control-allow-headers")),
            exchange=exchange,
            requested_method=requested_method,
            requested_headers=requested_headers,
        )

    @property
    def echoed(self) -> bool:
        """The exact test origin came back: the browser lets that origin read the answer."""
        return self.allow_origin == self.candidate.origin

    @property
    def wildcard(self) -> bool:
        return self.allow_origin is not None and self.allow_origin.strip() == "*"

    @property
    def granted(self) -> bool:
        return self.echoed or self.wildcard

    @property
    def varies_on_origin(self) -> bool:
        return "origin" in self.vary or "*" in self.vary

    def grants_method(self, method: str) -> bool:
        return method in self.allow_methods or ("*" in self.allow_methods and not self.credentials)

    def grants_header(self, header: str) -> bool:
        # A literal "*" is a wildcard only without credentials, and never covers Authorization.
        if header.lower() in self.allow_headers:
            return True
        return "*" in self.allow_headers and not self.credentials and header != "authorization"

    def works_for_browser(self) -> bool:
        """Whether a browser at this origin may go on: for a preflight, also status and grants."""
        if not self.granted:
            return False
        if self.kind != PREFLIGHT:
            return True
        method_ok = self.requested_method in SAFELISTED_METHODS or self.grants_method(
            self.requested_method
        )
        headers_ok = all(self.grants_header(h) for h in self.requested_headers)
        return 200 <= self.status < 300 and method_ok and headers_ok

    def describe(self) -> str:
        creds = ", credentials allowed" if self.credentials else ""
        return f"{self.kind} ({self.status}, ACAO {self.allow_origin!r}{creds})"


def ask(
    client: ProbeClient,
    route: Route,
    candidate: Candidate,
    kind: str,
    *,
    method: str | None = None,
    request_headers: str = "authorization",
) -> Answer:
    """Send one request carrying the candidate origin, as a preflight or an actual request."""
    headers = {"Origin": candidate.origin}
    note = f"CORS {kind}, origin {candidate}"
    if kind == PREFLIGHT:
        requested = method or route.method
        headers["Access-Control-Request-Method"] = requested
        headers["Access-Control-Request-Headers"] = request_headers
        response = client.options(route.path, headers=headers, note=note)
        return Answer.of(
            candidate, kind, response, client.exchanges[-1], requested, tokens(request_headers)
        )
    if kind == ACTUAL_COOKIE:
        headers["Cookie"] = f"session=probe-{secrets.token_hex(8)}"
    response = client.request(route.method, route.path, headers=headers, note=note)
    return Answer.of(candidate, kind, response, client.exchanges[-1])


def api_methods(document: dict[str, object]) -> set[str]:
    """Every method the OpenAPI document declares on any path."""
    found: set[str] = set()
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return found
    for item in paths.values():
        if isinstance(item, dict):
            found |= {m.upper() for m in item if m in HTTP_METHODS}
    return found


def unused_method(used: set[str]) -> str | None:
    return next((m for m in UNUSED_METHOD_CANDIDATES if m not in used), None)
