"""Concurrent HTTP clients over loopback (httpx asyncio), bounded, with latency figures.

Every request gets a timeout, every batch a wall-clock bound; a transport error is counted, never
retried, so the figures say what the target really did.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REQUEST_TIMEOUT = 30.0
# Where to append measured figures (one JSON line per measurement), e.g. for the README.
FIGURES_ENV = "ROBUSTNESS_FIGURES"


@dataclass
class Outcome:
    status: int | None  # None: a transport error (the text is in ``error``)
    seconds: float
    error: str | None = None
    headers: httpx.Headers | None = None
    body: str = ""


@dataclass
class Batch:
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0

    def statuses(self) -> Counter[int | None]:
        return Counter(o.status for o in self.outcomes)

    def errors(self) -> list[str]:
        return [o.error or "" for o in self.outcomes if o.status is None]

    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    def latencies(self, status: int | None = None) -> list[float]:
        return sorted(o.seconds for o in self.outcomes if status is None or o.status == status)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def client(base_url: str, source: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An async client from ``source`` (a loopback address), one connection at a time."""
    transport = httpx.AsyncHTTPTransport(
        local_address=source, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
    )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
        follow_redirects=False,
        **kwargs,
    )


async def timed(send: Callable[[], Awaitable[httpx.Response]]) -> Outcome:
    started = time.perf_counter()
    try:
        response = await send()
    except httpx.HTTPError as exc:
        return Outcome(None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    return Outcome(
        response.status_code, time.perf_counter() - started, None, response.headers, response.text
    )


async def bounded_gather(coroutines: Sequence[Awaitable[Any]], seconds: float) -> list[Any]:
    """All of them at once, within ``seconds`` of wall clock (else ``TimeoutError``)."""
    return list(await asyncio.wait_for(asyncio.gather(*coroutines), timeout=seconds))


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (shown with ``-s``/``-rP``) and append them to $ROBUSTNESS_FIGURES."""
    line = json.dumps({"measurement": name, **figures}, sort_keys=True)
    print(f"figures: {line}")
    path = os.environ.get(FIGURES_ENV)
    if path:
        with Path(path).open("a") as out:
            out.write(line + "\n")
