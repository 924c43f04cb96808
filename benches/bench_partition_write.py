"""What one partition's materialization costs as the partitions definition grows: a 1,000-row
pandas frame written to one key of a definition of 24 static keys, 43,824 hourly keys (five
years) and 100,000 dynamic keys, with FastIOManager at its defaults beside Dagster's own
managers (FilesystemIOManager on a local disk, S3PickleIOManager on S3).

Each figure is the median of several materializations in one process after a warm-up (the
definition's size is what varies, not the process start), with the spread. On S3 (s3s-fs on
127.0.0.1) every request goes through a counting proxy. Not a test. Writes the
"partition-write" section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from report import stamp, write_section

import dagster_fastio as fio
from dagster_fastio import FastIOManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import FaultProxy, S3Server

ROWS = 1_000


def definitions() -> list[tuple[str, dg.PartitionsDefinition, list[str]]]:
    dynamic = [f"tenant-{i}" for i in range(100_000)]
    return [
        ("24 static", dg.StaticPartitionsDefinition([f"k{i}" for i in range(24)]), []),
        (
            "43,824 hourly",
            dg.HourlyPartitionsDefinition(
                start_date="2021-01-01-00:00", end_date="2026-01-01-00:00"
            ),
            [],
        ),
        ("100,000 dynamic", dg.DynamicPartitionsDefinition(name="tenants"), dynamic),
    ]


def asset_of(partitions_def: dg.PartitionsDefinition) -> Any:
    runs = itertools.count()

    @dg.asset(name="events", partitions_def=partitions_def)
    def events() -> pd.DataFrame:
        # Other content each run: an unchanged output would be hashed and not written again.
        return pd.DataFrame({"n": range(ROWS), "run": next(runs)})

    return events


def measure(
    managers: dict[str, Callable[[str, bool], Any]], runs: int, proxy: FaultProxy | None
) -> list[tuple[str, str, list[float], int | None]]:
    """Times each manager's materialization of one partition (interleaved, after a warm-up);
    with a proxy, then counts the requests of one more through it. The timed runs do not go
    through the proxy: it serves one request per connection, which clients that keep
    connections alive (boto3) pay for in retries."""
    rows = []
    for label, partitions_def, dynamic_keys in definitions():
        with dg.DagsterInstance.ephemeral() as instance:
            if dynamic_keys:
                instance.add_dynamic_partitions("tenants", dynamic_keys)
            key = dynamic_keys[-1] if dynamic_keys else partitions_def.get_last_partition_key()
            assert key is not None
            asset = asset_of(partitions_def)
            folder = label.split()[1]

            def materialize(manager: Any, asset: Any = asset, key: str = key) -> None:
                result = dg.materialize(
                    [asset], partition_key=key, instance=instance, resources={"io_manager": manager}
                )
                assert result.success

            timed = {name: make(folder, False) for name, make in managers.items()}
            seconds: dict[str, list[float]] = {name: [] for name in managers}
            for run in range(runs + 1):  # the first is a warm-up
                for name, manager in timed.items():  # interleaved
                    start = time.perf_counter()
                    materialize(manager)
                    if run:
                        seconds[name].append(time.perf_counter() - start)
            for name, make in managers.items():
                requests = None
                if proxy is not None:
                    proxy.requests.clear()
                    materialize(make(folder, True))
                    requests = len(proxy.requests)
                rows.append((label, name, seconds[name], requests))
    return rows


def table(rows: list[tuple[str, str, list[float], int | None]], store: bool) -> str:
    head = "| definition | manager | one partition's materialization, ms (min-max) |"
    rule = "| --- | --- | --- |"
    if store:
        head += " requests |"
        rule += " --- |"
    lines = [head, rule]
    for label, name, seconds, requests in rows:
        ms = [s * 1000 for s in seconds]
        line = f"| {label} | {name} | {statistics.median(ms):.0f} ({min(ms):.0f}-{max(ms):.0f}) |"
        if store:
            line += f" {requests} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import dagster_aws

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        local = measure(
            {
                "FilesystemIOManager": lambda name, _: dg.FilesystemIOManager(
                    base_dir=str(base / "fs" / name)
                ),
                "FastIOManager": lambda name, _: FastIOManager(base_path=str(base / "fast" / name)),
            },
            args.runs,
            None,
        )
        server = S3Server(base / "s3").start()
        proxy = FaultProxy(server.port).start()
        try:
            bucket = server.create_bucket("partition-write")
            store = measure(
                {
                    "S3PickleIOManager": lambda name, counted: server.pickle_io_manager(
                        bucket, proxy.endpoint if counted else None
                    ),
                    "FastIOManager": lambda name, counted: FastIOManager(
                        base_path=f"s3://{bucket}/fast-{name}",
                        storage_options=server.options(
                            endpoint=proxy.endpoint if counted else None
                        ),
                    ),
                },
                args.runs,
                proxy,
            )
        finally:
            proxy.stop()
            server.stop()
    text = (
        "## A partition's write as the definition grows\n\n"
        f"A {ROWS:,}-row pandas frame materialized to one partition, medians of {args.runs} "
        "interleaved runs in one warm process. FastIOManager adds up every stored "
        "partition's rows (`dagster/row_count`) only for definitions of at most "
        f"{fio.io_manager.TOTAL_ROWS_MAX_PARTITIONS} keys (the 24-key rows include it).\n\n"
        "Local disk:\n\n"
        + table(local, store=False)
        + "\n\nS3 (s3s-fs on 127.0.0.1; the requests of one more materialization, of changed "
        "content, counted by a proxy):\n\n" + table(store, store=True)
    )
    versions = (
        f"dagster {dg.__version__}, dagster-aws {dagster_aws.__version__}, "
        f"pandas {pd.__version__}, dagster-fastio {fio.__version__}"
    )
    command = "python benches/bench_partition_write.py"
    write_section("partition-write", text + "\n\n" + stamp(versions) + f" `{command}`.\n")
    print(text)


if __name__ == "__main__":
    main()
