"""Rate-limit strings from profiles ("5/minute"), parsed with the ``limits`` library."""

from __future__ import annotations

from dataclasses import dataclass

import limits

from probes.harness.verdicts import HarnessError


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count} per {self.seconds} s"


def parse_limit(text: str | None) -> Limit | None:
    if not text:
        return None
    item = limits.parse(text)
    return Limit(count=item.amount, seconds=item.get_expiry())


class PacingExhausted(HarnessError):
    """A fresh window needs a longer wait than the pacing budget (audit.max_pacing_wait) allows.

    Shared by every probe that waits out a rate limit (rate limits, login timing)."""
