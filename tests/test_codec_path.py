"""The codec path: buffers decompressed by us into one aligned body, and compressed by us one by
one, checked against independent decoders (pyarrow's reader, polars', the zstandard package).
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import bitwise, tables

import dagster_fastio as fio
from dagster_fastio.io_manager import read_pickle

CODECS = ("zstd", "lz4")


def record_batch_bodies(data: bytes) -> list[pa.Buffer]:
    """The body of every record batch message of an IPC file, read by pyarrow's message reader."""
    # The schema message follows the magic and its padding (to 8 or 64 bytes, by writer).
    first = data.find(b"\xff\xff\xff\xff")
    reader = ipc.MessageReader.open_stream(pa.BufferReader(pa.py_buffer(data)[first:]))
    bodies = []
    while True:
        try:
            message = reader.read_next_message()
        except (StopIteration, OSError):  # the footer follows the last message
            return bodies
        if message is None:
            return bodies
        if message.type == "record batch":
            bodies.append(message.body)


# --- the same tables as pyarrow's reader, from every writer ----------------------------------

DIFFERENTIAL = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@DIFFERENTIAL
@given(table=tables(), codec=st.sampled_from(CODECS), chunk=st.integers(1, 200))
def test_pyarrow_files_read_as_pyarrow_reads_them(table: pa.Table, codec: str, chunk: int) -> None:
    sink = pa.BufferOutputStream()
    feather.write_feather(table, sink, compression=codec, chunksize=chunk)
    data = sink.getvalue()
    expected = feather.read_table(pa.BufferReader(data))
    assert bitwise(fio.decode(data)).equals(bitwise(expected))
    stream = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=codec)
    with ipc.new_stream(stream, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    assert bitwise(fio.decode(stream.getvalue())).equals(bitwise(expected))


@DIFFERENTIAL
@given(table=tables(), codec=st.sampled_from(CODECS), chunk=st.integers(1, 200))
def test_our_files_read_the_same_in_pyarrow(table: pa.Table, codec: str, chunk: int) -> None:
    data = fio.encode(table, compression=codec, chunk_rows=chunk)
    theirs = feather.read_table(pa.BufferReader(data))
    assert bitwise(theirs).equals(bitwise(table))
    assert bitwise(fio.decode(data)).equals(bitwise(theirs))


@pytest.mark.parametrize("codec", CODECS)
def test_flights_read_the_same_by_us_and_pyarrow(
    tmp_path: Path, flights: pa.Table, codec: str
) -> None:
    ours, theirs = tmp_path / "ours.arrow", tmp_path / "theirs.arrow"
    fio.write(flights, ours, compression=codec)
    feather.write_feather(flights, theirs, compression=codec)
    for path in (ours, theirs):
        read = fio.read(path)
        assert read.equals(feather.read_table(path))
        assert read.equals(flights)
    assert pl.read_ipc(ours).equals(pl.from_arrow(flights))


# --- raw buffers -----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_buffers_stored_raw_read_back_everywhere(tmp_path: Path, codec: str) -> None:
    rows = 200_000
    noise = np.random.default_rng(3).integers(-(2**63), 2**63 - 1, rows, dtype=np.int64)
    table = pa.table({"noise": noise, "steps": np.arange(rows) % 10})
    path = tmp_path / "raw.arrow"
    fio.write(table, path, compression=codec, chunk_rows=50_000)
    data = path.read_bytes()
    # Stored raw, the noise appears verbatim after a -1 prefix; compressed, it could not.
    first = noise[:50_000].tobytes()
    at = data.find(first[:4096])
    assert at > 8
    assert struct.unpack("<q", data[at - 8 : at]) == (-1,)
    assert len(data) < noise.nbytes + table["steps"].nbytes // 4
    assert feather.read_table(path).equals(table)
    assert pl.read_ipc(path).to_arrow().equals(table)
    assert fio.read(path).equals(table)


# --- zstandard as the reference decoder ------------------------------------------------------


def test_our_zstd_buffers_decode_with_zstandard() -> None:
    rows = 300_000
    ids = np.arange(rows, dtype=np.int64)
    values = np.sin(ids).round(2)
    table = pa.table({"id": ids, "value": values})
    data = bytes(fio.encode(table, compression="zstd", chunk_rows=rows))
    (body,) = record_batch_bodies(data)
    body = body.to_pybytes()
    decoded = []
    at = 0
    while at < len(body):
        (declared,) = struct.unpack("<q", body[at : at + 8])
        assert declared > 0, "these columns compress"
        stream = zstandard.ZstdDecompressor().decompressobj()
        plain = stream.decompress(body[at + 8 :])
        assert len(plain) == declared
        decoded.append(plain)
        consumed = len(body) - at - 8 - len(stream.unused_data)
        at = (at + 8 + consumed + 7) // 8 * 8
    # No nulls: each column is one data buffer.
    assert decoded == [ids.tobytes(), values.tobytes()]


def test_pickles_decode_with_zstandard(tmp_path: Path) -> None:
    import dagster as dg

    from dagster_fastio import FastIOManager

    value = {"model": list(range(50_000)), "name": "pickled"}

    @dg.asset(io_manager_key="io_manager")
    def thing() -> dict:
        return value

    result = dg.materialize(
        [thing], resources={"io_manager": FastIOManager(base_path=str(tmp_path))}
    )
    assert result.success
    (path,) = tmp_path.glob("thing*.pickle.zst")
    assert pickle.loads(zstandard.ZstdDecompressor().decompress(path.read_bytes())) == value
    assert read_pickle(path) == value


# --- damage aimed at the prefixes ------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_damaged_prefixes_are_corrupt_or_valid(codec: str) -> None:
    table = pa.table(
        {
            "n": np.arange(20_000) % 97,
            "s": [f"row {i % 301}" if i % 13 else None for i in range(20_000)],
        }
    )
    data = bytearray(fio.encode(table, compression=codec, chunk_rows=5000))
    (first, *_) = record_batch_bodies(bytes(data))
    start = bytes(data).find(first.to_pybytes()[:64])
    assert start > 0
    # Every 8-aligned spot of the first body that holds a plausible prefix is rewritten.
    offsets = [
        start + at
        for at in range(0, first.size - 8, 8)
        if 0 < struct.unpack("<q", first.to_pybytes()[at : at + 8])[0] < 1 << 24
    ]
    assert offsets
    outcomes = set()
    for offset in offsets:
        (declared,) = struct.unpack("<q", data[offset : offset + 8])
        for claim in (0, -1, declared - 1, declared + 1, declared * 3, 1 << 40):
            damaged = bytearray(data)
            damaged[offset : offset + 8] = struct.pack("<q", claim)
            try:
                result = fio.decode(bytes(damaged))
            except fio.CorruptFileError:
                outcomes.add("corrupt")
                continue
            result.validate(full=True)
            outcomes.add("table")
    assert "corrupt" in outcomes
