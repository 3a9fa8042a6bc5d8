"""PNG plots of a load run: latency over time, throughput over time, the latency distribution (matplotlib)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

from harness.load import PERCENTILES, Latency, Send


def _figure() -> tuple[object, object]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(9, 4.2), dpi=90)


def _png(plt: object, fig: object) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(buffer, format="png")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[attr-defined]
    return buffer.getvalue()


def latency_over_time(series: dict[str, Sequence[tuple[float, float]]], t0: float, window: tuple[float, float],
                      title: str) -> bytes:
    """Each request or delivery as a dot: intended start (s into the run) against its latency (ms)."""
    plt, (fig, ax) = _figure()
    for label, points in series.items():
        if points:
            ax.scatter([t - t0 for t, _ in points], [ms for _, ms in points], s=6, label=label, alpha=0.6)
    ax.axvspan(0, window[0] - t0, color="grey", alpha=0.15, label="warm-up (not judged)")
    ax.set_yscale("log")
    ax.set(xlabel="intended start (s into the run)", ylabel="latency from intended start (ms)", title=title)
    ax.legend(loc="upper right", fontsize=8)
    return _png(plt, fig)


def throughput_over_time(series: dict[str, Sequence[float]], t0: float, target_rate: float, title: str) -> bytes:
    """Per second: requests started and deliveries accepted, against the target arrival rate."""
    plt, (fig, ax) = _figure()
    for label, times in series.items():
        per_second = Counter(int(t - t0) for t in times)
        if per_second:
            xs = range(0, max(per_second) + 1)
            ax.step(list(xs), [per_second.get(x, 0) for x in xs], where="post", label=label)
    if target_rate:
        ax.axhline(target_rate, color="black", linestyle="--", linewidth=1, label="target arrival rate")
    ax.set(xlabel="s into the run", ylabel="per second", title=title)
    ax.legend(loc="upper right", fontsize=8)
    return _png(plt, fig)


def latency_distribution(series: dict[str, Sequence[float]], title: str) -> bytes:
    """The percentile spectrum of each series (HdrHistogram), the judged percentiles marked."""
    plt, (fig, ax) = _figure()
    quantiles = [50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.99, 100]
    for label, values in series.items():
        latency = Latency.of(values)
        if latency.count:
            ax.plot(range(len(quantiles)), [latency.hist.get_value_at_percentile(q) / 1000 for q in quantiles],
                    marker="o", label=f"{label} ({latency.count})")
    ax.set_xticks(range(len(quantiles)), [f"p{q:g}" if q < 100 else "max" for q in quantiles])
    ax.set_yscale("log")
    ax.set(ylabel="ms", title=f"{title} (judged: {', '.join(n for n, _ in PERCENTILES)})")
    ax.legend(loc="upper left", fontsize=8)
    return _png(plt, fig)


def api_points(sends: Sequence[Send]) -> list[tuple[float, float]]:
    return [(s.intended, (s.ended - s.intended) * 1000) for s in sends]
