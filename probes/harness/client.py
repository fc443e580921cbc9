"""A thin, bounded HTTP client over httpx for probes.

- every request has a timeout, and each check has a request budget;
- redirects are followed only within the same scheme, host and port;
- connection errors are retried a bounded number of times, nothing else is;
- ``fresh=True`` opens one TCP connection per request (multi-worker checks);
- ``source`` pins the loopback source address, so local checks can act as many clients;
- every exchange is recorded, redacted, as evidence for the current check.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin

import httpx

from probes.harness.evidence import Exchange, Redactor, record
from probes.harness.verdicts import HarnessError, TargetError

DEFAULT_TIMEOUT = 10.0
DEFAULT_BUDGET = 400
MAX_REDIRECTS = 3
CONNECT_RETRIES = 2
# Connection-level failures, retried: a refused connect, or a kept-alive connection the server
# closed after its previous answer (uvicorn does so after an unhandled error). Not timeouts.
RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)


class BudgetExceeded(HarnessError):
    pass


_SENT_TOTAL = [0]
# Bursts send from several threads through one client: its counts are updated under this lock.
_COUNT_LOCK = threading.Lock()


_SENT_BY_PATH: Counter[str] = Counter()


def count_sent(n: int = 1, path: str = "") -> None:
    """Count requests sent outside ProbeClient (raw timing connections)."""
    with _COUNT_LOCK:
        _SENT_TOTAL[0] += n
        _SENT_BY_PATH[path] += n


def sent_by_path() -> dict[str, int]:
    """Requests per URL path in this process (e.g. how many logins an audit performed)."""
    with _COUNT_LOCK:
        return dict(_SENT_BY_PATH)


def total_sent() -> int:
    """Requests sent by every client in this process, for per-check and per-family counts."""
    return _SENT_TOTAL[0]


class ProbeClient:
    def __init__(
        self,
        base_url: str,
        redactor: Redactor,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        budget: int = DEFAULT_BUDGET,
        source: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.redactor = redactor
        self.timeout = timeout
        self.budget = budget
        self.source = source
        self.sent = 0
        self.exchanges: list[Exchange] = []
        self._client = self._make_client(keepalive=True)

    def _make_client(self, *, keepalive: bool) -> httpx.Client:
        transport = httpx.HTTPTransport(
            local_address=self.source,
            limits=httpx.Limits(max_keepalive_connections=10 if keepalive else 0),
        )
        return httpx.Client(transport=transport, timeout=self.timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def reset(self, budget: int = DEFAULT_BUDGET) -> None:
        """Start a new check: fresh evidence and a fresh budget."""
        self.sent = 0
        self.budget = budget
        self.exchanges = []

    @contextmanager
    def from_source(self, source: str) -> Iterator[ProbeClient]:
        """A sibling client sending from another loopback address, sharing budget and evidence."""
        other = ProbeClient(
            self.base_url, self.redactor, timeout=self.timeout, budget=self.budget, source=source
        )
        other.exchanges = self.exchanges
        other.sent = self.sent
        try:
            yield other
        finally:
            self.sent = other.sent
            other.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self, method: str, path: str, *, fresh: bool = False, note: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = self.url(path)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_once(method, url, fresh=fresh, note=note, **kwargs)
            location = response.headers.get("location")
            if not response.is_redirect or not location:
                return response
            target = urljoin(url, location)
            if not same_origin(url, target):
                return response  # never leave the target: the 3xx itself is the answer
            url = target
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, kwargs = "GET", {k: v for k, v in kwargs.items() if k == "headers"}
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", path, **kwargs)

    def _send_once(
        self, method: str, url: str, *, fresh: bool, note: str | None, **kwargs: Any
    ) -> httpx.Response:
        if self.sent >= self.budget:
            raise BudgetExceeded(f"request budget of {self.budget} exhausted for this check")
        client = self._make_client(keepalive=False) if fresh else self._client
        try:
            return self._send_with_retries(client, method, url, note, kwargs)
        finally:
            if fresh:
                client.close()

    def _send_with_retries(
        self, client: httpx.Client, method: str, url: str, note: str | None, kwargs: dict[str, Any]
    ) -> httpx.Response:
        request = client.build_request(method, url, **kwargs)
        last_error: Exception | None = None
        for attempt in range(CONNECT_RETRIES + 1):
            with _COUNT_LOCK:
                self.sent += 1
                _SENT_TOTAL[0] += 1
                _SENT_BY_PATH[request.url.path] += 1
            started = time.perf_counter()
            try:
                response = client.send(request)
            except RETRYABLE as exc:
                last_error = exc
                self._keep(record(self.redactor, request, None, error=describe_error(exc)), note)
                time.sleep(0.2 * (attempt + 1))
                continue
            except httpx.HTTPError as exc:
                self._keep(record(self.redactor, request, None, error=describe_error(exc)), note)
                raise TargetError(f"{method} {url}: {describe_error(exc)}") from exc
            elapsed = (time.perf_counter() - started) * 1000
            self._keep(record(self.redactor, request, response, elapsed_ms=elapsed), note)
            return response
        raise TargetError(f"{method} {url}: target unreachable ({describe_error(last_error)})")

    def _keep(self, exchange: Exchange, note: str | None) -> None:
        exchange.note = note
        self.exchanges.append(exchange)


def same_origin(a: str, b: str) -> bool:
    ua, ub = httpx.URL(a), httpx.URL(b)
    return (ua.scheme, ua.host, ua.port) == (ub.scheme, ub.host, ub.port)


def describe_error(exc: Exception | None) -> str:
    if exc is None:
        return "no response"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
