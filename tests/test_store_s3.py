"""The standalone API against real S3 servers: s3s-fs, and moto's server (which refuses
non-final parts under 5 MiB). Each test gets its own bucket."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from servers import FaultProxy, S3Server

import dagster_fastio as fio
from dagster_fastio import _core
from dagster_fastio.errors import CorruptFileError, StoreError

MIB = 1 << 20
DEFAULT_PART_SIZE = 16 * MIB


def random_table(rows: int, seed: int = 0) -> pa.Table:
    """Numbers that barely compress, so stored sizes (and part counts) are predictable."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "x": rng.random(rows),
            "n": np.arange(rows, dtype=np.int64),
            "tag": pa.array(rng.integers(0, 50, rows).astype(str)),
        }
    )


def test_small_table_goes_up_in_one_put(s3_server: S3Server, bucket: str) -> None:
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    uri = f"s3://{bucket}/small/t.arrow"
    info = fio.write(table, uri, storage_options=s3_server.options())
    assert info.parts == 1
    assert info.uri == uri
    assert s3_server.keys(bucket) == ["small/t.arrow"]
    assert fio.read(uri, storage_options=s3_server.options()).equals(table)
    # The object is a plain Feather v2 file for any other reader.
    body = s3_server.client().get_object(Bucket=bucket, Key="small/t.arrow")["Body"].read()
    assert feather.read_table(pa.BufferReader(body)).equals(table)
    assert info.stored_bytes == len(body)


def test_multipart_upload_splits_at_the_part_size(s3_server: S3Server, bucket: str) -> None:
    table = random_table(1_500_000)  # about 31 MB uncompressed
    uri = f"s3://{bucket}/multi.arrow"
    info = fio.write(
        table, uri, compression="none", storage_options=s3_server.options(), part_size=5 * MIB
    )
    assert info.parts == math.ceil(info.stored_bytes / (5 * MIB)) > 1
    head = s3_server.client().head_object(Bucket=bucket, Key="multi.arrow")
    assert head["ContentLength"] == info.stored_bytes
    # S3 tags a multipart object's ETag with its part count.
    assert head["ETag"].strip('"').endswith(f"-{info.parts}")
    assert fio.read(uri, storage_options=s3_server.options()).equals(table)
    assert s3_server.pending_uploads(bucket) == []


def test_object_of_exactly_one_part_is_a_single_put(s3_server: S3Server, bucket: str) -> None:
    table = random_table(300_000)
    size = fio.encode(table, compression="none").size
    assert size > 5 * MIB
    options = s3_server.options()
    uri = f"s3://{bucket}/one.arrow"
    info = fio.write(table, uri, compression="none", storage_options=options, part_size=size)
    assert (info.parts, info.stored_bytes) == (1, size)
    info = fio.write(table, uri, compression="none", storage_options=options, part_size=size - 1)
    assert info.parts == 2
    assert fio.read(uri, storage_options=options).equals(table)


def test_reads_project_columns_and_stream_batches(s3_server: S3Server, bucket: str) -> None:
    table = random_table(600_000)
    uri = f"s3://{bucket}/cols.arrow"
    options = s3_server.options()
    fio.write(table, uri, compression="lz4", storage_options=options, chunk_rows=50_000)
    projected = fio.read(uri, columns=["tag", "n"], storage_options=options)
    assert projected.column_names == ["tag", "n"]
    assert projected.equals(table.select(["tag", "n"]))
    reader = fio.read_batches(uri, columns=["n"], storage_options=options)
    sizes = [batch.num_rows for batch in reader]
    assert sizes == [50_000] * 12
    assert fio.read_batches(uri, storage_options=options).read_all().equals(table)


def test_files_from_other_writers_read_from_the_store(s3_server: S3Server, bucket: str) -> None:
    import polars as pl

    table = random_table(200_000)
    client = s3_server.client()
    sink = pa.BufferOutputStream()
    feather.write_feather(table, sink, compression="zstd", chunksize=30_000)
    client.put_object(Bucket=bucket, Key="pyarrow.arrow", Body=sink.getvalue().to_pybytes())
    stream = pa.BufferOutputStream()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table, max_chunksize=70_000)
    client.put_object(Bucket=bucket, Key="stream.arrows", Body=stream.getvalue().to_pybytes())
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    polars_bytes = frame.write_ipc(None, compression="lz4").getvalue()
    client.put_object(Bucket=bucket, Key="polars.arrow", Body=polars_bytes)

    options = s3_server.options()
    for key in ("pyarrow.arrow", "stream.arrows"):
        assert fio.read(f"s3://{bucket}/{key}", storage_options=options).equals(table)
    from_polars = fio.read(f"s3://{bucket}/polars.arrow", storage_options=options)
    assert pl.from_arrow(from_polars).equals(frame)  # type: ignore[union-attr]


def test_overwrite_replaces_the_object(s3_server: S3Server, bucket: str) -> None:
    uri = f"s3://{bucket}/v.arrow"
    options = s3_server.options()
    fio.write(pa.table({"v": [1]}), uri, storage_options=options)
    fio.write(random_table(700_000), uri, storage_options=options, part_size=5 * MIB)
    fio.write(pa.table({"v": [3]}), uri, storage_options=options)
    assert fio.read(uri, storage_options=options).to_pydict() == {"v": [3]}


def test_open_writer_streams_parts_and_publishes_on_close(s3_server: S3Server, bucket: str) -> None:
    uri = f"s3://{bucket}/streamed.arrow"
    options = s3_server.options()
    pieces = [random_table(250_000, seed) for seed in range(4)]
    with fio.open_writer(
        uri, pieces[0].schema, compression="none", storage_options=options, part_size=5 * MIB
    ) as writer:
        for piece in pieces:
            writer.write(piece)
        # Parts are already going up, but nothing is visible before close.
        assert s3_server.keys(bucket) == []
    assert writer.info is not None and writer.info.parts > 1
    assert fio.read(uri, storage_options=options).equals(pa.concat_tables(pieces))


def test_exception_inside_open_writer_keeps_the_previous_version(
    s3_server: S3Server, bucket: str
) -> None:
    uri = f"s3://{bucket}/kept.arrow"
    options = s3_server.options()
    fio.write(pa.table({"x": [1.0]}), uri, storage_options=options)
    big = random_table(1_000_000)
    for interruption in (RuntimeError("the asset failed"), KeyboardInterrupt()):
        with (
            pytest.raises(type(interruption)),
            fio.open_writer(
                uri, big.schema, compression="none", storage_options=options, part_size=5 * MIB
            ) as writer,
        ):
            writer.write(big)  # several parts are uploaded by now
            raise interruption
        assert writer.closed
        assert fio.read(uri, storage_options=options).to_pydict() == {"x": [1.0]}
        assert s3_server.pending_uploads(bucket) == []


def test_missing_object_is_file_not_found(s3_server: S3Server, bucket: str) -> None:
    options = s3_server.options()
    with pytest.raises(FileNotFoundError, match=r"absent\.arrow"):
        fio.read(f"s3://{bucket}/absent.arrow", storage_options=options)
    with pytest.raises(FileNotFoundError):
        fio.read_batches(f"s3://{bucket}/absent.arrow", storage_options=options)
    assert not _core.object_exists(f"s3://{bucket}/absent.arrow", options)


def test_damaged_objects_are_corrupt_files(s3_server: S3Server, bucket: str) -> None:
    data = fio.encode(random_table(300_000), compression="zstd", chunk_rows=50_000).to_pybytes()
    flipped = bytearray(data)
    flipped[len(data) - 40] ^= 0xFF  # inside the footer
    client = s3_server.client()
    damaged = {"half.arrow": data[: len(data) // 2], "footer.arrow": bytes(flipped)}
    damaged["text.arrow"] = b"not an arrow file\n" * 20_000
    for key, body in damaged.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
        with pytest.raises(CorruptFileError):
            fio.read(f"s3://{bucket}/{key}", storage_options=s3_server.options())


def test_wrong_credentials_give_a_store_error_without_the_secret(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    # s3s-fs checks signatures; moto's server accepts any key unless IAM is set up.
    s3_server, bucket = s3s_server, s3s_bucket
    uri = f"s3://{bucket}/t.arrow"
    fio.write(pa.table({"a": [1]}), uri, storage_options=s3_server.options())
    secret = "not-the-right-secret-0123456789"
    wrong = s3_server.options(aws_secret_access_key=secret)
    for call in (
        lambda: fio.read(uri, storage_options=wrong),
        lambda: fio.write(pa.table({"a": [2]}), uri, storage_options=wrong),
    ):
        with pytest.raises(StoreError) as raised:
            call()
        message = str(raised.value)
        assert uri in message
        assert "403" in message or "Forbidden" in message or "Signature" in message
        assert secret not in message
        assert s3_server.secret_key not in message
    assert fio.read(uri, storage_options=s3_server.options()).to_pydict() == {"a": [1]}


def test_unreachable_endpoint_is_a_store_error(bucket: str, s3_server: S3Server) -> None:
    from servers import free_port

    options = s3_server.options(
        endpoint=f"http://127.0.0.1:{free_port()}", max_retries="1", retry_timeout="2"
    )
    with pytest.raises(StoreError, match=f"s3://{bucket}/t.arrow"):
        fio.write(pa.table({"a": [1]}), f"s3://{bucket}/t.arrow", storage_options=options)


def test_pickled_payloads_round_trip(s3_server: S3Server, bucket: str) -> None:
    uri = f"s3://{bucket}/obj.pickle.zst"
    data = bytes(range(256)) * 40_000  # 10 MB, several parts
    options = s3_server.options()
    stored, parts = _core.write_zstd_file(uri, data, 1, storage_options=options, part_size=5 * MIB)
    assert parts == 1 and 0 < stored < len(data)
    assert bytes(pa.array(_core.read_zstd_file(uri, options)).buffers()[1]) == data
    _core.delete_object(uri, options)
    assert not _core.object_exists(uri, options)
    _core.delete_object(uri, options)  # absent: no error


def test_large_table_round_trips_through_s3s(
    s3s_server: S3Server, s3s_bucket: str, flights: pa.Table
) -> None:
    table = pa.concat_tables([flights] * 6).combine_chunks()
    assert table.nbytes >= 200 * MIB
    uri = f"s3://{s3s_bucket}/flights.arrow"
    options = s3s_server.options()
    info = fio.write(table, uri, compression="lz4", storage_options=options)
    assert info.raw_bytes >= 200 * MIB
    assert info.parts == math.ceil(info.stored_bytes / DEFAULT_PART_SIZE) > 1
    assert fio.read(uri, storage_options=options).equals(table)
    rows = sum(batch.num_rows for batch in fio.read_batches(uri, storage_options=options))
    assert rows == table.num_rows


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_parts_in_flight_never_exceed_max_concurrency(
    s3s_server: S3Server, s3s_bucket: str, max_concurrency: int
) -> None:
    proxy = FaultProxy(s3s_server.port).start()
    try:
        table = random_table(2_000_000)  # about 42 MB, 9 parts of 5 MiB
        info = fio.write(
            table,
            f"s3://{s3s_bucket}/c.arrow",
            compression="none",
            storage_options=s3s_server.options(endpoint=proxy.endpoint),
            part_size=5 * MIB,
            max_concurrency=max_concurrency,
        )
    finally:
        proxy.stop()
    assert info.parts >= 8
    parts = [r for r in proxy.requests if r.is_part]
    assert len(parts) == info.parts
    lengths = sorted(r.body_length for r in parts)
    assert lengths[1:] == [5 * MIB] * (len(parts) - 1)
    assert 1 <= proxy.max_parts_in_flight <= max_concurrency
    if max_concurrency > 1:
        # The encoder outpaces one upload at a time, so the allowance is used.
        assert proxy.max_parts_in_flight > 1


FORK_SCRIPT = """
import json, os, sys
import pyarrow as pa
import dagster_fastio as fio

options, bucket = json.loads(sys.argv[1]), sys.argv[2]
table = pa.table({"n": list(range(100_000))})
# The parent builds its runtime and store client first, then forks.
fio.write(table, f"s3://{bucket}/parent.arrow", storage_options=options)
pid = os.fork()
if pid == 0:
    try:
        fio.write(table, f"s3://{bucket}/child.arrow", storage_options=options)
        ok = fio.read(f"s3://{bucket}/parent.arrow", storage_options=options).equals(table)
        os._exit(0 if ok else 3)
    except BaseException as error:
        print(repr(error), file=sys.stderr)
        os._exit(4)
_, status = os.waitpid(pid, 0)
fio.write(table, f"s3://{bucket}/after.arrow", storage_options=options)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_builds_its_own_runtime(s3s_server: S3Server, s3s_bucket: str) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, json.dumps(s3s_server.options()), s3s_bucket],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert s3s_server.keys(s3s_bucket) == ["after.arrow", "child.arrow", "parent.arrow"]


def rich_table(rows: int) -> pa.Table:
    """Nulls, strings, a dictionary, a list and a struct: columns of every buffer layout."""
    rng = np.random.default_rng(11)
    n = pa.array(np.arange(rows), mask=np.arange(rows) % 7 == 0)
    words = pa.array([f"w{i % 1000}" for i in range(rows)])
    lists = pa.array([[i, i + 1][: i % 3] for i in range(rows)], type=pa.list_(pa.int32()))
    pairs = pa.StructArray.from_arrays([pa.array(rng.random(rows)), words], names=["score", "word"])
    return pa.table(
        {
            "n": n,
            "big": rng.random(rows),
            "word": words,
            "kind": pa.array(
                ["a", "b", "c"] * (rows // 3) + ["a"] * (rows % 3)
            ).dictionary_encode(),
            "list": lists,
            "pair": pairs,
            "flag": pa.array(np.arange(rows) % 2 == 0),
        }
    )


@pytest.mark.parametrize("codec", ["zstd", "lz4", "none"])
def test_projected_reads_fetch_only_the_columns_bytes(
    s3s_server: S3Server, s3s_bucket: str, codec: str
) -> None:
    table = rich_table(600_000)
    uri = f"s3://{s3s_bucket}/rich-{codec}.arrow"
    info = fio.write(
        table, uri, compression=codec, storage_options=s3s_server.options(), chunk_rows=100_000
    )
    proxy = FaultProxy(s3s_server.port).start()
    try:
        options = s3s_server.options(endpoint=proxy.endpoint)
        for columns in (["n"], ["list", "flag"], ["pair"], ["kind", "word"], ["flag", "n"]):
            assert fio.read(uri, columns=columns, storage_options=options).equals(
                table.select(columns)
            ), columns
            batches = fio.read_batches(uri, columns=columns, storage_options=options)
            assert batches.read_all().equals(table.select(columns)), columns
        before = len(proxy.requests)
        fio.read(uri, columns=["n"], storage_options=options)
        fetched = sum(
            int(end) - int(start) + 1
            for request in proxy.requests[before:]
            if request.method == "GET"
            for start, end in [request.headers["range"].removeprefix("bytes=").split("-")]
        )
    finally:
        proxy.stop()
    # "big" alone (random doubles) is most of the file; "n" is a small part of it.
    assert fetched < info.stored_bytes * 0.35, (fetched, info.stored_bytes)


def test_a_missing_bucket_is_a_store_error_not_a_missing_object(
    s3_server: S3Server, bucket: str
) -> None:
    # Regression: a mistyped bucket read as FileNotFoundError, which an Optional input or
    # allow_missing_partitions takes for "not materialized yet".
    options = s3_server.options()
    with pytest.raises(StoreError, match="bucket or container does not exist"):
        fio.read("s3://no-such-bucket-here/t.arrow", storage_options=options)
    with pytest.raises(StoreError, match="bucket or container does not exist"):
        _core.object_exists("s3://no-such-bucket-here/t.arrow", options)
    # A missing object in a bucket that exists stays a FileNotFoundError.
    with pytest.raises(FileNotFoundError):
        fio.read(f"s3://{bucket}/absent.arrow", storage_options=options)
    assert not _core.object_exists(f"s3://{bucket}/absent.arrow", options)
