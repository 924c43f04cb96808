"""One step of a handoff, measured, in the process that runs this module: what
`dagster_fastio.cli.fresh_step` starts in a fresh Python process for `fastio bench`, as
Dagster's default executor runs each step in its own.

The child imports what a step's process has imported before its op runs (dagster, pandas or
polars, pyarrow, this package), builds the I/O manager a method names, its context and, for a
write, the frame from the prepared source file; then it times the one call, measures the peak
resident memory the call added (VmHWM reset before the call, minus the RSS before it:
`PeakMemory`) and prints one JSON line.

Methods: ``pickle`` (Dagster's FilesystemIOManager, pickling as it does), ``ipc-lz4`` and
``ipc-zstd`` (FastIOManager, Arrow IPC), ``parquet-zstd`` (FastIOManager, Parquet).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["RESULT_PREFIX", "measured_step"]

RESULT_PREFIX = "fastio-fresh-step "


@dataclass(frozen=True)
class _Step:
    """What `dagster_fastio.cli.fresh_step.Step` sends, as JSON."""

    method: str
    frame: str
    action: str
    source: str
    base: str
    key: str
    storage_options: dict[str, str] | None = None


def _manager(step: _Step) -> Any:
    import dagster as dg

    from dagster_fastio.io_manager import FastIOManager

    if step.method == "pickle" and step.base.startswith("s3://"):
        return _s3_pickle_manager(step)
    if step.method == "pickle":
        return dg.FilesystemIOManager(base_dir=step.base).create_io_manager(
            dg.build_init_resource_context()
        )
    file_format, codec = step.method.split("-")
    return FastIOManager(
        base_path=step.base,
        format=file_format,
        compression=codec,
        storage_options=step.storage_options or {},
    )


def _s3_pickle_manager(step: _Step) -> Any:
    """dagster-aws's S3PickleIOManager at the step's bucket and prefix, reached with the
    step's storage options (object_store's keys, the environment's otherwise)."""
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    options = step.storage_options or {}
    bucket, _, prefix = step.base.removeprefix("s3://").partition("/")
    resource = S3Resource(
        endpoint_url=options.get("aws_endpoint") or options.get("endpoint"),
        aws_access_key_id=options.get("aws_access_key_id"),
        aws_secret_access_key=options.get("aws_secret_access_key"),
        region_name=options.get("aws_region") or options.get("region"),
    )
    return S3PickleIOManager(s3_resource=resource, s3_bucket=bucket, s3_prefix=prefix)


def _frame_bytes(frame: Any, kind: str) -> int:
    if kind == "pandas":
        return int(frame.memory_usage(deep=True).sum())
    return int(frame.estimated_size())


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _measured(call: Any) -> tuple[float, int | None, int | None, Any]:
    import gc
    import os
    import time

    import pyarrow as pa

    from dagster_fastio.api.peak_memory import PeakMemory

    gc.collect()
    # Freed pages kept by pyarrow's pool would hide the call's own allocations.
    pa.default_memory_pool().release_unused()
    os.sync()  # an earlier step's writeback is not this call's
    baseline = _resident_bytes()
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - start
    return seconds, memory.added_bytes, baseline, result


def measured_step(step: _Step) -> dict[str, Any]:
    import dagster as dg
    import pyarrow as pa

    if step.frame == "pandas":
        import pandas as pd

        frame_type: type = pd.DataFrame
    else:
        import polars as pl

        frame_type = pl.DataFrame
    manager = _manager(step)
    dagster_type = dg.PythonObjectDagsterType(frame_type)
    output = dg.build_output_context(asset_key=dg.AssetKey(step.key), dagster_type=dagster_type)
    if step.action == "write":
        # Read, not mapped: a frame viewing mapped pages would fault them in during the write
        # and charge the frame itself to the write's peak.
        with pa.OSFile(step.source) as source:
            table = pa.ipc.open_file(source).read_all()
        frame = table.to_pandas() if step.frame == "pandas" else pl.from_arrow(table)
        del table
        seconds, peak, baseline, _ = _measured(lambda: manager.handle_output(output, frame))
        stored = _stored_bytes(step, output.get_logged_metadata())
    else:
        context = dg.build_input_context(
            asset_key=dg.AssetKey(step.key), upstream_output=output, dagster_type=dagster_type
        )
        seconds, peak, baseline, frame = _measured(lambda: manager.load_input(context))
        if not isinstance(frame, frame_type):
            raise TypeError(f"loaded a {type(frame).__name__}, not a {frame_type.__name__}")
        stored = None
    return {
        "seconds": seconds,
        "peak_bytes": peak,
        "baseline_bytes": baseline,
        "frame_bytes": _frame_bytes(frame, step.frame),
        "rows": len(frame),
        "stored_bytes": stored,
    }


def _stored_bytes(step: _Step, metadata: dict[str, Any]) -> int:
    """What the write stored: FastIOManager reports it; FilesystemIOManager's file is
    `<base>/<key>`."""
    from pathlib import Path

    if step.method == "pickle" and step.base.startswith("s3://"):
        from dagster_fastio.api import stored_size

        return stored_size(f"{step.base}/{step.key}", step.storage_options)
    if step.method == "pickle":
        return Path(step.base, step.key).stat().st_size
    value = metadata["stored_bytes"]
    return int(getattr(value, "value", value))


if __name__ == "__main__":
    result = measured_step(_Step(**json.loads(sys.stdin.read())))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
