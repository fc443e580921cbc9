"""Sizes for the robustness tests: reduced by default, the issue's full size with ``SOAK_SCALE=1``.

``SOAK_SCALE`` is a factor on every full size (default 0.25); each size has a floor, so a default
run still exercises the behaviour, only with fewer clients, cases or rounds.
"""

from __future__ import annotations

import os

DEFAULT_SCALE = 0.25


def soak_scale() -> float:
    raw = os.environ.get("SOAK_SCALE", "")
    if not raw:
        return DEFAULT_SCALE
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"SOAK_SCALE={raw!r}: use a number, e.g. SOAK_SCALE=1 for full size"
        ) from None
    if not 0 < value <= 10:
        raise ValueError(f"SOAK_SCALE={raw!r}: use a number in (0, 10]")
    return value


def scaled(full: int, floor: int) -> int:
    """``full`` times SOAK_SCALE, never below ``floor`` (and never above ``full`` times 10)."""
    return max(floor, round(full * soak_scale()))


def full_size() -> bool:
    return soak_scale() >= 1
