"""Bar charts of the benchmark results, saved as PNG beside RESULTS.md (matplotlib, a
bench-only dependency)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CHARTS = Path(__file__).resolve().parent / "charts"
OURS = "#1f6f8b"
PEERS = "#b0b7bf"


def grouped_bars(
    name: str,
    title: str,
    unit: str,
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    ours: str,
) -> Path:
    """One bar per series in each group; the `ours` series stands out. Returns the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 4.6), dpi=110)
    width = 0.8 / len(series)
    shades = iter(["#b0b7bf", "#7d8791", "#d6dadf", "#5c6670"])
    for index, (label, values) in enumerate(series.items()):
        positions = [
            group + (index - (len(series) - 1) / 2) * width for group in range(len(groups))
        ]
        color = OURS if label == ours else next(shades)
        bars = axes.bar(positions, values, width, label=label, color=color)
        axes.bar_label(bars, fmt="{:,.0f}", fontsize=7, padding=2)
    axes.set_xticks(range(len(groups)), groups)
    axes.set_ylabel(unit)
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(y=0.12)
    axes.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    figure.tight_layout()
    path = CHARTS / f"{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path
