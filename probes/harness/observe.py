"""Shared observations: one batch of requests that several checks of a family judge."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from probes.harness.evidence import Exchange


@dataclass(frozen=True)
class Observation:
    """A labelled request outcome: what was sent (``kind``), where, and what came back."""

    kind: str
    route: str
    status: int
    headers: httpx.Headers
    exchange: Exchange

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def observe(kind: str, route: str, response: httpx.Response, exchange: Exchange) -> Observation:
    return Observation(kind, route, response.status_code, response.headers, exchange)
