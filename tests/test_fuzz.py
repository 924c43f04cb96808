"""A seeded mutation fuzz of every read path, over files written by us, pyarrow and polars.

Each path runs in a worker subprocess with an address-space limit and a per-case watchdog;
the worker records the case it is on before trying it, so a crash or a hang names its case,
and the parent restarts a worker after it. Every case must end in a `CorruptFileError` (or,
for a path that can still read what the damage left intact, a table that passes full
validation): never a crash, a hang or another exception type.

Bounded by count and time: FASTIO_FUZZ_CASES cases per path (default 2000) and at most
FASTIO_FUZZ_SECONDS seconds per path (default 25); raise both to fuzz longer by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest

import dagster_fastio as fio

CASES = int(os.environ.get("FASTIO_FUZZ_CASES", "2000"))
SECONDS = float(os.environ.get("FASTIO_FUZZ_SECONDS", "25"))
CASE_TIMEOUT = 20
MEMORY_LIMIT = 4 << 30

PATHS = ["decode", "decode_columns", "read", "read_mapped", "read_batches", "describe"]


def _table() -> pa.Table:
    rows = 2000
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "n": np.arange(rows),
            "x": rng.random(rows),
            "s": [f"v{i % 37}" if i % 11 else None for i in range(rows)],
            "d": pa.array([f"k{i % 5}" for i in range(rows)]).dictionary_encode(),
            "l": pa.array([[i, i + 1] if i % 4 else None for i in range(rows)]),
            "t": pa.array(np.arange(rows) * 1_000_000, pa.timestamp("us", tz="UTC")),
        }
    )


def _seeds(folder: Path) -> list[Path]:
    """Files and streams from our writer, pyarrow and polars, compressed and not."""
    import polars as pl

    table = _table()
    seeds = {}
    for codec in ("zstd", "lz4", "none"):
        seeds[f"fastio-{codec}.arrow"] = bytes(fio.encode(table, compression=codec, chunk_rows=700))
    for codec in ("zstd", "lz4", "uncompressed"):
        sink = pa.BufferOutputStream()
        feather.write_feather(table, sink, compression=codec, chunksize=700)
        seeds[f"pyarrow-{codec}.arrow"] = sink.getvalue().to_pybytes()
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=700)
    seeds["pyarrow-stream.arrows"] = sink.getvalue().to_pybytes()
    frame = pl.from_arrow(table.drop_columns(["d"]))
    for codec in ("zstd", "lz4"):
        path = folder / f"polars-{codec}.arrow"
        frame.write_ipc(path, compression=codec)
        seeds[path.name] = path.read_bytes()
    path = folder / "polars-stream.arrows"
    frame.write_ipc_stream(path, compression="zstd")
    seeds[path.name] = path.read_bytes()
    paths = []
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


_WORKER = r"""
import faulthandler, json, os, random, resource, sys, time, traceback
resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
import pyarrow as pa
import dagster_fastio as fio
from dagster_fastio.api import describe

path_name, seeds, start, cases, seconds, progress, scratch = (
    sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
    float(sys.argv[5]), sys.argv[6], sys.argv[7],
)
originals = [open(seed, "rb").read() for seed in seeds]

def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        at = rng.randrange(len(data))
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            for i in range(at, min(len(data), at + rng.randint(1, 16))):
                data[i] = rng.randrange(256)
        elif kind == 2:
            value = rng.choice([0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 31 | 8, 8])
            data[at:at + 4] = value.to_bytes(4, "little")
        elif kind == 3:
            del data[at:]
            data = data or bytearray(b"\0")
        elif kind == 4:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            value = rng.choice([0, -1, 1 << 62, (1 << 63) - 1, 1 << 40])
            data[at:at + 8] = value.to_bytes(8, "little", signed=True)
    return bytes(data)

def run(data):
    if path_name == "decode":
        return fio.decode(data)
    if path_name == "decode_columns":
        return fio.decode(data, columns=["s"])
    with open(scratch, "wb") as file:
        file.write(data)
    if path_name == "read":
        return fio.read(scratch)
    if path_name == "read_mapped":
        return fio.read(scratch, memory_map=True)
    if path_name == "read_batches":
        return fio.read_batches(scratch).read_all()
    return describe(scratch)

counts = {"corrupt": 0, "valid": 0, "missing_column": 0, "other": [], "invalid": []}
began = time.monotonic()
done = start
for case in range(start, cases):
    if time.monotonic() - began > seconds:
        break
    with open(progress, "w") as file:
        file.write(str(case))
    rng = random.Random(case)
    data = mutate(originals[case % len(originals)], rng)
    faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
    try:
        result = run(data)
        if isinstance(result, pa.Table):
            try:
                # Full validation, not conversion: a damaged timestamp is valid Arrow even
                # where Python's datetime cannot hold it.
                result.validate(full=True)
                counts["valid"] += 1
            except Exception as error:
                counts["invalid"].append([case, repr(error)[:300]])
        else:
            counts["valid"] += 1
    except fio.CorruptFileError:
        counts["corrupt"] += 1
    except ValueError as error:
        # A projection of a column the damage renamed: the documented "no column named" error.
        if "no column named" in str(error) and path_name == "decode_columns":
            counts["missing_column"] += 1
        else:
            counts["other"].append([case, repr(error)[:300]])
    except Exception as error:
        counts["other"].append([case, repr(error)[:300]])
    faulthandler.cancel_dump_traceback_later()
    done = case + 1
counts["done"] = done
print(json.dumps(counts))
""".replace("MEMORY_LIMIT", str(MEMORY_LIMIT)).replace("CASE_TIMEOUT", str(CASE_TIMEOUT))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def test_the_seeds_are_read_whole(seeds: list[Path]) -> None:
    expected = _table()
    for seed in seeds:
        table = fio.read(seed)
        assert table.num_rows == expected.num_rows, seed.name
        assert table.column("n").to_pylist() == expected.column("n").to_pylist(), seed.name


@pytest.mark.parametrize("path_name", PATHS)
def test_damaged_inputs_never_crash_hang_or_mislead(
    seeds: list[Path], path_name: str, tmp_path: Path
) -> None:
    progress, scratch = tmp_path / "progress", tmp_path / "scratch.arrow"
    totals = {"corrupt": 0, "valid": 0, "missing_column": 0, "other": [], "invalid": []}
    crashes: list[tuple[int, int, str]] = []
    start, budget = 0, SECONDS
    while start < CASES and budget > 0:
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                _WORKER,
                path_name,
                json.dumps([str(seed) for seed in seeds]),
                str(start),
                str(CASES),
                str(budget),
                str(progress),
                str(scratch),
            ],
            capture_output=True,
            text=True,
            timeout=budget + CASE_TIMEOUT + 60,
        )
        if child.returncode != 0:
            # Died on a case (a crash, or the watchdog's exit on a hang): note it, go past it.
            case = int(progress.read_text())
            crashes.append((case, child.returncode, child.stderr[-1500:]))
            start, budget = case + 1, budget - CASE_TIMEOUT
            continue
        counts = json.loads(child.stdout.strip().splitlines()[-1])
        for key in ("corrupt", "valid", "missing_column"):
            totals[key] += counts[key]
        totals["other"] += counts["other"]
        totals["invalid"] += counts["invalid"]
        break
    tried = totals["corrupt"] + totals["valid"] + totals["missing_column"]
    print(f"{path_name}: {tried} cases, {json.dumps({k: v for k, v in totals.items() if v})}")
    assert crashes == [], f"crashed or hung on cases {crashes}"
    assert totals["other"] == [], "another exception type than CorruptFileError"
    assert totals["invalid"] == [], "a returned table failed full validation"
    assert tried >= min(CASES, 200), "the fuzz ran too few cases to mean anything"
    assert totals["corrupt"] > 0
