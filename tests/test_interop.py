"""Our files in pyarrow and polars; their files in ours; zero-copy reads of uncompressed files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest

import dagster_fastio as fio

PYARROW_CODECS = {"zstd": "zstd", "lz4": "lz4", "none": "uncompressed"}


@pytest.fixture(scope="module")
def mixed(flights: pa.Table) -> pa.Table:
    """Real columns (ints with nulls, strings, tz timestamps) plus nested and dictionary ones."""
    table = flights.slice(1000, 40_000)
    rows = table.num_rows
    rng = np.random.default_rng(7)
    extra = {
        "ratio": pa.array(rng.standard_normal(rows), type=pa.float64()),
        "small": pa.array(rng.integers(-100, 100, rows).astype(np.int8)),
        "flag": pa.array(rng.random(rows) < 0.3),
        "flight_date": pa.array(
            [dt.date(2013, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, rows)]
        ),
        "tags": pa.array(
            [None if i % 11 == 0 else [f"t{j}" for j in range(i % 4)] for i in range(rows)],
            type=pa.list_(pa.string()),
        ),
        "point": pa.array(
            [{"x": float(i), "y": None if i % 5 == 0 else i} for i in range(rows)],
            type=pa.struct([("x", pa.float64()), ("y", pa.int32())]),
        ),
        "origin_dict": table.column("origin").dictionary_encode(),
    }
    for name, column in extra.items():
        table = table.append_column(name, column)
    return table.combine_chunks().replace_schema_metadata({"made_by": "test_interop"})


# --- our files, their readers --------------------------------------------------------------


@pytest.fixture()
def our_file(tmp_path: Path, mixed: pa.Table, compression: str) -> Path:
    path = tmp_path / f"ours_{compression}.arrow"
    fio.write(mixed, path, compression=compression, chunk_rows=7000)
    return path


def test_pyarrow_feather_reads_our_file(our_file: Path, mixed: pa.Table) -> None:
    result = feather.read_table(our_file)
    assert result.equals(mixed)
    assert result.schema.equals(mixed.schema, check_metadata=True)
    assert result.column("origin_dict").type == mixed.column("origin_dict").type


def test_pyarrow_ipc_open_file_reads_our_file(our_file: Path, mixed: pa.Table) -> None:
    with pa.memory_map(str(our_file)) as source:
        reader = ipc.open_file(source)
        assert reader.num_record_batches == 6  # 40,000 rows in batches of about 7,000
        assert reader.schema.equals(mixed.schema, check_metadata=True)
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        result = pa.Table.from_batches(batches, schema=reader.schema)
        for batch in batches:
            batch.validate(full=True)
        assert result.equals(mixed)


def test_pyarrow_reads_our_in_memory_buffer(mixed: pa.Table, compression: str) -> None:
    buffer = fio.encode(mixed, compression=compression)
    assert ipc.open_file(buffer).read_all().equals(mixed)
    assert feather.read_table(pa.BufferReader(buffer)).equals(mixed)


def test_polars_read_ipc_reads_our_file(our_file: Path, mixed: pa.Table) -> None:
    expected = pl.from_arrow(mixed)
    assert isinstance(expected, pl.DataFrame)
    result = pl.read_ipc(our_file)
    plt.assert_frame_equal(result, expected)
    assert result.height == mixed.num_rows


def test_polars_scan_ipc_reads_our_file_lazily(our_file: Path, mixed: pa.Table) -> None:
    result = pl.scan_ipc(our_file).select("carrier", "dep_delay").filter(pl.col("dep_delay") > 60)
    expected = pl.from_arrow(mixed.select(["carrier", "dep_delay"]))
    assert isinstance(expected, pl.DataFrame)
    plt.assert_frame_equal(result.collect(), expected.filter(pl.col("dep_delay") > 60))


# --- their files, our reader -----------------------------------------------------------------


def _assert_we_read(path: Path, expected: pa.Table) -> None:
    from_file = fio.read(path)
    from_bytes = fio.decode(path.read_bytes())
    from_batches = fio.read_batches(path).read_all()
    for result in (from_file, from_bytes, from_batches):
        assert result.schema.equals(expected.schema, check_metadata=True)
        assert result.equals(expected)


def test_we_read_pyarrow_feather(tmp_path: Path, mixed: pa.Table, compression: str) -> None:
    path = tmp_path / "pyarrow.feather"
    feather.write_feather(mixed, path, compression=PYARROW_CODECS[compression], chunksize=9000)
    _assert_we_read(path, mixed)


def test_we_read_pyarrow_ipc_file(tmp_path: Path, mixed: pa.Table, compression: str) -> None:
    path = tmp_path / "pyarrow_file.arrow"
    options = ipc.IpcWriteOptions(compression=None if compression == "none" else compression)
    with ipc.new_file(path, mixed.schema, options=options) as writer:
        for batch in mixed.to_batches(max_chunksize=6000):
            writer.write_batch(batch)
    _assert_we_read(path, mixed)


def test_we_read_pyarrow_ipc_stream(tmp_path: Path, mixed: pa.Table, compression: str) -> None:
    path = tmp_path / "pyarrow.arrows"
    options = ipc.IpcWriteOptions(compression=None if compression == "none" else compression)
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, mixed.schema, options=options) as writer:
        for batch in mixed.to_batches(max_chunksize=5000):
            writer.write_batch(batch)
    stream = sink.getvalue()
    path.write_bytes(stream.to_pybytes())
    _assert_we_read(path, mixed)
    assert fio.decode(stream).equals(mixed)


def test_we_read_pyarrow_stream_with_dictionary_deltas(tmp_path: Path) -> None:
    # The stream format (unlike the file format) may replace dictionaries between batches.
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    first = pa.record_batch([pa.array(["a", "b"]).dictionary_encode()], schema=schema)
    second = pa.record_batch([pa.array(["c", "a"]).dictionary_encode()], schema=schema)
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(emit_dictionary_deltas=False)
    with ipc.new_stream(sink, schema, options=options) as writer:
        writer.write_batch(first)
        writer.write_batch(second)
    result = fio.decode(sink.getvalue())
    assert result.column("d").to_pylist() == ["a", "b", "c", "a"]


@pytest.fixture(scope="module")
def polars_frame(mixed: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(mixed)
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_we_read_polars_write_ipc(
    tmp_path: Path, polars_frame: pl.DataFrame, compression: str
) -> None:
    path = tmp_path / "polars.arrow"
    polars_frame.write_ipc(path, compression=PYARROW_CODECS[compression])
    for table in (fio.read(path), fio.decode(path.read_bytes())):
        back = pl.from_arrow(table)
        assert isinstance(back, pl.DataFrame)
        plt.assert_frame_equal(back, polars_frame)


def test_we_read_polars_write_ipc_stream(
    tmp_path: Path, polars_frame: pl.DataFrame, compression: str
) -> None:
    path = tmp_path / "polars.arrows"
    polars_frame.write_ipc_stream(path, compression=PYARROW_CODECS[compression])
    for table in (fio.read(path), fio.decode(path.read_bytes())):
        back = pl.from_arrow(table)
        assert isinstance(back, pl.DataFrame)
        plt.assert_frame_equal(back, polars_frame)


def test_we_read_polars_empty_frame(tmp_path: Path) -> None:
    frame = pl.DataFrame(schema={"a": pl.Int64, "s": pl.String, "l": pl.List(pl.Float32)})
    path = tmp_path / "empty.arrow"
    frame.write_ipc(path)
    back = pl.from_arrow(fio.read(path))
    assert isinstance(back, pl.DataFrame)
    plt.assert_frame_equal(back, frame)


# --- zero copy -------------------------------------------------------------------------------


def _mappings_of(path: Path) -> list[tuple[int, int]]:
    """Address ranges at which this process has ``path`` memory-mapped (Linux)."""
    target = os.path.realpath(path)
    ranges = []
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].rstrip("\n") == target:
                start, end = fields[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _buffer_addresses(table: pa.Table) -> list[int]:
    return [
        buffer.address
        for column in table.columns
        for chunk in column.chunks
        for buffer in chunk.buffers()
        if buffer is not None and buffer.size > 0
    ]


def test_uncompressed_read_is_zero_copy(tmp_path: Path) -> None:
    rows = 4_000_000  # 64 MB of int64 and float64
    rng = np.random.default_rng(3)
    table = pa.table({"n": np.arange(rows), "x": rng.random(rows)})
    assert table.nbytes >= 50_000_000
    path = tmp_path / "plain.arrow"
    fio.write(table, path, compression="none")

    result = fio.read(path, memory_map=True)

    ranges = _mappings_of(path)
    assert ranges, "the uncompressed file is not memory-mapped while its table is alive"
    addresses = _buffer_addresses(result)
    assert len(addresses) >= 2 * result.column("n").num_chunks
    outside = [a for a in addresses if not any(lo <= a < hi for lo, hi in ranges)]
    assert not outside, f"{len(outside)} of {len(addresses)} buffers were copied out of the file"
    assert result.equals(table)


def test_default_read_copies_out_of_the_file(tmp_path: Path) -> None:
    # Safe by default: no page of the file stays mapped, so an in-place rewrite by another
    # program cannot take the process down (see test_bad_input's rewrite test).
    table = pa.table({"n": np.arange(2_000_000)})
    path = tmp_path / "plain.arrow"
    fio.write(table, path, compression="none")
    for result in (fio.read(path), fio.read_batches(path).read_all()):
        assert not _mappings_of(path)
        assert result.equals(table)


def test_compressed_read_decodes_into_memory(tmp_path: Path) -> None:
    # The counterpart: decompressed buffers cannot live in the file's pages.
    table = pa.table({"n": np.arange(1_000_000)})
    path = tmp_path / "packed.arrow"
    fio.write(table, path, compression="zstd")
    result = fio.read(path, memory_map=True)
    ranges = _mappings_of(path)
    addresses = _buffer_addresses(result)
    assert addresses
    assert not [a for a in addresses if any(lo <= a < hi for lo, hi in ranges)]
    assert result.equals(table)


def test_uncompressed_decode_points_into_the_input() -> None:
    table = pa.table({"n": np.arange(100_000), "s": [str(i) for i in range(100_000)]})
    encoded = fio.encode(table, compression="none")
    source = pa.py_buffer(bytes(encoded))
    result = fio.decode(source)
    start, end = source.address, source.address + source.size
    addresses = _buffer_addresses(result)
    assert addresses
    assert all(start <= a < end for a in addresses)
    assert result.equals(table)
