"""Sequential paired test for login timing, with a controlled false-positive rate.

Each look tests the paired differences d = E - N (known user with a wrong password minus unknown
user) with exact one-sided Wilcoxon signed-rank tests, one per direction, at half the look's alpha
each. Alpha is spent across looks by a Bonferroni split (half at the first look, the rest evenly),
so the family-wise false-positive rate of LEAK stays at or below alpha whatever the stopping point.

- LEAK: a one-sided p-value <= its share of alpha, and |median d| >= delta.
- UNIFORM: the distribution-free 95% confidence interval of the median d (sign-test order
  statistics) lies inside (-delta, delta), and the A/A noise (N vs N') is at most delta / 2.
  The A/A noise is the larger end, in absolute value, of the same interval for N' - N.
- otherwise sample more; at the cap, INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

DEFAULT_ALPHA = 1e-3
# Confidence for "any leak is smaller than delta" and for the A/A noise estimate.
CI_ALPHA = 0.05
MIN_DELTA_MS = 10.0
DELTA_SHARE = 0.05
# Pairs at which the rule looks. The first look can decide only when 2^-n <= alpha/4 (its half of
# alpha, halved again for two directions): 12 pairs at alpha = 1e-3.
LOOKS = (12, 16, 20, 30, 45, 70, 100, 150, 200, 300, 500)


class Decision(StrEnum):
    LEAK = "leak"
    UNIFORM = "uniform"
    CONTINUE = "continue"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Look:
    decision: Decision
    pairs: int
    median_ms: float
    ci_ms: tuple[float, float]
    p_value: float
    alpha: float
    delta_ms: float
    noise_ms: float | None
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "pairs": self.pairs,
            "median_diff_ms": round(self.median_ms, 3),
            "ci_ms": [round(self.ci_ms[0], 3), round(self.ci_ms[1], 3)],
            "p_value": self.p_value,
            "alpha_at_look": self.alpha,
            "delta_ms": round(self.delta_ms, 3),
            "aa_noise_ms": None if self.noise_ms is None else round(self.noise_ms, 3),
        }


def looks_up_to(cap: int) -> list[int]:
    points = [n for n in LOOKS if n < cap]
    return [*points, cap]


def alpha_at(look_index: int, looks: int, alpha: float) -> float:
    """Bonferroni spending: half at the first look, the other half split over the rest."""
    if looks == 1:
        return alpha
    return alpha / 2 if look_index == 0 else alpha / 2 / (looks - 1)


def delta_for(e_times_ms: Sequence[float], floor_ms: float = MIN_DELTA_MS) -> float:
    """The smallest difference that matters: the larger of 10 ms and 5% of the median E time."""
    return max(floor_ms, DELTA_SHARE * float(np.median(e_times_ms)))


def median_ci(diffs: Sequence[float], alpha: float) -> tuple[float, float]:
    """Distribution-free (sign-test) confidence interval for the median, at level 1 - alpha."""
    ordered = np.sort(np.asarray(diffs, dtype=float))
    n = len(ordered)
    k = int(stats.binom.ppf(alpha / 2, n, 0.5))
    # With too few pairs for this alpha the interval is unbounded.
    if k < 1:
        return (-np.inf, np.inf)
    return (float(ordered[k - 1]), float(ordered[n - k]))


def one_sided_p(diffs: Sequence[float]) -> tuple[float, float]:
    """Exact Wilcoxon signed-rank p-values for median > 0 and median < 0."""
    values = np.asarray(diffs, dtype=float)
    if np.all(values == 0):
        return 1.0, 1.0
    greater = stats.wilcoxon(values, alternative="greater", zero_method="wilcox").pvalue
    less = stats.wilcoxon(values, alternative="less", zero_method="wilcox").pvalue
    return float(greater), float(less)


def aa_noise(aa_diffs: Sequence[float], alpha: float) -> float:
    """How large a median difference two identical arms can show at this sample size."""
    low, high = median_ci(aa_diffs, alpha)
    return float(max(abs(low), abs(high)))


def decide(
    diffs: Sequence[float],
    aa_diffs: Sequence[float] | None,
    delta_ms: float,
    alpha: float,
    *,
    final: bool,
) -> Look:
    """One look at the evidence so far. ``alpha`` is this look's share."""
    n = len(diffs)
    median = float(np.median(diffs))
    p_greater, p_less = one_sided_p(diffs)
    p_value = min(p_greater, p_less)
    ci = median_ci(diffs, CI_ALPHA)
    noise = aa_noise(aa_diffs, CI_ALPHA) if aa_diffs else None
    common = {"pairs": n, "median_ms": median, "ci_ms": ci, "p_value": p_value, "alpha": alpha,
              "delta_ms": delta_ms, "noise_ms": noise}  # fmt: skip
    side_p = p_greater if median > 0 else p_less
    if side_p <= alpha / 2 and abs(median) >= delta_ms:
        return Look(Decision.LEAK, **common)  # type: ignore[arg-type]
    quiet = noise is None or noise <= delta_ms / 2
    if -delta_ms < ci[0] and ci[1] < delta_ms and quiet:
        return Look(Decision.UNIFORM, **common)  # type: ignore[arg-type]
    if not final:
        return Look(Decision.CONTINUE, **common)  # type: ignore[arg-type]
    if not quiet:
        reason = (
            f"environment too noisy: A/A noise {noise:.1f} ms exceeds "
            f"delta/2 = {delta_ms / 2:.1f} ms"
        )
    else:
        reason = (
            f"could not decide in {n} pairs: median {median:.1f} ms, CI {ci[0]:.1f}..{ci[1]:.1f} ms"
        )
    return Look(Decision.INCONCLUSIVE, **common, reason=reason)  # type: ignore[arg-type]


def sequential(
    diffs: Sequence[float],
    aa_diffs: Sequence[float] | None,
    delta_ms: float,
    alpha: float = DEFAULT_ALPHA,
    cap: int | None = None,
) -> Look:
    """Apply the rule at each look point reached by ``diffs`` (for simulation and tests)."""
    cap = cap or len(diffs)
    points = looks_up_to(cap)
    last = Look(Decision.CONTINUE, 0, 0.0, (-np.inf, np.inf), 1.0, alpha, delta_ms, None)
    for index, n in enumerate(points):
        if n > len(diffs):
            break
        last = decide(diffs[:n], aa_diffs[:n] if aa_diffs else None, delta_ms,
                      alpha_at(index, len(points), alpha), final=n == cap)  # fmt: skip
        if last.decision is not Decision.CONTINUE:
            return last
    return last
