"""Rate-limit strings from profiles ("5/minute"), parsed with the ``limits`` library."""

from __future__ import annotations

from dataclasses import dataclass

import limits


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
