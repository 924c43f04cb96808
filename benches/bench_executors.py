"""FastIOManager under Dagster's distributed executors, under load: the load job of
tests/executor_jobs.py (LOAD_STEPS writers of a 20 MiB table and as many readers, all
submitted at once, every reader in the other worker than its writer) through one s3s-fs:

- on two celery workers (redis-server broker, prefork pools of two processes each);
- the same through a proxy that drops connections and answers 503 bursts (load_run.FaultBursts);
- on a dask.distributed cluster of four worker processes (one thread each).

Reports the run's wall time, the throughput (Arrow bytes written and read back per second of
run), the median write speed of one step, the peak RSS (VmHWM) of every worker process, and
the counts the tests assert (failed steps, partial objects, mixed reads). One run per setting:
it is a system test with a figure, not a micro-benchmark. Writes the "executors" section of
benches/RESULTS.md. The workers and servers are those of the tests, started here on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from report import stamp, write_section

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=64, help="writers (and as many readers)")
parser.add_argument("--rows", type=int, default=1_310_720, help="rows per table (16 B each)")
parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
ARGS = parser.parse_args()
# The workers read the sizes from their environment too, when they import the job.
os.environ["FASTIO_LOAD_STEPS"] = str(ARGS.steps)
os.environ["FASTIO_LOAD_ROWS"] = str(ARGS.rows)

import dagster as dg  # noqa: E402
from engines import (  # noqa: E402
    CeleryWorker,
    DaskCluster,
    celery_run_config,
    store_environment,
)
from executor_jobs import LANES, celery_load_job, dask_load_job, reconstructable  # noqa: E402
from load_run import MB, FaultBursts, LoadOutcome, peak_rss_of, run_load  # noqa: E402
from servers import FaultProxy, RedisServer, S3Server  # noqa: E402

Row = dict[str, Any]
_runs = itertools.count()


def instance_folder(root: Path, name: str) -> str:
    folder = root / f"instance-{name}"
    folder.mkdir()
    return str(folder)


def row(setting: str, outcome: LoadOutcome, peaks: dict[str, list[int]]) -> Row:
    return {"setting": setting, "outcome": outcome, "peaks": peaks}


def celery_load(root: Path, server: S3Server, redis: RedisServer, faults: bool) -> Row:
    bucket = server.create_bucket(f"celery-{'faults' if faults else 'plain'}-{next(_runs)}")
    proxy = FaultProxy(server.port).start() if faults else None
    env = store_environment(
        server, f"s3://{bucket}/load", proxy.endpoint if proxy is not None else None
    )
    os.environ.update(env)
    # Each setting its own broker and result databases, so nothing of the previous is left.
    broker, backend = redis.url(2 if faults else 0), redis.url(3 if faults else 1)
    workers = [
        CeleryWorker(
            root / f"celery-{bucket}-{lane}", broker=broker, backend=backend, queue=lane, env=env
        )
        for lane in LANES
    ]
    try:
        for worker in workers:
            worker.start()
        with dg.instance_for_test(temp_dir=instance_folder(root, bucket)) as instance:
            config = celery_run_config(broker, backend)
            job = reconstructable(celery_load_job)
            if proxy is not None:
                with FaultBursts(proxy) as bursts:
                    outcome = run_load(job, instance, config, server, bucket, "load")
                setting = f"celery, faults ({bursts.served()})"
            else:
                outcome = run_load(job, instance, config, server, bucket, "load")
                setting = "celery"
        peaks = {
            f"celery {w.queue}": [peak_rss_of(pid) for pid in sorted(w.pool_pids())]
            for w in workers
        }
        for w in workers:
            peaks[f"celery {w.queue}"].insert(0, peak_rss_of(w.pid))
    finally:
        for worker in workers:
            worker.stop()
        if proxy is not None:
            proxy.stop()
    return row(setting, outcome, peaks)


def dask_load(root: Path, server: S3Server) -> Row:
    bucket = server.create_bucket(f"dask-{next(_runs)}")
    env = store_environment(server, f"s3://{bucket}/load")
    os.environ.update(env)
    cluster = DaskCluster(env).start()
    try:
        lanes = cluster.lane_pids()
        with dg.instance_for_test(temp_dir=instance_folder(root, bucket)) as instance:
            outcome = run_load(
                reconstructable(dask_load_job),
                instance,
                cluster.run_config(),
                server,
                bucket,
                "load",
            )
        peaks = {
            f"dask {lane}": [peak_rss_of(pid) for pid in sorted(pids)]
            for lane, pids in lanes.items()
        }
    finally:
        cluster.stop()
    return row("dask", outcome, peaks)


def versions() -> str:
    names = ("dagster", "dagster-celery", "celery", "redis", "dagster-dask", "distributed")
    found = [f"{name} {importlib.metadata.version(name)}" for name in names]
    redis_server = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()
    server = next((word.split("=")[1] for word in redis_server if word.startswith("v=")), "?")
    fastio = importlib.metadata.version("dagster-fastio")
    pyarrow = importlib.metadata.version("pyarrow")
    return (
        f"dagster-fastio {fastio}, pyarrow {pyarrow}, " + ", ".join(found) + f", redis-server "
        f"{server}, s3s-fs server"
    )


def render(rows: list[Row]) -> str:
    table_mb = ARGS.rows * 16 / MB
    lines = [
        "## Distributed executors: load through one S3 server (s3s-fs)",
        "",
        f"{ARGS.steps} writer steps, each storing its own {table_mb:.0f} MB table "
        f"(int64 + float64, lz4) through FastIOManager, and {ARGS.steps} reader steps, each "
        "loading one writer's table in the other worker and comparing it with what that writer "
        "wrote; every writer also replaces one shared 2.4 MB object that readers read "
        "meanwhile. All steps are submitted at once; two celery workers with prefork pools of "
        "two processes each (redis-server broker), or four dask worker processes of one thread, "
        "run four at a time. Throughput counts each table once written and once read per "
        "second of the run's wall time (scheduling included); write MB/s is one step's median "
        "write speed. One run per setting on a 2-core machine, where the workers, the S3 "
        "server, the broker and the proxy share the cores.",
        "",
        "| setting | run s | throughput MB/s | write MB/s per step | failed steps | partial "
        "objects | wrong objects | mixed reads |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in rows:
        o: LoadOutcome = item["outcome"]
        median = sorted(o.write_mb_s)[len(o.write_mb_s) // 2] if o.write_mb_s else 0
        lines.append(
            f"| {item['setting']} | {o.seconds:.1f} | {o.throughput_mb_s:,.0f} | {median:,.0f} "
            f"| {o.failed_steps} | {len(o.partial_objects)} | {len(o.wrong_objects)} "
            f"| {o.mixed_reads} |"
        )
    lines += [
        "",
        "Peak RSS (VmHWM) of each worker process, MB (celery: the worker's main process, "
        "then its pool processes, which run the steps):",
        "",
        "| setting | worker | peak MB per process |",
        "| --- | --- | --- |",
    ]
    for item in rows:
        for worker, peaks in item["peaks"].items():
            values = ", ".join(f"{peak / MB:,.0f}" for peak in peaks)
            lines.append(f"| {item['setting']} | {worker} | {values} |")
    lines += [
        "",
        stamp(versions()) + f" `python benches/bench_executors.py --steps {ARGS.steps}`.",
    ]
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fastio-bench-executors-") as folder:
        root = Path(folder)
        server = S3Server(root / "s3s-fs").start()
        redis = RedisServer(root / "redis").start()
        rows = []
        try:
            for run in (
                lambda: celery_load(root, server, redis, faults=False),
                lambda: celery_load(root, server, redis, faults=True),
                lambda: dask_load(root, server),
            ):
                rows.append(run())
                print(rows[-1]["setting"], rows[-1]["outcome"].summary(), flush=True)
                for error in rows[-1]["outcome"].errors:
                    print("  failed:", error, flush=True)
        finally:
            redis.stop()
            server.stop()
    text = render(rows)
    print(text)
    if not ARGS.no_write:
        write_section("executors", text)


if __name__ == "__main__":
    main()
