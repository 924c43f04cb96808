"""The worker pool after fork(): a child process must get a working pool of its own.

Threads do not survive fork(); a child that queued work on the parent's pool would wait for
ever. Dagster's multiprocess executor and celery's prefork pool fork, so this is checked with a
real fork. (A celery worker whose main process used the pool and the I/O runtime before
forking runs the job of tests/test_executors.py.) A multipart upload cannot follow a fork: its
requests run on the parent's runtime, so a child refuses to go on with one, and the parent
still completes it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from servers import S3Server

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


def test_a_forked_child_refuses_to_go_on_with_the_parents_multipart_upload(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    options = s3s_server.options()
    table = pa.table({"x": np.random.default_rng(3).random(1_000_000)})  # 8 MB
    uri = f"s3://{s3s_bucket}/multipart.arrow"
    writer = fio.open_writer(
        uri, table.schema, compression="none", storage_options=options, part_size=5 << 20
    )
    # The writer keeps a few batches in its encoding pipeline; 48 MB are past it, and the
    # multipart upload has started (parts arrive at the server within moments).
    for _ in range(6):
        writer.write(table)
    deadline = time.monotonic() + CHILD_SECONDS
    while not s3s_server.pending_uploads(s3s_bucket) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s3s_server.pending_uploads(s3s_bucket) != []
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            writer.write(table)
            status = 2
        except ValueError as error:
            status = 0 if "cannot be carried across fork()" in str(error) else 3
        except BaseException:
            status = 4
        finally:
            os._exit(status)
    _wait_for(child)
    # The child neither wrote into the upload nor aborted it: the parent finishes it.
    writer.write(table)
    writer.close()
    assert fio.read(uri, storage_options=options).equals(pa.concat_tables([table] * 7))
    assert s3s_server.pending_uploads(s3s_bucket) == []


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
