"""Uploads through a proxy that drops connections and answers with errors, in front of
s3s-fs: transient faults are retried, permanent ones abort the upload and publish nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from dispositions import EXPECT_KEYBOARD_INTERRUPT, launched_ignoring
from servers import FaultProxy, Request, S3Server

import dagster_fastio as fio
from dagster_fastio.errors import StoreError

MIB = 1 << 20


@pytest.fixture
def proxy(s3s_server: S3Server) -> Iterator[FaultProxy]:
    proxy = FaultProxy(s3s_server.port).start()
    yield proxy
    proxy.stop()


def table_of(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"x": rng.random(rows), "n": np.arange(rows)})


def is_part(request: Request) -> bool:
    return request.is_part


def is_get(request: Request) -> bool:
    return request.method == "GET"


def upload(table: pa.Table, uri: str, options: dict[str, str]) -> fio.WriteInfo:
    return fio.write(table, uri, compression="none", storage_options=options, part_size=5 * MIB)


def test_a_connection_dropped_mid_part_is_retried(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    table = table_of(1_500_000)  # 24 MB: five parts
    proxy.drop(2, when=is_part)
    uri = f"s3://{s3s_bucket}/dropped.arrow"
    info = upload(table, uri, s3s_server.options(endpoint=proxy.endpoint))
    part_requests = [r for r in proxy.requests if r.is_part]
    assert len(part_requests) == info.parts + 2
    assert fio.read(uri, storage_options=s3s_server.options()).equals(table)
    assert s3s_server.pending_uploads(s3s_bucket) == []


def test_a_burst_of_503_answers_is_retried(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    table = table_of(1_500_000)
    proxy.answer(503, 4, when=is_part)
    proxy.answer(503, 2, when=lambda r: r.method == "POST")  # starting and completing
    uri = f"s3://{s3s_bucket}/busy.arrow"
    info = upload(table, uri, s3s_server.options(endpoint=proxy.endpoint))
    assert len([r for r in proxy.requests if r.is_part]) == info.parts + 4
    assert fio.read(uri, storage_options=s3s_server.options()).equals(table)


def test_reads_retry_too(s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy) -> None:
    table = table_of(1_500_000)
    uri = f"s3://{s3s_bucket}/read.arrow"
    upload(table, uri, s3s_server.options())
    proxy.answer(503, 3, when=is_get)
    proxy.drop(1, when=is_get)
    assert fio.read(uri, storage_options=s3s_server.options(endpoint=proxy.endpoint)).equals(table)


def test_a_permanent_failure_aborts_and_keeps_the_previous_version(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    uri = f"s3://{s3s_bucket}/kept.arrow"
    previous = pa.table({"version": [1]})
    fio.write(previous, uri, storage_options=s3s_server.options())
    proxy.answer(500, -1, when=lambda r: r.is_part and "partNumber=3" in r.target)
    options = s3s_server.options(endpoint=proxy.endpoint, max_retries="2", retry_timeout="5")
    with pytest.raises(StoreError) as raised:
        upload(table_of(1_500_000), uri, options)
    assert uri in str(raised.value)
    assert "500" in str(raised.value)
    assert s3s_server.secret_key not in str(raised.value)
    # The upload was aborted through the proxy, and the old object is untouched.
    assert any(r.method == "DELETE" and "uploadId=" in r.target for r in proxy.requests)
    assert s3s_server.pending_uploads(s3s_bucket) == []
    assert fio.read(uri, storage_options=s3s_server.options()).equals(previous)


def test_a_permanent_failure_leaves_no_object_where_there_was_none(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    proxy.answer(500, -1, when=is_part)
    options = s3s_server.options(endpoint=proxy.endpoint, max_retries="1", retry_timeout="3")
    with pytest.raises(StoreError):
        upload(table_of(1_500_000), f"s3://{s3s_bucket}/never.arrow", options)
    assert s3s_server.keys(s3s_bucket) == []
    assert s3s_server.pending_uploads(s3s_bucket) == []


def test_a_failing_single_put_publishes_nothing(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    proxy.answer(500, -1, when=lambda r: r.method == "PUT")
    options = s3s_server.options(endpoint=proxy.endpoint, max_retries="1", retry_timeout="3")
    with pytest.raises(StoreError):
        fio.write(pa.table({"a": [1]}), f"s3://{s3s_bucket}/tiny.arrow", storage_options=options)
    assert s3s_server.keys(s3s_bucket) == []


def test_an_exception_in_open_writer_aborts_through_the_proxy(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    uri = f"s3://{s3s_bucket}/writer.arrow"
    fio.write(pa.table({"version": [1]}), uri, storage_options=s3s_server.options())
    options = s3s_server.options(endpoint=proxy.endpoint)
    table = table_of(1_500_000)
    with (
        pytest.raises(ValueError, match="asset failed"),
        fio.open_writer(
            uri, table.schema, compression="none", storage_options=options, part_size=5 * MIB
        ) as writer,
    ):
        for _ in range(3):  # more than the encoder holds back: parts are uploading
            writer.write(table)
        raise ValueError("asset failed")
    assert any(r.method == "DELETE" and "uploadId=" in r.target for r in proxy.requests)
    assert s3s_server.pending_uploads(s3s_bucket) == []
    assert fio.read(uri, storage_options=s3s_server.options()).to_pydict() == {"version": [1]}


_CLOSE_INTERRUPT_SCRIPT = (
    EXPECT_KEYBOARD_INTERRUPT
    + """
import json, os, signal, sys, threading, time
import numpy as np, pyarrow as pa
import dagster_fastio as fio

uri, options = sys.argv[1], json.loads(sys.argv[2])
rng = np.random.default_rng(3)
table = pa.table({"x": rng.random(5_000_000)})  # 40 MB: eight 5 MiB parts
writer = fio.open_writer(
    uri, table.schema, compression="none", storage_options=options,
    part_size=5 << 20, max_concurrency=8,
)
writer.write(table)  # returns with the parts still uploading, each held 3 s by the proxy
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    writer.close()
    outcome = "closed"
except KeyboardInterrupt:
    outcome = "interrupted"
print(json.dumps({"outcome": outcome, "took": time.perf_counter() - start}))
"""
)


@pytest.mark.parametrize("ignored", [(), (signal.SIGINT,)], ids=["foreground", "background"])
def test_ctrl_c_during_an_upload_close_publishes_nothing(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy, ignored: tuple[signal.Signals, ...]
) -> None:
    # Regression: a SIGINT while `close()` waited for the last parts took effect only after
    # the multipart upload was completed, so storage held the output of an interrupted step.
    # Regression: a child inheriting SIGINT ignored from a background job never saw it
    # ("closed"); the script sets its handler, and "background" starts it with SIGINT ignored.
    uri = f"s3://{s3s_bucket}/closing.arrow"
    fio.write(pa.table({"x": [1.0]}), uri, storage_options=s3s_server.options())
    proxy.delay(3.0, -1, is_part)
    options = s3s_server.options(endpoint=proxy.endpoint)
    done = subprocess.run(
        launched_ignoring(
            ignored, [sys.executable, "-c", _CLOSE_INTERRUPT_SCRIPT, uri, json.dumps(options)]
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "interrupted", result
    assert fio.read(uri, storage_options=s3s_server.options()).num_rows == 1
    assert s3s_server.pending_uploads(s3s_bucket) == []


def is_delete(request: Request) -> bool:
    return request.method == "DELETE" or (request.method == "POST" and "delete" in request.target)


def test_fastio_manager_retries_the_stale_format_delete_after_a_dropped_connection(
    s3s_server: S3Server, s3s_bucket: str, proxy: FaultProxy
) -> None:
    # Regression (found by the celery load test, tests/test_executors.py): after writing a
    # table, FastIOManager deletes the pickle of the same key; that DeleteObjects request lost
    # its connection, object_store does not retry it, and a step whose output was already
    # written failed.
    import dagster as dg

    from dagster_fastio import FastIOManager

    @dg.asset
    def written_table():
        return pa.table({"n": [1, 2, 3]})

    proxy.drop(2, when=is_delete)
    options = s3s_server.options(endpoint=proxy.endpoint)
    manager = FastIOManager(base_path=f"s3://{s3s_bucket}/stale", storage_options=options)
    result = dg.materialize([written_table], resources={"io_manager": manager})
    assert result.success
    assert proxy.faults_served["drop"] == 2
    assert sum(1 for r in proxy.requests if is_delete(r)) == 3
    assert s3s_server.keys(s3s_bucket) == ["stale/written_table.arrow"]
