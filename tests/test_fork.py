"""The worker pool after fork(): a child process must get a working pool of its own.

Threads do not survive fork(); a child that queued work on the parent's pool would wait for
ever. Dagster's multiprocess executor can fork, so this is checked with a real fork.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pyarrow as pa

import dagster_fastio as fio

CHILD_SECONDS = 60


def test_forked_child_encodes_and_decodes_after_the_parent_used_the_pool(tmp_path: Path) -> None:
    table = pa.table({"x": list(range(200_000)), "s": [str(i % 97) for i in range(200_000)]})
    # Several batches, so the parent's pool threads really start before the fork.
    fio.write(table, tmp_path / "parent.arrow", chunk_rows=10_000)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            fio.write(table, tmp_path / "child.arrow", chunk_rows=10_000)
            status = 0 if fio.read(tmp_path / "child.arrow").equals(table) else 2
        finally:
            os._exit(status)
    _wait_for(child)
    assert fio.read(tmp_path / "parent.arrow").equals(table)


def test_a_writer_opened_before_fork_works_in_the_child(tmp_path: Path) -> None:
    table = pa.table({"x": list(range(100_000))})
    fio.write(table, tmp_path / "warm.arrow", chunk_rows=10_000)
    writer = fio.open_writer(tmp_path / "child.arrow", table.schema, chunk_rows=10_000)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            writer.write(table)
            writer.close()
            status = 0 if fio.read(tmp_path / "child.arrow").equals(table) else 2
        finally:
            os._exit(status)
    # Parent and child share the temporary file: the parent lets the child finish first.
    _wait_for(child)
    assert fio.read(tmp_path / "child.arrow").equals(table)
    writer.abort()


def _wait_for(child: int) -> None:
    deadline = time.monotonic() + CHILD_SECONDS
    while True:
        finished, status = os.waitpid(child, os.WNOHANG)
        if finished:
            break
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            raise AssertionError("the forked child hung: it waited on the parent's pool")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
