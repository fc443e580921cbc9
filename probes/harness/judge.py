"""Was a forged token accepted? Compared with the genuine answer on status and body shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from probes.harness.evidence import Exchange


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not contents."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def body_shape(response: httpx.Response) -> Any:
    try:
        return shape(response.json())
    except ValueError:
        return ("text", len(response.content) > 0)


@dataclass(frozen=True)
class Reference:
    """The genuine answer for an identity, against which forgeries are judged."""

    status: int
    shape: Any

    @classmethod
    def of(cls, response: httpx.Response) -> Reference:
        return cls(response.status_code, body_shape(response))


def accepted(response: httpx.Response, reference: Reference) -> bool:
    return response.status_code == reference.status and body_shape(response) == reference.shape


@dataclass(frozen=True)
class Attempt:
    """One forged token sent, and how the target took it."""

    family: str
    label: str
    status: int
    accepted: bool
    exchange: Exchange
