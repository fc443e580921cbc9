"""The report's plots, drawn with matplotlib and returned as inline SVG text.

Plots are drawn from what the probes stored in each result's ``data``; a plot reads only the keys
named below and is left out when they are missing:

- login timing (any result with ``samples_ms``): ``samples_ms`` {arm: [ms, ...]} and, when the
  check reached a look, ``median_diff_ms``, ``ci_ms`` [low, high], ``delta_ms``, ``aa_noise_ms``,
  ``p_value``, ``pairs``, ``decision``. The two arms compared are ``arms`` [a, b] if given, else
  the check's pair in ``TIMING_ARMS``.
- rate limits (any result whose ``data`` has a list of bursts): ``bursts`` (or ``per_burst``)
  [{``allowed``: int, ``limited`` (or ``refused``): int, optionally ``failed``: int,
  ``per_worker`` (or ``allowed_by_process``) {worker: allowed}, ``limit``: int}], and at the top
  optionally ``limit`` (requests the policy allows per window; else the bursts' own),
  ``window`` (text such as "minute") and ``route``.
- token lifetime (every result with both ``lifetime_s`` and ``policy_s``).

No pyplot: figures are ``matplotlib.figure.Figure`` objects rendered straight to SVG, so no GUI
backend is selected and no global figure state is touched. Text stays text (``svg.fonttype``
none), and every id in an SVG is prefixed so that several plots can share one HTML page.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.figure import Figure

TIMING_ARMS = {
    "AUTH-TIMING-ENUMERATION": ("E", "N"),
    "AUTH-TIMING-LONG-PASSWORD": ("L", "N"),
}
ARM_LABELS = {
    "E": "known user, wrong password",
    "N": "unknown user",
    "N2": "unknown user, A/A repeat",
    "L": "known user, over-long password",
}
COLOURS = {
    "a": "#c0392b",
    "b": "#2471a3",
    "aa": "#7f8c8d",
    "ok": "#1e8449",
    "bad": "#c0392b",
    "limited": "#95a5a6",
    "policy": "#222222",
}
WORKER_COLOURS = ("#1e8449", "#2e86c1", "#8e44ad", "#d68910", "#16a085", "#a04000", "#5d6d7e")
MAX_WORKERS_SHOWN = len(WORKER_COLOURS)
LIFETIME_TICKS = (1, 60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)
RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_ID = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')


@dataclass(frozen=True)
class Plot:
    """One rendered plot: which family and check it belongs to, its SVG and a caption."""

    family: str
    check_id: str
    svg: str
    caption: str


def _svg(figure: Figure, prefix: str, label: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": prefix}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: it goes inline
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _URL_REF.sub(lambda m: f"url(#{prefix}-{m.group(1)})", text)
    text = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _test_name(result: dict[str, Any]) -> str:
    return str(result.get("nodeid", "")).rsplit("::", 1)[-1] or result["check_id"]


def _slug(text: str, index: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") + f"-{index}"


# --- login timing --------------------------------------------------------------------------------


def timing_arms(result: dict[str, Any]) -> tuple[str, str] | None:
    data = result.get("data") or {}
    samples = data.get("samples_ms") or {}
    arms = data.get("arms") or TIMING_ARMS.get(result["check_id"])
    if not arms and "E" in samples and "N" in samples:
        arms = ("E", "N")
    if not arms or len(arms) != 2 or not all(samples.get(arm) for arm in arms):
        return None
    return str(arms[0]), str(arms[1])


def _ecdf(values: list[float]) -> tuple[list[float], list[float]]:
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [(i + 1) / n for i in range(n)]


def timing_plot(result: dict[str, Any], index: int) -> Plot | None:
    arms = timing_arms(result)
    if arms is None:
        return None
    data = result["data"]
    samples: dict[str, list[float]] = data["samples_ms"]
    a, b = arms
    with matplotlib.rc_context(RC):
        figure = _figure(8.0, 3.0)
        left, right = figure.subplots(1, 2, width_ratios=[3, 2])
        shown = [(a, COLOURS["a"], "-"), (b, COLOURS["b"], "-")]
        if "N2" in samples and "N2" not in arms and samples["N2"]:
            shown.append(("N2", COLOURS["aa"], ":"))
        everything = []
        for arm, colour, style in shown:
            xs, ys = _ecdf(samples[arm])
            everything += xs
            left.step(
                xs,
                ys,
                where="post",
                color=colour,
                linestyle=style,
                label=f"{ARM_LABELS.get(arm, arm)} (n={len(xs)})",
            )
        positive = [x for x in everything if x > 0]
        if positive and max(positive) / min(positive) > 20:
            left.set_xscale("log")
        left.set_xlabel("login response time (ms)")
        left.set_ylabel("fraction of logins ≤ x")
        left.set_ylim(0, 1.05)
        left.legend(loc="lower right", fontsize=7, frameon=False)
        left.set_title("distribution per arm (ECDF)", fontsize=9)

        median = data.get("median_diff_ms")
        ci = data.get("ci_ms")
        delta = data.get("delta_ms")
        noise = data.get("aa_noise_ms")
        right.axvline(0, color="#999999", linewidth=0.8)
        if delta:
            right.axvspan(
                -delta, delta, color=COLOURS["ok"], alpha=0.12, label=f"±δ = {delta:.1f} ms"
            )
            for side in (-1, 1):  # the A/A noise must stay within half the margin
                right.axvline(
                    side * delta / 2, color=COLOURS["aa"], linestyle=":", linewidth=0.8,
                    label="±δ/2, the A/A noise limit" if side > 0 else None,
                )  # fmt: skip
        if noise is not None:
            right.errorbar(
                [0], [0], xerr=[[abs(noise)], [abs(noise)]], fmt="none", ecolor=COLOURS["aa"],
                capsize=4, label=f"A/A noise ±{abs(noise):.1f} ms",
            )  # fmt: skip
        if median is not None and ci:
            right.errorbar(
                [median], [1], xerr=[[median - ci[0]], [ci[1] - median]], fmt="o",
                color=COLOURS["a"], ecolor=COLOURS["a"], capsize=4,
                label=f"median {median:+.1f} ms, 95% CI {ci[0]:.1f}..{ci[1]:.1f}",
            )  # fmt: skip
        else:
            right.text(0.5, 0.5, "no decision was reached", transform=right.transAxes, ha="center")
        right.set_yticks([0, 1], ["A/A", f"{a} - {b}"])
        right.set_ylim(-0.8, 1.8)
        right.set_xlabel("paired difference (ms)")
        if right.get_legend_handles_labels()[0]:
            right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=7, frameon=False)
        verdict = result["verdict"]
        decision = data.get("decision")
        right.set_title(f"verdict: {verdict}" + (f" ({decision})" if decision else ""), fontsize=9)
        figure.suptitle(f"{result['check_id']}: {ARM_LABELS.get(a, a)} vs {ARM_LABELS.get(b, b)}")
    caption = _timing_caption(result, a, b)
    label = f"{result['check_id']} login timing distributions, verdict {verdict}"
    return Plot("timing", result["check_id"], _svg(figure, _slug("timing", index), label), caption)


def _timing_caption(result: dict[str, Any], a: str, b: str) -> str:
    data = result["data"]
    parts = [f"{_test_name(result)}: {ARM_LABELS.get(a, a)} against {ARM_LABELS.get(b, b)}"]
    if data.get("pairs") is not None:
        parts.append(f"{data['pairs']} pairs")
    if data.get("p_value") is not None:
        parts.append(f"p = {data['p_value']:.2g}")
    parts.append(f"verdict {result['verdict']}")
    if result.get("reason"):
        parts.append(result["reason"])
    return "; ".join(parts)


# --- rate limits ---------------------------------------------------------------------------------


def rate_bursts(data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The bursts in ``data``, in one shape: {allowed, limited, failed, per_worker, limit}."""
    raw = data.get("bursts")
    if not isinstance(raw, list):
        raw = data.get("per_burst")
    if not isinstance(raw, list) or not raw or not all(isinstance(b, dict) for b in raw):
        return None
    if not all(isinstance(b.get("allowed"), int) for b in raw):
        return None
    return [
        {
            "allowed": int(b["allowed"]),
            "limited": int(b.get("limited", b.get("refused", 0)) or 0),
            "failed": int(b.get("failed", 0) or 0),
            "per_worker": {
                str(k): int(v)
                for k, v in (b.get("per_worker") or b.get("allowed_by_process") or {}).items()
            },
            "limit": b.get("limit"),
        }
        for b in raw
    ]


def _worker_label(worker: str) -> str:
    return f"allowed by {worker}" if "worker" in worker else f"allowed by worker {worker}"


def rate_limit_plot(result: dict[str, Any], index: int) -> Plot | None:
    data = result.get("data") or {}
    bursts = rate_bursts(data)
    if bursts is None:
        return None
    limit = data.get("limit")
    if limit is None:
        limit = next((b["limit"] for b in bursts if b["limit"] is not None), None)
    xs = list(range(1, len(bursts) + 1))
    workers = sorted({worker for burst in bursts for worker in burst["per_worker"]})
    by_worker = 1 < len(workers) <= MAX_WORKERS_SHOWN
    with matplotlib.rc_context(RC):
        figure = _figure(7.0, 3.0)
        axes = figure.subplots()
        bottoms = [0.0] * len(bursts)
        if by_worker:
            for number, worker in enumerate(workers):
                heights = [float(b["per_worker"].get(worker, 0)) for b in bursts]
                colour = WORKER_COLOURS[number % len(WORKER_COLOURS)]
                axes.bar(xs, heights, bottom=bottoms, color=colour, label=_worker_label(worker))
                bottoms = [low + h for low, h in zip(bottoms, heights, strict=True)]
        else:
            heights = [float(b["allowed"]) for b in bursts]
            axes.bar(xs, heights, color=COLOURS["ok"], label="allowed")
            bottoms = heights
        limited = [float(b["limited"]) for b in bursts]
        axes.bar(
            xs, limited, bottom=bottoms, color=COLOURS["limited"], hatch="//", label="limited (429)"
        )
        failed = [float(b["failed"]) for b in bursts]
        if any(failed):
            tops = [low + h for low, h in zip(bottoms, limited, strict=True)]
            axes.bar(xs, failed, bottom=tops, color="#ffffff", edgecolor="#555555", label="failed")
        if limit is not None:
            window = data.get("window")
            axes.axhline(
                float(limit), color=COLOURS["bad"], linestyle="--",
                label=f"declared limit {limit}" + (f"/{window}" if window else ""),
            )  # fmt: skip
        axes.set_xticks(xs, [str(x) for x in xs])
        axes.set_xlabel("burst")
        axes.set_ylabel("requests")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        route = data.get("route")
        figure.suptitle(
            f"{result['check_id']}" + (f" on {route}" if route else "") + f": {result['verdict']}"
        )
    total_allowed = sum(b["allowed"] for b in bursts)
    caption = (
        f"{_test_name(result)}: {len(bursts)} burst(s), {total_allowed} request(s) allowed in all"
        + (f", limit {limit} per window" if limit is not None else ", no limit in the data")
        + (f"; allowed requests split over {len(workers)} workers" if by_worker else "")
        + f"; verdict {result['verdict']}"
    )
    label = f"{result['check_id']} allowed and limited requests per burst"
    return Plot("rate", result["check_id"], _svg(figure, _slug("rate", index), label), caption)


# --- token lifetime ------------------------------------------------------------------------------


def human_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{seconds:.0f} s"


def lifetime_plot(results: list[dict[str, Any]]) -> Plot | None:
    rows = [
        r
        for r in results
        if isinstance((r.get("data") or {}).get("lifetime_s"), int | float)
        and isinstance((r.get("data") or {}).get("policy_s"), int | float)
    ]
    if not rows:
        return None
    rows.sort(key=lambda r: r["check_id"])
    with matplotlib.rc_context(RC):
        figure = _figure(7.0, 0.6 + 0.55 * len(rows))
        axes = figure.subplots()
        ys = list(range(len(rows)))
        for y, row in zip(ys, rows, strict=True):
            lifetime, policy = float(row["data"]["lifetime_s"]), float(row["data"]["policy_s"])
            colour = COLOURS["bad"] if lifetime > policy else COLOURS["ok"]
            axes.barh(y, lifetime, height=0.5, color=colour)
            axes.plot([policy, policy], [y - 0.35, y + 0.35], color=COLOURS["policy"], linewidth=2)
            axes.text(
                lifetime, y, f"  {human_seconds(lifetime)} (policy {human_seconds(policy)})",
                va="center", fontsize=7,
            )  # fmt: skip
        axes.set_xscale("log")
        axes.margins(x=0.6)
        axes.set_yticks(ys, [r["check_id"] for r in rows])
        low, high = axes.get_xlim()
        ticks = [t for t in LIFETIME_TICKS if low <= t <= high]
        axes.set_xticks(ticks, [human_seconds(t) for t in ticks])
        axes.minorticks_off()
        axes.set_xlabel("issued token lifetime (log scale); black tick: the policy's maximum")
        figure.suptitle("Token lifetimes against the policy")
    caption = "; ".join(
        f"{r['check_id']}: {human_seconds(float(r['data']['lifetime_s']))} issued, "
        f"policy {human_seconds(float(r['data']['policy_s']))}, verdict {r['verdict']}"
        for r in rows
    )
    return Plot(
        "lifetime", "", _svg(figure, "lifetime-0", "token lifetimes against policy"), caption
    )


def all_plots(results: list[dict[str, Any]]) -> dict[str, list[Plot]]:
    """Plots per family: ``timing``, ``rate`` and ``lifetime`` (each list may be empty)."""
    timing = [
        timing_plot(r, i) for i, r in enumerate(results) if (r.get("data") or {}).get("samples_ms")
    ]
    rate = [rate_limit_plot(r, i) for i, r in enumerate(results) if r.get("data")]
    lifetime = lifetime_plot(results)
    return {
        "timing": [p for p in timing if p is not None],
        "rate": [p for p in rate if p is not None],
        "lifetime": [lifetime] if lifetime else [],
    }
