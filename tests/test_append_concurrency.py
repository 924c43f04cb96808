"""Appends from runs in two processes at once keep every part exactly once, locally and on S3
(s3s-fs), with and without compaction running in the same steps; an append killed mid-write
leaves no visible part (issue 25)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import key_parts, parts_folder
from dagster_fastio.stored.storage import Storage

RUNS = 6

# One process of appending runs: waits for the go file, then materializes the asset RUNS
# times, each run's rows tagged with the process and run number.
_APPENDER = """
import json, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import dagster as dg, pyarrow as pa
from dagster_fastio import FastIOManager

base, options, name, runs, go, compact_after = sys.argv[1:7]
options = json.loads(options) or {}
compact_after = int(compact_after) or None
count = {"run": 0}

@dg.asset(name="events")
def events() -> pa.Table:
    count["run"] += 1
    return pa.table({"writer": [name] * 3, "run": [count["run"]] * 3, "row": [0, 1, 2]})

manager = FastIOManager(
    base_path=base, storage_options=options, write_mode="append",
    compact_after_parts=compact_after,
)
while not os.path.exists(go):
    time.sleep(0.005)
for _ in range(int(runs)):
    assert dg.materialize([events], resources={"io_manager": manager}).success
print("done", flush=True)
"""


def _run_two_appenders(
    base: str, options: dict[str, str] | None, tmp_path: Path, compact_after: int = 0
) -> None:
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _APPENDER,
                base,
                json.dumps(options),
                name,
                str(RUNS),
                str(go),
                str(compact_after),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    time.sleep(2.0)  # both import Dagster before the go
    go.write_text("go")
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-3000:]
        assert "done" in out


def _check_every_run_once(base: str, options: dict[str, str] | None) -> pa.Table:
    stem = Location.base(base).stem(["events"])
    storage = Storage(Location.base(base), None, None, None, options, False, None)
    table = storage.load(stem, None, None)
    assert isinstance(table, pa.Table)
    seen = sorted(
        zip(
            table.column("writer").to_pylist(),
            table.column("run").to_pylist(),
            table.column("row").to_pylist(),
            strict=True,
        )
    )
    writers = ("first", "second")
    expected = sorted((w, r, i) for w in writers for r in range(1, RUNS + 1) for i in range(3))
    assert seen == expected
    # Each writer's own runs are in its order: append order is kept within a writer.
    for writer in ("first", "second"):
        runs = [
            run
            for who, run in zip(
                table.column("writer").to_pylist(), table.column("run").to_pylist(), strict=True
            )
            if who == writer
        ]
        assert runs == sorted(runs)
    return table


@pytest.mark.parametrize("compact_after", [0, 4], ids=["parts", "compacting"])
def test_two_processes_appending_locally_keep_every_part_once(
    tmp_path: Path, compact_after: int
) -> None:
    base = str(tmp_path / "base")
    _run_two_appenders(base, None, tmp_path, compact_after)
    _check_every_run_once(base, None)
    key = key_parts(parts_folder(Location.base(base).stem(["events"])), None)
    if compact_after:
        assert len(key.visible) <= compact_after + 1 and any(p.compacted for p in key.visible)
    else:
        assert len(key.visible) == 2 * RUNS and not key.superseded


@pytest.mark.parametrize("compact_after", [0, 4], ids=["parts", "compacting"])
def test_two_processes_appending_on_s3_keep_every_part_once(
    tmp_path: Path, s3s_server: S3Server, s3s_bucket: str, compact_after: int
) -> None:
    base = f"s3://{s3s_bucket}/base"
    options = s3s_server.options()
    _run_two_appenders(base, options, tmp_path, compact_after)
    _check_every_run_once(base, options)
    keys = [k for k in s3s_server.keys(s3s_bucket) if k.startswith("base/events.parts/")]
    if not compact_after:
        assert len(keys) == 2 * RUNS
    assert s3s_server.pending_uploads(s3s_bucket) == []


# ---------------------------------------------------------------------------------------------
# Killed appends.

BIG_ROWS = 3_000_000

_KILLED = """
import json, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import numpy as np, pyarrow as pa
from dagster_fastio.stored.appends import append_table
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.handlers import table_type_of

base, options = sys.argv[1], json.loads(sys.argv[2]) or None
storage = Storage(Location.base(base), "zstd", 3, 5 << 20, options, False, None)
stem = storage.base.stem(["events"])
rng = np.random.default_rng(int(sys.argv[3]))
table = pa.table({"x": np.arange(BIG_ROWS), "y": rng.random(BIG_ROWS)})
# A whole append elsewhere first: the parent sends its signal within that time.
scratch = storage.base.stem(["scratch", sys.argv[3]])
start = time.perf_counter()
append_table(storage, scratch, table_type_of(table), table, "zstd", "ipc", {})
print(json.dumps({"whole": time.perf_counter() - start}), flush=True)
append_table(storage, stem, table_type_of(table), table, "zstd", "ipc", {})
print("appended", flush=True)
""".replace("BIG_ROWS", str(BIG_ROWS))


def _killed_appends(base: str, options: dict[str, str] | None, trials: int, sig: int) -> int:
    """Starts ``trials`` appends, each signalled with ``sig`` at a random moment of it (a
    fraction of a whole append's time, measured in the same process just before); returns how
    many finished before their signal landed."""
    rng = random.Random(25)
    finished = 0
    for trial in range(trials):
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLED, base, json.dumps(options), str(trial)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        whole = json.loads(child.stdout.readline())["whole"]
        # Most signals land while the part is being written; a late one may land after.
        time.sleep(whole * rng.uniform(0.0, 0.9))
        child.send_signal(sig)
        out, err = child.communicate(timeout=300)
        assert child.returncode in (-sig, 0), err[-2000:]
        finished += "appended" in out
    return finished


def _check_whole_parts(base: str, options: dict[str, str] | None, finished: int) -> int:
    """Every visible part is a whole append; returns how many there are: at least the appends
    that finished, more when a signal landed after a part was published but before its run
    reported it."""
    stem = Location.base(base).stem(["events"])
    key = key_parts(parts_folder(stem), options)
    assert len(key.visible) >= finished
    for part in key.visible:
        table = fio.read(part.uri, storage_options=options)
        assert table.num_rows == BIG_ROWS
        assert table.column("x")[BIG_ROWS - 1].as_py() == BIG_ROWS - 1
    return len(key.visible)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_local_append_leaves_no_visible_part(tmp_path: Path, sig: int) -> None:
    base = str(tmp_path / "base")
    finished = _killed_appends(base, None, 5, sig)
    # At least one signal landed mid-write, and left no part.
    assert _check_whole_parts(base, None, finished) < 5
    folder = tmp_path / "base" / "events.parts"
    listed: list[Any] = sorted(folder.iterdir()) if folder.exists() else []
    # What a killed write left is a temporary file, never a part name; `fastio clean` finds it.
    assert all(p.name.endswith(".tmp") for p in listed if not p.name.endswith(".arrow"))


def test_a_killed_append_on_s3_leaves_no_visible_part(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    base = f"s3://{s3s_bucket}/base"
    options = s3s_server.options()
    finished = _killed_appends(base, options, 4, signal.SIGKILL)
    assert _check_whole_parts(base, options, finished) < 4
