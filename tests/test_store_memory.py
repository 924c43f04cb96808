"""memory:// objects (the process's own in-memory store), and the memory a streaming upload
uses, measured in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio import _core

MIB = 1 << 20


def test_memory_store_round_trip_and_delete() -> None:
    table = pa.table({"a": list(range(1000)), "b": ["x"] * 1000})
    uri = "memory://bucket/nested/t.arrow"
    info = fio.write(table, uri)
    assert info.parts == 1
    assert _core.object_exists(uri)
    assert fio.read(uri).equals(table)
    assert fio.read_batches(uri, columns=["b"]).read_all().equals(table.select(["b"]))
    _core.delete_object(uri)
    assert not _core.object_exists(uri)
    with pytest.raises(FileNotFoundError):
        fio.read(uri)


# Writes a generated table of TOTAL bytes (never held in memory whole) to s3s-fs and reports
# the peak RSS growth over the baseline taken just before the write.
RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import pyarrow as pa
    import dagster_fastio as fio

    options = json.loads(sys.argv[1])
    uri, total, batch_rows, part_size, concurrency = sys.argv[2], *map(int, sys.argv[3:7])
    rng = np.random.default_rng(0)
    schema = pa.schema([("x", pa.float64()), ("y", pa.float64())])
    batch_bytes = batch_rows * 16

    def batches():
        for _ in range(total // batch_bytes):
            yield pa.record_batch([rng.random(batch_rows), rng.random(batch_rows)], schema=schema)

    # Warm up: the runtime, the store client and the encoder pool exist before the baseline.
    fio.write(pa.table({"x": [1.0], "y": [2.0]}), uri, storage_options=options)

    def status(field):
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    # Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux >= 4.0).
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    baseline = status("VmRSS")
    info = fio.write(
        pa.RecordBatchReader.from_batches(schema, batches()),
        uri,
        compression="none",
        storage_options=options,
        part_size=part_size,
        max_concurrency=concurrency,
    )
    print(json.dumps({
        "growth": status("VmHWM") - baseline,
        "stored": info.stored_bytes,
        "parts": info.parts,
        "batch_bytes": batch_bytes,
    }))
    """
)


def test_streaming_upload_memory_stays_within_the_part_budget(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    part_size, concurrency = 5 * MIB, 4
    budget = part_size * (concurrency + 2)
    total = 10 * budget  # 300 MiB, generated batch by batch
    batch_rows = 500_000  # 8 MB batches
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RSS_SCRIPT,
            json.dumps(s3s_server.options()),
            f"s3://{s3s_bucket}/big.arrow",
            str(total),
            str(batch_rows),
            str(part_size),
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["stored"] >= total * 0.99
    assert report["parts"] >= 55
    limit = budget + report["batch_bytes"] + 64 * MIB
    assert report["growth"] < limit, f"peak RSS grew {report['growth'] / MIB:.0f} MiB"
