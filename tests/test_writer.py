"""Writing: the streaming writer, atomic replacement, WriteInfo, sources, GIL release, buffers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from dispositions import EXPECT_KEYBOARD_INTERRUPT, launched_ignoring

import dagster_fastio as fio

SCHEMA = pa.schema(
    [pa.field("id", pa.int64()), pa.field("name", pa.large_string()), pa.field("x", pa.float64())],
    metadata={"written_by": "test_writer"},
)


def _batch(start: int, rows: int) -> pa.RecordBatch:
    ids = np.arange(start, start + rows)
    return pa.record_batch(
        [pa.array(ids), pa.array([f"n{i}" for i in ids], pa.large_string()), pa.array(ids / 4)],
        schema=SCHEMA,
    )


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --- open_writer -----------------------------------------------------------------------------


def test_open_writer_writes_batches_tables_and_frames(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "streamed.arrow"
    frame = pd.DataFrame({"id": [900, 901], "name": ["p", "q"], "x": [0.5, 1.5]})
    frame_table = pa.Table.from_pandas(frame, preserve_index=False)
    assert [f.type for f in frame_table.schema] == [f.type for f in SCHEMA]

    with fio.open_writer(path, SCHEMA, compression=compression) as writer:
        assert isinstance(writer, fio.Writer)
        writer.write(_batch(0, 100))
        writer.write(_batch(100, 1))
        writer.write(pa.Table.from_batches([_batch(101, 50), _batch(151, 49)]))
        writer.write(pa.RecordBatchReader.from_batches(SCHEMA, [_batch(200, 300)]))
        writer.write(frame)
        assert not path.exists(), "the file must appear only once the writer closes"
        assert not writer.closed

    assert writer.closed
    expected = pa.concat_tables([pa.Table.from_batches([_batch(0, 500)]), frame_table.cast(SCHEMA)])
    result = fio.read(path)
    assert result.equals(expected)
    assert result.schema.equals(SCHEMA, check_metadata=True)
    assert pa.ipc.open_file(path).read_all().equals(expected)

    info = writer.info
    assert isinstance(info, fio.WriteInfo)
    assert info.rows == 502
    assert info.batches == ipc.open_file(path).num_record_batches
    assert info.stored_bytes == os.path.getsize(path)
    assert info.raw_bytes > 0
    assert info.parts == 1
    assert info.compression == compression
    assert info.uri == str(path)
    assert _leftovers(tmp_path, {"streamed.arrow"}) == []


def test_open_writer_close_returns_info_once(tmp_path: Path) -> None:
    writer = fio.open_writer(tmp_path / "w.arrow", SCHEMA)
    writer.write(_batch(0, 10))
    first = writer.close()
    assert writer.close() is first
    assert writer.info is first
    assert first.rows == 10
    with pytest.raises(ValueError, match="finished"):
        writer.write(_batch(10, 1))


def test_open_writer_with_no_batches_writes_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.arrow"
    with fio.open_writer(path, SCHEMA) as writer:
        pass
    assert writer.info is not None and writer.info.rows == 0
    result = fio.read(path)
    assert result.num_rows == 0
    assert result.schema.equals(SCHEMA, check_metadata=True)


def test_open_writer_accepts_chunk_rows(tmp_path: Path) -> None:
    path = tmp_path / "chunked.arrow"
    with fio.open_writer(path, SCHEMA, chunk_rows=100) as writer:
        writer.write(_batch(0, 1000))
    assert ipc.open_file(path).num_record_batches == 10
    assert fio.read(path).equals(pa.Table.from_batches([_batch(0, 1000)]))


class _Boom(Exception):
    pass


def test_exception_in_with_block_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "never.arrow"
    with pytest.raises(_Boom), fio.open_writer(path, SCHEMA) as writer:
        writer.write(_batch(0, 1000))
        raise _Boom
    assert writer.closed
    assert writer.info is None
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_exception_in_with_block_keeps_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "kept.arrow"
    fio.write(_batch(0, 10), path)
    before = path.read_bytes()
    with pytest.raises(_Boom), fio.open_writer(path, SCHEMA) as writer:
        writer.write(_batch(500, 2000))
        raise _Boom
    assert path.read_bytes() == before
    assert fio.read(path).equals(pa.Table.from_batches([_batch(0, 10)]))
    assert _leftovers(tmp_path, {"kept.arrow"}) == []


def test_abort_discards_everything(tmp_path: Path) -> None:
    path = tmp_path / "aborted.arrow"
    writer = fio.open_writer(path, SCHEMA)
    writer.write(_batch(0, 10))
    writer.abort()
    assert writer.closed
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        writer.close()


def test_mismatching_schema_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.arrow"
    wrong_type = pa.record_batch({"id": pa.array([1], pa.int32()), "name": ["a"], "x": [1.0]})
    missing_column = pa.record_batch({"id": [1], "name": pa.array(["a"], pa.large_string())})
    renamed = pa.record_batch(
        [pa.array([1]), pa.array(["a"], pa.large_string()), pa.array([1.0])],
        names=["id", "label", "x"],
    )
    for bad in (wrong_type, missing_column, renamed):
        with pytest.raises(ValueError, match="schema"), fio.open_writer(path, SCHEMA) as writer:
            writer.write(_batch(0, 5))
            writer.write(bad)
        assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_writer_schema_from_arrow_c_schema_exporter(tmp_path: Path) -> None:
    # Any object with __arrow_c_schema__ works, e.g. a pyarrow field's type holder or polars.
    class SchemaHolder:
        def __arrow_c_schema__(self) -> object:
            return SCHEMA.__arrow_c_schema__()

    path = tmp_path / "c_schema.arrow"
    with fio.open_writer(path, SchemaHolder()) as writer:
        writer.write(_batch(0, 3))
    assert fio.read(path).equals(pa.Table.from_batches([_batch(0, 3)]))


# --- write ---------------------------------------------------------------------------------


def test_write_returns_write_info(tmp_path: Path, compression: str) -> None:
    table = pa.table({"a": np.arange(50_000), "b": np.linspace(0, 1, 50_000)})
    path = tmp_path / "info.arrow"
    info = fio.write(table, path, compression=compression)
    assert isinstance(info, fio.WriteInfo)
    assert info.uri == str(path)
    assert info.rows == 50_000
    assert info.batches == ipc.open_file(path).num_record_batches >= 1
    assert info.raw_bytes == table.nbytes
    assert info.stored_bytes == os.path.getsize(path)
    assert info.parts == 1
    assert info.seconds > 0
    assert info.compression == compression
    assert info.compression_ratio == pytest.approx(info.raw_bytes / info.stored_bytes)
    assert info.throughput_mb_s > 0


def test_write_accepts_pathlike_and_string(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2]})
    fio.write(table, tmp_path / "p.arrow")
    fio.write(table, str(tmp_path / "s.arrow"))
    assert fio.read(tmp_path / "p.arrow").equals(table)
    assert fio.read(str(tmp_path / "s.arrow")).equals(table)


def test_write_replaces_existing_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "t.arrow"
    old = pa.table({"v": np.arange(10_000)})
    new = pa.table({"v": np.arange(10_000, 30_000), "w": np.zeros(20_000)})
    fio.write(old, path)
    old_bytes = path.read_bytes()
    old_inode = path.stat().st_ino

    with open(path, "rb") as reader_of_old:
        info = fio.write(new, path)
        # A reader that opened the file before the replacement still sees the whole old file.
        assert reader_of_old.read() == old_bytes

    assert path.stat().st_ino != old_inode, "the file was rewritten in place, not replaced"
    assert info.stored_bytes == os.path.getsize(path)
    assert fio.read(path).equals(new)
    assert _leftovers(tmp_path, {"t.arrow"}) == []


def test_failed_write_keeps_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "t.arrow"
    fio.write(pa.table({"v": [1, 2, 3]}), path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        fio.write(pa.table({"v": [1]}), path, compression="brotli")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fio.write({"not", "a", "table"}, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"t.arrow"}) == []


def test_write_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "deep.arrow"
    table = pa.table({"a": ["x", "y"]})
    info = fio.write(table, path)
    assert path.is_file()
    assert info.stored_bytes == os.path.getsize(path)
    assert fio.read(path).equals(table)
    assert [p.name for p in path.parent.iterdir()] == ["deep.arrow"]


def test_file_uris(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, 3]})
    uri = f"file://{tmp_path}/sub/u.arrow"
    info = fio.write(table, uri)
    assert info.uri == uri
    assert (tmp_path / "sub" / "u.arrow").is_file()
    assert fio.read(uri).equals(table)
    assert fio.read(tmp_path / "sub" / "u.arrow").equals(table)
    assert fio.read_batches(uri).read_all().equals(table)
    with fio.open_writer(f"file://{tmp_path}/w.arrow", table.schema) as writer:
        writer.write(table)
    assert fio.read(tmp_path / "w.arrow").equals(table)


def test_write_accepts_record_batch_and_c_stream_exporters(tmp_path: Path) -> None:
    batch = _batch(0, 20)
    fio.write(batch, tmp_path / "batch.arrow")
    assert fio.read(tmp_path / "batch.arrow").equals(pa.Table.from_batches([batch]))

    class StreamOnly:
        def __arrow_c_stream__(self, requested_schema: object = None) -> object:
            return pa.Table.from_batches([batch]).__arrow_c_stream__(requested_schema)

    fio.write(StreamOnly(), tmp_path / "stream.arrow")
    assert fio.read(tmp_path / "stream.arrow").equals(pa.Table.from_batches([batch]))


def test_record_batch_reader_from_generator_streams_in(tmp_path: Path) -> None:
    produced: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(40):
            produced.append(i)
            yield _batch(i * 250, 250)

    reader = pa.RecordBatchReader.from_batches(SCHEMA, batches())
    assert produced == [], "the generator must be consumed by write, not before"
    info = fio.write(reader, tmp_path / "gen.arrow", chunk_rows=1000)
    assert produced == list(range(40))
    assert info.rows == 10_000
    assert info.batches == 10
    result = fio.read(tmp_path / "gen.arrow")
    assert result.equals(pa.Table.from_batches([_batch(0, 10_000)]))
    assert result.schema.equals(SCHEMA, check_metadata=True)


def test_generator_raising_mid_stream_leaves_no_file(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        yield _batch(0, 1000)
        yield _batch(1000, 1000)
        raise RuntimeError("source went away")

    path = tmp_path / "partial.arrow"
    reader = pa.RecordBatchReader.from_batches(SCHEMA, batches())
    with pytest.raises(Exception, match="source went away") as caught:
        fio.write(reader, path, chunk_rows=500)
    assert isinstance(caught.value, (fio.FastIOError, RuntimeError))
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_generator_raising_keeps_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "kept.arrow"
    fio.write(_batch(0, 3), path)
    before = path.read_bytes()

    def batches() -> Iterator[pa.RecordBatch]:
        yield _batch(0, 1000)
        raise RuntimeError("source went away")

    with pytest.raises(Exception, match="source went away"):
        fio.write(pa.RecordBatchReader.from_batches(SCHEMA, batches()), path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"kept.arrow"}) == []


def test_fsync_option_writes_the_same_file(tmp_path: Path) -> None:
    table = pa.table({"a": np.arange(1000)})
    fio.write(table, tmp_path / "plain.arrow", fsync=False)
    fio.write(table, tmp_path / "synced.arrow", fsync=True)
    assert (tmp_path / "plain.arrow").read_bytes() == (tmp_path / "synced.arrow").read_bytes()


# --- GIL -------------------------------------------------------------------------------------


def test_encode_releases_the_gil() -> None:
    rows = 6_250_000  # two 8-byte columns: 100 MB
    rng = np.random.default_rng(1)
    table = pa.table({"k": rng.integers(0, 1000, rows), "x": rng.random(rows)})
    assert table.nbytes >= 100_000_000

    counter = 0
    started = threading.Event()
    stop = threading.Event()

    def spin() -> None:
        nonlocal counter
        started.set()
        while not stop.is_set():
            counter += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    started.wait()
    try:
        before = counter
        encoded = fio.encode(table, compression="zstd")
        after = counter
    finally:
        stop.set()
        thread.join()

    # Holding the GIL for the whole call would let the thread run for at most a switch
    # interval or two (a few thousand increments); released, it runs throughout the encoding.
    assert after - before > 100_000, f"the counter only moved by {after - before}"
    assert fio.decode(encoded).equals(table)


def test_read_releases_the_gil(tmp_path: Path) -> None:
    rows = 6_250_000
    rng = np.random.default_rng(2)
    table = pa.table({"k": rng.integers(0, 1000, rows), "x": rng.random(rows)})
    path = tmp_path / "big.arrow"
    fio.write(table, path, compression="zstd")

    counter = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        before = counter
        result = fio.read(path)
        after = counter
    finally:
        stop.set()
        thread.join()
    assert after - before > 100_000, f"the counter only moved by {after - before}"
    assert result.equals(table)


# --- buffers ----------------------------------------------------------------------------------


def test_encode_returns_a_buffer_usable_as_bytes() -> None:
    table = pa.table({"a": np.arange(1000), "s": [str(i) for i in range(1000)]})
    buffer = fio.encode(table)
    assert isinstance(buffer, pa.Buffer)
    as_bytes = bytes(buffer)
    view = memoryview(buffer)
    assert len(as_bytes) == buffer.size == view.nbytes > 0
    assert view.tobytes() == as_bytes
    assert as_bytes[:6] == b"ARROW1"
    assert as_bytes[-6:] == b"ARROW1"
    assert buffer.to_pybytes() == as_bytes


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "pa.Buffer", "numpy"])
def test_decode_accepts_bytes_like_objects(kind: str, compression: str) -> None:
    table = pa.table({"a": np.arange(1000), "s": [str(i) for i in range(1000)]})
    encoded = fio.encode(table, compression=compression)
    raw = bytes(encoded)
    source = {
        "bytes": lambda: raw,
        "bytearray": lambda: bytearray(raw),
        "memoryview": lambda: memoryview(raw),
        "pa.Buffer": lambda: encoded,
        "numpy": lambda: np.frombuffer(raw, dtype=np.uint8),
    }[kind]()
    assert fio.decode(source).equals(table)


def test_decode_of_a_memoryview_slice(compression: str) -> None:
    table = pa.table({"a": np.arange(100)})
    raw = bytes(fio.encode(table, compression=compression))
    padded = b"junk" + raw + b"more junk"
    assert fio.decode(memoryview(padded)[4 : 4 + len(raw)]).equals(table)


def test_decoded_table_outlives_its_source() -> None:
    table = pa.table({"a": np.arange(10_000)})
    source = bytearray(bytes(fio.encode(table, compression="none")))
    result = fio.decode(source)
    del source
    assert result.equals(table)


def test_written_file_equals_encoded_bytes(tmp_path: Path, compression: str) -> None:
    # encode and write share one encoder: same bytes for the same input and options.
    table = pa.table({"a": np.arange(5000), "s": [str(i % 13) for i in range(5000)]})
    fio.write(table, tmp_path / "t.arrow", compression=compression, chunk_rows=1000)
    encoded = fio.encode(table, compression=compression, chunk_rows=1000)
    assert (tmp_path / "t.arrow").read_bytes() == bytes(encoded)


def test_a_source_failing_mid_write_fails_the_writer_and_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.arrow"
    table = pa.table({"x": list(range(50_000))})
    fio.write(table, path)
    schema = table.schema

    def batches():
        yield from table.to_batches(max_chunksize=5_000)[:3]
        raise RuntimeError("source broke")

    writer = fio.open_writer(path, schema, chunk_rows=1_000)
    with pytest.raises(Exception, match="source broke"):
        writer.write(pa.RecordBatchReader.from_batches(schema, batches()))
    # Batches may sit half-written in the pipeline: finishing must be refused, not committed.
    with pytest.raises(ValueError, match="failed earlier"):
        writer.close()
    assert fio.read(path).equals(table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.arrow"]


def test_closed_does_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    release = threading.Event()
    started = threading.Event()

    def batches():
        started.set()
        release.wait(30)
        yield pa.record_batch({"x": [1, 2, 3]}, schema=schema)

    writer = fio.open_writer(tmp_path / "t.arrow", schema)
    worker = threading.Thread(
        target=writer.write, args=(pa.RecordBatchReader.from_batches(schema, batches()),)
    )
    worker.start()
    assert started.wait(30)
    # The write holds the native lock and waits for the GIL to pull the next batch; asking
    # for `closed` meanwhile used to deadlock.
    assert writer.closed is False
    release.set()
    worker.join(30)
    assert not worker.is_alive()
    assert writer.close().rows == 3
    assert writer.closed is True


@pytest.mark.parametrize(
    ("name", "value"), [("chunk_rows", -1), ("chunk_rows", 0), ("level", 2**40)]
)
def test_out_of_range_numbers_are_value_errors(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name.split("_")[0]):
        fio.encode(pa.table({"x": [1]}), **{name: value})


@pytest.mark.parametrize("name", ["chunk_rows", "level", "part_size", "max_concurrency"])
@pytest.mark.parametrize("value", [2**63, 2**64, -(2**70)])
def test_integers_beyond_64_bits_are_value_errors_naming_the_argument(
    tmp_path: Path, name: str, value: int
) -> None:
    # Regression: pyo3's conversion raised a bare OverflowError naming no argument.
    with pytest.raises(ValueError, match=rf"{name.split('_')[0]}.*{value}") as raised:
        fio.write(pa.table({"x": [1]}), tmp_path / "t.arrow", **{name: value})
    assert not isinstance(raised.value, OverflowError)
    assert not (tmp_path / "t.arrow").exists()


_INTERRUPT_SCRIPT = (
    EXPECT_KEYBOARD_INTERRUPT
    + """
import json, os, signal, sys, threading, time
import numpy as np, pyarrow as pa
import dagster_fastio as fio

folder = sys.argv[1]
target = os.path.join(folder, "t.arrow")
table = pa.table({"x": np.random.default_rng(1).integers(0, 1000, 8_000_000)})
fio.write(pa.table({"x": [7]}), target)  # the previous version
start = time.perf_counter()
fio.write(table, os.path.join(folder, "whole.arrow"), compression="zstd", level=12)
whole = time.perf_counter() - start

def interrupt():
    time.sleep(whole / 10)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt).start()
start = time.perf_counter()
try:
    fio.write(table, target, compression="zstd", level=12)
    outcome = "finished"
except KeyboardInterrupt:
    outcome = "interrupted"
print(json.dumps({
    "outcome": outcome,
    "whole": whole,
    "took": time.perf_counter() - start,
    "rows": fio.read(target).num_rows,
    "files": sorted(os.listdir(folder)),
}))
"""
)


@pytest.mark.parametrize("ignored", [(), (signal.SIGINT,)], ids=["foreground", "background"])
def test_ctrl_c_stops_a_write_between_batches_and_keeps_the_previous_version(
    tmp_path: Path, ignored: tuple[signal.Signals, ...]
) -> None:
    # Regression: a SIGINT 0.3 s into a long write took effect at its end, after the new
    # version had been published. Dagster terminates runs with SIGINT.
    # Regression: started from a background job, the child inherited SIGINT ignored and went
    # on to "finished"; the script now sets the handler it relies on, as Dagster's step
    # processes have it. "background" starts it with SIGINT ignored.
    done = subprocess.run(
        launched_ignoring(ignored, [sys.executable, "-c", _INTERRUPT_SCRIPT, str(tmp_path)]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "interrupted"
    assert result["rows"] == 1, "the previous version must stay"
    assert result["files"] == ["t.arrow", "whole.arrow"], "no temporary file is left"
    # It stopped at a batch boundary, not at the end: well before a whole write's time.
    assert result["took"] < result["whole"] * 0.6, result


def test_one_list_of_compression_names() -> None:
    # The core's names are the API's Literal, the manager's config check and the CLI's choices;
    # aliases the core once took ("lz4_frame", "uncompressed") are refused everywhere alike.
    import typing

    from dagster_fastio import _core
    from dagster_fastio.api import COMPRESSIONS, Compression

    assert COMPRESSIONS == tuple(_core.COMPRESSIONS) == typing.get_args(Compression)
    for alias in ("lz4_frame", "uncompressed"):
        with pytest.raises(ValueError, match="'zstd', 'lz4' or 'none'"):
            fio.encode(pa.table({"x": [1]}), compression=alias)  # type: ignore[arg-type]
    assert fio.decode(fio.encode(pa.table({"x": [1]}), compression="LZ4")).num_rows == 1  # type: ignore[arg-type]


def test_write_options_are_keyword_only_in_one_order() -> None:
    import inspect

    from dagster_fastio.api import Writer

    order = [
        "compression",
        "level",
        "chunk_rows",
        "chunk_bytes",
        "fsync",
        "storage_options",
        "part_size",
        "max_concurrency",
        "metadata",
        "content_hash",
        "statistics",
        "format",
        "compat",
    ]
    for function, leading in (
        (fio.write, ["data", "uri"]),
        (fio.open_writer, ["uri", "schema"]),
        (Writer.__init__, ["self", "uri", "schema"]),
        (fio.encode, ["data"]),
    ):
        parameters = list(inspect.signature(function).parameters.values())
        assert [p.name for p in parameters[: len(leading)]] == leading
        options = parameters[len(leading) :]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options), function
        names = [p.name for p in options]
        assert names == [name for name in order if name in names], function
    with pytest.raises(TypeError):
        fio.write(pa.table({"x": [1]}), "memory://b/t.arrow", "lz4")  # type: ignore[misc]
