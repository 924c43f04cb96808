"""One run of the load job (executor_jobs.LOAD_ASSETS) and what it left in the store: the
checks the load tests assert, and the figures the executor benchmark reports."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from executor_jobs import HOT_KEY, LOAD_STEPS, hot_table, load_table
from servers import FaultProxy, S3Server

import dagster_fastio as fio
from dagster_fastio.io_manager import read_pickle

MB = 1e6


class FaultBursts:
    """While open, every `period` seconds: two requests with a body (parts, single PUTs,
    completes) lose their connection half-way through it, and the next five requests of any
    kind are answered 503. What a quiet period left unserved is dropped, so that faults do not
    pile up: one request meets at most seven in a row, fewer than its ten retries."""

    def __init__(self, proxy: FaultProxy, period: float = 2.0, bursts: int = 100) -> None:
        self.proxy = proxy
        self.period = period
        self.bursts = bursts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._inject, daemon=True)

    def _inject(self) -> None:
        for _ in range(self.bursts):
            if self._stop.wait(self.period):
                return
            self.proxy.clear()
            self.proxy.drop(2, when=lambda request: request.body_length > 0)
            self.proxy.answer(503, 5, when=lambda request: True)

    def __enter__(self) -> FaultBursts:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.proxy.clear()

    def served(self) -> str:
        counts = sorted(self.proxy.faults_served.items())
        return ", ".join(f"{count} {fault}" for fault, count in counts)


@dataclass
class LoadOutcome:
    seconds: float
    failed_steps: int
    # The first lines of each failed step's error.
    errors: list[str] = field(default_factory=list)
    # Objects that are missing, unexpected or unequal to their writer's table.
    wrong_objects: list[str] = field(default_factory=list)
    # Multipart uploads left neither completed nor aborted.
    partial_objects: list[str] = field(default_factory=list)
    # Reads of the shared object that returned rows of more than one writer, or a table equal
    # to no writer's.
    mixed_reads: int = 0
    # Reads of a step's own upstream table that differed from it.
    unequal_reads: int = 0
    # Reads of the shared object that saw it replaced and started again.
    hot_changes: int = 0
    # Steps whose reader ran in the same process as its writer.
    same_process_handoffs: int = 0
    raw_bytes_written: int = 0
    stored_bytes: int = 0
    write_mb_s: list[float] = field(default_factory=list)
    steps_per_pid: dict[int, int] = field(default_factory=dict)

    @property
    def throughput_mb_s(self) -> float:
        """Arrow bytes written and read back (each table once each way) per second of run."""
        return 2 * self.raw_bytes_written / MB / self.seconds

    def summary(self) -> str:
        return (
            f"{LOAD_STEPS} writers + {LOAD_STEPS} readers in {self.seconds:.1f} s: "
            f"{2 * self.raw_bytes_written / MB:,.0f} MB moved, {self.throughput_mb_s:,.0f} MB/s; "
            f"stored {self.stored_bytes / MB:,.0f} MB; median write "
            f"{statistics.median(self.write_mb_s or [0]):,.0f} MB/s per step; "
            f"failed steps {self.failed_steps}, partial objects {len(self.partial_objects)}, "
            f"wrong objects {len(self.wrong_objects)}, mixed reads {self.mixed_reads}, "
            f"unequal reads {self.unequal_reads}, hot-object restarts {self.hot_changes}"
        )


def run_load(
    job: Any,
    instance: dg.DagsterInstance,
    run_config: Mapping[str, Any],
    server: S3Server,
    bucket: str,
    prefix: str,
) -> LoadOutcome:
    started = time.perf_counter()
    result = dg.execute_job(job, instance=instance, run_config=dict(run_config))
    seconds = time.perf_counter() - started
    events = result.all_events
    outcome = LoadOutcome(seconds=seconds, failed_steps=sum(1 for e in events if e.is_step_failure))
    pids = {e.step_key: e.pid for e in events if e.event_type == dg.DagsterEventType.STEP_START}
    for pid in pids.values():
        outcome.steps_per_pid[pid] = outcome.steps_per_pid.get(pid, 0) + 1
    for materialization in result.get_asset_materialization_events():
        name = materialization.asset_key.to_user_string()
        metadata = materialization.materialization.metadata
        if name.startswith("load_"):
            outcome.raw_bytes_written += int(metadata["raw_bytes"].value)
            outcome.stored_bytes += int(metadata["stored_bytes"].value)
            outcome.write_mb_s.append(float(metadata["throughput_mb_s"].value))

    options = server.options()
    expected = sorted(
        [f"{prefix}/load_{i:02d}.arrow" for i in range(LOAD_STEPS)]
        + [f"{prefix}/check_{i:02d}.pickle.zst" for i in range(LOAD_STEPS)]
        + [f"{prefix}/{HOT_KEY}"]
    )
    keys = server.keys(bucket)
    outcome.wrong_objects += sorted(set(keys) ^ set(expected))
    outcome.partial_objects = server.pending_uploads(bucket)
    for i in range(LOAD_STEPS):
        writer, reader = f"load_{i:02d}", f"check_{i:02d}"
        uri = f"s3://{bucket}/{prefix}/{writer}.arrow"
        stored = f"{prefix}/{writer}.arrow" in keys
        if stored and not fio.read(uri, storage_options=options).equals(load_table(i)):
            outcome.wrong_objects.append(uri)
        if f"{prefix}/{reader}.pickle.zst" not in keys:
            continue
        seen = read_pickle(f"s3://{bucket}/{prefix}/{reader}.pickle.zst", options)
        outcome.unequal_reads += not seen["equal"]
        outcome.mixed_reads += not (seen["hot_writer"] is not None and seen["hot_whole"])
        outcome.hot_changes += seen["hot_changes"]
        outcome.same_process_handoffs += pids.get(writer) == pids.get(reader)
    hot_uri = f"s3://{bucket}/{prefix}/{HOT_KEY}"
    if f"{prefix}/{HOT_KEY}" in keys:
        hot = fio.read(hot_uri, storage_options=options)
        writers = set(hot.column("writer").to_pylist())
        if len(writers) != 1 or not hot.equals(hot_table(writers.pop())):
            outcome.wrong_objects.append(hot_uri)
    return outcome


def peak_rss_of(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as lines:
        for line in lines:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmHWM")
