"""``fastio report --chart``: the performance dashboard as one PNG. Per asset over time: write
and load seconds, write and load MB/s, the memory each needed; and what is held in storage now
beside what pickle would hold. matplotlib (the ``bench`` extra) draws it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from dagster_fastio.keys import (
    LOAD_MB_PER_S_KEY,
    LOAD_PEAK_MEMORY_MB_KEY,
    LOAD_SECONDS_KEY,
    WRITE_MB_PER_S_KEY,
    WRITE_PEAK_MEMORY_MB_KEY,
    WRITE_SECONDS_KEY,
)

__all__ = ["draw_chart"]


class Event(Protocol):
    timestamp: float
    metadata: dict[str, Any]


class Asset(Protocol):
    name: str
    writes: list[Any]
    loads: list[Any]


def draw_chart(
    path: str | Path,
    assets: Sequence[Asset],
    held: Mapping[str, tuple[int | None, int | None]],
    title: str,
) -> None:
    """Writes the dashboard to ``path``; ``held`` maps an asset to (bytes held now, what
    pickle would hold), either None when unknown."""
    try:
        import matplotlib
    except ImportError as error:
        raise RuntimeError(
            "--chart needs matplotlib: pip install 'dagster-fastio[bench]' (or matplotlib)"
        ) from error
    matplotlib.use("Agg")  # no display: a file is drawn
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 2, figsize=(13, 11), constrained_layout=True)
    figure.suptitle(title)
    panels = [
        (axes[0][0], "writes", WRITE_SECONDS_KEY, "write seconds"),
        (axes[0][1], "loads", LOAD_SECONDS_KEY, "load seconds"),
        (axes[1][0], "writes", WRITE_MB_PER_S_KEY, "write MB/s (raw MB)"),
        (axes[1][1], "loads", LOAD_MB_PER_S_KEY, "load MB/s (stored MB)"),
    ]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, side, key, label in panels:
        for index, asset in enumerate(assets):
            _plot(axis, getattr(asset, side), key, asset.name, colors[index % len(colors)], "-")
        _finish(axis, label, mdates)
    memory = axes[2][0]
    for index, asset in enumerate(assets):
        color = colors[index % len(colors)]
        _plot(memory, asset.writes, WRITE_PEAK_MEMORY_MB_KEY, f"{asset.name} write", color, "-")
        _plot(memory, asset.loads, LOAD_PEAK_MEMORY_MB_KEY, f"{asset.name} load", color, "--")
    _finish(memory, "peak memory MB (write solid, load dashed)", mdates)
    _held_bars(axes[2][1], held)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot(axis: Any, events: Sequence[Event], key: str, label: str, color: str, style: str) -> None:
    points = sorted(
        (dt.datetime.fromtimestamp(e.timestamp, dt.timezone.utc), float(e.metadata[key]))
        for e in events
        if isinstance(e.metadata.get(key), (int, float))
        and not isinstance(e.metadata.get(key), bool)
    )
    if points:
        times, values = zip(*points, strict=True)
        axis.plot(times, values, style, marker="o", markersize=3, color=color, label=label)


def _finish(axis: Any, label: str, mdates: Any) -> None:
    axis.set_title(label, fontsize=10)
    axis.grid(True, alpha=0.3)
    axis.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7, loc="best")
    else:
        axis.text(0.5, 0.5, "nothing recorded", ha="center", va="center", transform=axis.transAxes)


def _held_bars(axis: Any, held: Mapping[str, tuple[int | None, int | None]]) -> None:
    names = sorted(held)
    ours = [(held[name][0] or 0) / 1e6 for name in names]
    pickle = [(held[name][1] or 0) / 1e6 for name in names]
    positions = range(len(names))
    width = 0.4
    axis.barh([p - width / 2 for p in positions], ours, width, label="held now (fastio)")
    axis.barh([p + width / 2 for p in positions], pickle, width, label="as pickle (estimate)")
    axis.set_yticks(list(positions), names, fontsize=8)
    axis.set_title("MB held in storage now", fontsize=10)
    axis.grid(True, axis="x", alpha=0.3)
    axis.legend(fontsize=7, loc="best")
