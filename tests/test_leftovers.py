"""Writes killed (SIGKILL) or interrupted (SIGINT) at random moments, locally and on S3: the
target is always the previous version or the complete new one, an interrupted write leaves
the previous one, and what killed writes leave behind is found and removed by `fastio clean`
(or by the next write of the same target), never a file a live writer holds.

Bounded: a handful of seeded trials per kind, each a short write in a subprocess.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from servers import FaultProxy, S3Server

import dagster_fastio as fio
from dagster_fastio.cli import main

ROWS = 6_000_000

_WRITER = """
import json, signal, sys, time
import numpy as np, pyarrow as pa
import dagster_fastio as fio

target, options, scratch = sys.argv[1], json.loads(sys.argv[2]) or None, sys.argv[3]
table = pa.table({"x": np.arange(ROWS), "y": np.random.default_rng(5).random(ROWS)})
kwargs = dict(compression="zstd", level=3, storage_options=options, part_size=5 << 20)
start = time.perf_counter()
fio.write(table, scratch, **kwargs)
writing = True

def interrupt(signum, frame):
    # Only a signal during the write counts; one that lands after it is not a failure.
    if writing:
        raise KeyboardInterrupt

signal.signal(signal.SIGINT, interrupt)
print(json.dumps({"whole": time.perf_counter() - start}), flush=True)
try:
    fio.write(table, target, **kwargs)
    writing = False
    outcome = "finished"
except KeyboardInterrupt as error:
    writing = False
    # The core notes the exceptions of writes it stopped; one raised just after the write
    # returned has no such note.
    notes = getattr(error, "__notes__", [])
    outcome = "interrupted" if any("nothing was written" in n for n in notes) else "finished"
print(json.dumps({"outcome": outcome}), flush=True)
sys.stdin.readline()  # the parent's signal has been sent: exiting now cannot meet it
""".replace("ROWS", str(ROWS))


def _trial(
    target: str,
    scratch: str,
    options: dict[str, str] | None,
    sig: int,
    rng: random.Random,
    window: tuple[float, float] = (0.0, 1.1),
    started: Callable[[], bool] | None = None,
) -> str | None:
    """Starts a write of the new version to `target`, sends `sig` at a random moment of it (a
    fraction of a whole write's time drawn from `window`, counted from when `started` first
    answers True if given), and returns what the writer reported (None when it was killed)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, target, json.dumps(options), scratch],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    whole = json.loads(child.stdout.readline())["whole"]
    deadline = time.monotonic() + 60
    while started is not None and not started() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(whole * rng.uniform(*window))
    child.send_signal(sig)
    out, err = child.communicate("\n", timeout=120)
    if sig == signal.SIGKILL:
        assert child.returncode in (-signal.SIGKILL, 0), err[-2000:]
    else:
        assert child.returncode == 0, err[-2000:]
    lines = out.strip().splitlines()
    return json.loads(lines[-1])["outcome"] if lines else None


def _version(uri: str, options: dict[str, str] | None) -> int:
    """1 for the previous version, 2 for the complete new one; anything else fails."""
    table = fio.read(uri, storage_options=options)
    if table.num_rows == 1:
        return 1
    assert table.num_rows == ROWS
    assert table.column("x").to_numpy()[-1] == ROWS - 1
    return 2


def _temporary_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def _clean(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["clean", *args, "--json"])
    return result.exit_code, [json.loads(line) for line in result.output.splitlines()]


def test_killed_local_writes_leave_a_whole_version_and_reclaimable_leftovers(
    tmp_path: Path,
) -> None:
    rng = random.Random(11)
    target = tmp_path / "out" / "t.arrow"
    fio.write(pa.table({"x": [0], "y": [0.0]}), target)
    versions = []
    for _ in range(6):
        _trial(str(target), str(tmp_path / "scratch.arrow"), None, signal.SIGKILL, rng)
        versions.append(_version(str(target), None))
    assert set(versions) <= {1, 2}
    left = _temporary_files(target.parent)
    # A kill mid-write leaves its temporary file (the next write of the target would reuse
    # it): it is listed, and a dry run keeps it.
    code, listed = _clean(str(tmp_path), "--older-than", "0s")
    assert code == 0
    assert sorted(Path(str(item["location"])) for item in listed) == left
    assert all(not item["removed"] and not item["in_use"] for item in listed)
    assert _temporary_files(target.parent) == left
    code, cleaned = _clean(str(tmp_path), "--older-than", "0s", "--apply")
    assert code == 0 and all(item["removed"] for item in cleaned)
    assert _temporary_files(target.parent) == []
    assert _version(str(target), None) in (1, 2)


def test_the_next_write_of_a_target_reuses_what_a_killed_write_left(tmp_path: Path) -> None:
    target = tmp_path / "t.arrow"
    fio.write(pa.table({"x": [0], "y": [0.0]}), target)
    rng = random.Random(2)
    for _ in range(3):
        scratch = str(tmp_path / "scratch.arrow")
        _trial(str(target), scratch, None, signal.SIGKILL, rng, window=(0.2, 0.6))
    # Each killed write took the slot the one before it left: one leftover, not three.
    assert [p.name for p in _temporary_files(tmp_path)] == [".t.arrow.0.tmp"]
    fio.write(pa.table({"x": [1], "y": [1.0]}), target)
    assert _temporary_files(tmp_path) == []
    assert fio.read(target).num_rows == 1


def test_interrupted_local_writes_keep_the_previous_version(tmp_path: Path) -> None:
    rng = random.Random(7)
    target = tmp_path / "t.arrow"
    for _ in range(4):
        fio.write(pa.table({"x": [0], "y": [0.0]}), target)
        outcome = _trial(str(target), str(tmp_path / "scratch.arrow"), None, signal.SIGINT, rng)
        assert outcome in ("interrupted", "finished")
        assert _version(str(target), None) == (1 if outcome == "interrupted" else 2)
        assert _temporary_files(tmp_path) == []


def test_clean_never_touches_a_live_writers_file(tmp_path: Path) -> None:
    target = tmp_path / "live.arrow"
    table = pa.table({"x": np.arange(1000), "y": np.zeros(1000)})
    with fio.open_writer(target, table.schema) as writer:
        writer.write(table)
        (live,) = _temporary_files(tmp_path)
        os.utime(live, (time.time() - 86400, time.time() - 86400))  # old, but held
        code, listed = _clean(str(tmp_path), "--older-than", "0s", "--apply")
        assert code == 0 and [item["in_use"] for item in listed] == [True]
        assert live.exists()
        writer.write(table)
    assert fio.read(target).num_rows == 2000
    assert _temporary_files(tmp_path) == []


def test_clean_refuses_what_it_cannot_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["clean", "gs://bucket/prefix"])
    assert result.exit_code == 1 and "lifecycle rule" in result.output
    result = CliRunner().invoke(main, ["clean", str(tmp_path), "--older-than", "soon"])
    assert result.exit_code == 2 and "--older-than" in result.output


@pytest.fixture
def slow_moto(moto_server: S3Server) -> Iterator[tuple[S3Server, FaultProxy]]:
    # Parts held half a second each: a kill lands while an upload is open.
    proxy = FaultProxy(moto_server.port).start()
    proxy.delay(0.5, -1, lambda request: request.is_part)
    yield moto_server, proxy
    proxy.stop()


def test_killed_uploads_leave_a_whole_version_and_clean_aborts_their_parts(
    slow_moto: tuple[S3Server, FaultProxy], tmp_path: Path
) -> None:
    server, proxy = slow_moto
    options = server.options(endpoint=proxy.endpoint)
    bucket = server.create_bucket("leftovers")
    uri = f"s3://{bucket}/asset/t.arrow"
    fio.write(pa.table({"x": [0], "y": [0.0]}), uri, storage_options=server.options())
    rng = random.Random(5)
    versions = []
    scratch = f"s3://{bucket}/scratch/t.arrow"
    for _ in range(3):
        # Killed while the parts upload (after the first part of this write was sent, within
        # a part's delay), so that each kill leaves an upload open.
        seen = len(proxy.requests)

        def uploading(seen: int = seen) -> bool:
            return any(r.is_part and "/asset/t.arrow" in r.target for r in proxy.requests[seen:])

        _trial(uri, scratch, options, signal.SIGKILL, rng, window=(0.0, 0.05), started=uploading)
        versions.append(_version(uri, server.options()))
    assert versions == [1, 1, 1]
    pending = server.pending_uploads(bucket)
    assert len(pending) == 3
    flags = [arg for k, v in server.options().items() for arg in ("-o", f"{k}={v}")]
    code, listed = _clean(f"s3://{bucket}/asset/", *flags, "--older-than", "0s")
    assert code == 0
    assert sorted(str(item["upload_id"]) for item in listed) == pending
    assert {item["location"] for item in listed} == {uri}
    assert server.pending_uploads(bucket) == pending, "a dry run aborts nothing"
    code, cleaned = _clean(f"s3://{bucket}/", *flags, "--older-than", "0s", "--apply")
    assert code == 0 and all(item["removed"] for item in cleaned)
    assert server.pending_uploads(bucket) == []
    assert _version(uri, server.options()) in (1, 2)
