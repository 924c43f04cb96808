"""Parquet in the standalone API: round trips against pyarrow, polars and DuckDB in both
directions, codecs, projection, row-group pruning by filters, damaged files, atomic writes,
and ranged reads from S3."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
from pathlib import Path

import duckdb
import hypothesis.strategies as st
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from servers import FaultProxy, S3Server

import dagster_fastio as fio
from dagster_fastio import CorruptFileError, api

# pyarrow names LZ4_RAW, the codec written for "lz4", LZ4.
CODECS = {
    "zstd": "ZSTD",
    "snappy": "SNAPPY",
    "lz4": "LZ4",
    "gzip": "GZIP",
    "brotli": "BROTLI",
    "none": "UNCOMPRESSED",
}


def typed_table(rows: int = 5000) -> pa.Table:
    """One column of each type a Parquet file holds, with nulls."""
    every = range(rows)
    zone = dt.timezone.utc
    return pa.table(
        {
            "i8": pa.array([i % 100 - 50 for i in every], pa.int8()),
            "u64": pa.array([2**63 + i for i in every], pa.uint64()),
            "i64": pa.array([None if i % 7 == 0 else i * 3 for i in every], pa.int64()),
            "f32": pa.array([i / 3 for i in every], pa.float32()),
            "f64": pa.array([None if i % 11 == 0 else i * 0.25 for i in every]),
            "flag": pa.array([i % 3 == 0 for i in every]),
            "text": pa.array([None if i % 13 == 0 else f"row {i % 257}" for i in every]),
            "large": pa.array([f"value-{i}" * (i % 4) for i in every], pa.large_string()),
            "view": pa.array([f"a longer view value {i}" for i in every], pa.string_view()),
            "blob": pa.array([bytes([i % 256]) * (i % 5) for i in every], pa.binary()),
            "category": pa.array(
                [("red", "green", "blue")[i % 3] for i in every]
            ).dictionary_encode(),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 400) for i in every]),
            "at": pa.array(
                [dt.datetime(2024, 3, 1, tzinfo=zone) + dt.timedelta(seconds=i) for i in every],
                pa.timestamp("us", "Europe/Paris"),
            ),
            "naive": pa.array(
                [dt.datetime(2020, 1, 1) + dt.timedelta(minutes=i) for i in every],
                pa.timestamp("ns"),
            ),
            "amount": pa.array([decimal.Decimal(i) / 100 for i in every], pa.decimal128(12, 2)),
            "items": pa.array([list(range(i % 4)) or None for i in every]),
            "point": pa.array([{"x": i, "y": f"y{i}"} for i in every]),
        }
    )


def test_round_trip_keeps_every_type_and_other_readers_agree(tmp_path: Path) -> None:
    table = typed_table()
    path = tmp_path / "typed.parquet"
    info = fio.write(table, path)
    assert info.format == "parquet" and info.rows == table.num_rows
    assert info.stored_bytes == path.stat().st_size
    assert fio.read(path).equals(table)
    assert pq.read_table(path).equals(table)
    assert pl.read_parquet(path).shape == (table.num_rows, table.num_columns)
    assert pl.read_parquet(path)["i64"].sum() == pc.sum(table["i64"]).as_py()
    count, total = duckdb.sql(f"SELECT count(*), sum(i64) FROM '{path}'").fetchall()[0]
    assert (count, total) == (table.num_rows, pc.sum(table["i64"]).as_py())


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_each_codec_is_recorded_in_the_file(tmp_path: Path, codec: str) -> None:
    table = typed_table(2000)
    path = tmp_path / f"{codec}.parquet"
    fio.write(table, path, compression=codec)
    metadata = pq.ParquetFile(path).metadata
    codecs = {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)}
    assert codecs == {CODECS[codec]}
    assert fio.read(path).equals(table)
    footer = api.read_footer(path)
    assert footer.format == "parquet" and footer.compression == codec
    assert footer.rows == table.num_rows


def test_zstd_levels_and_refused_options(tmp_path: Path) -> None:
    table = typed_table(20_000)
    small = fio.write(table, tmp_path / "l19.parquet", level=19).stored_bytes
    fast = fio.write(table, tmp_path / "l1.parquet", level=1).stored_bytes
    assert small < fast
    with pytest.raises(ValueError, match="expected 1 to 22"):
        fio.write(table, tmp_path / "bad.parquet", level=30)
    with pytest.raises(ValueError, match="applies to zstd, gzip and brotli only"):
        fio.write(table, tmp_path / "bad.parquet", compression="snappy", level=3)
    with pytest.raises(ValueError, match="unknown Parquet compression"):
        fio.write(table, tmp_path / "bad.parquet", compression="lzo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        fio.write(table, tmp_path / "bad.parquet", format="orc")  # type: ignore[arg-type]
    assert not list(tmp_path.glob("bad*")) and not list(tmp_path.glob(".*tmp"))


def test_the_format_follows_the_suffix_unless_named(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, 3]})
    fio.write(table, tmp_path / "t.parquet")
    fio.write(table, tmp_path / "t.arrow")
    fio.write(table, tmp_path / "named.bin", format="parquet")
    assert (tmp_path / "t.parquet").read_bytes()[:4] == b"PAR1"
    assert (tmp_path / "t.arrow").read_bytes()[:6] == b"ARROW1"
    assert (tmp_path / "named.bin").read_bytes()[-4:] == b"PAR1"
    assert fio.read(tmp_path / "named.bin", format="parquet").equals(table)
    # Read as IPC, a Parquet file is a clear error, not garbage.
    with pytest.raises(CorruptFileError):
        fio.read(tmp_path / "named.bin")


def test_pandas_round_trip_keeps_index_and_dtypes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": pd.Series(["a", None, "c"], dtype="str"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "kind": pd.Categorical(["x", "y", "x"]),
            "when": pd.to_datetime(["2024-01-01", "2024-06-01", "2025-01-01"]).tz_localize(
                "America/New_York"
            ),
            "ratio": [0.5, 1.5, 2.5],
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    path = tmp_path / "frame.parquet"
    fio.write(frame, path)
    back = fio.read(path).to_pandas()
    pd.testing.assert_frame_equal(back, frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_polars_frames_keep_their_types(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "s": ["a", "b", None],
            "c": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "l": [[1, 2], [], None],
            "d": [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)],
            "u": pl.Series([1, 2, 3], dtype=pl.UInt16),
        }
    )
    path = tmp_path / "polars.parquet"
    fio.write(frame, path)
    back = pl.from_arrow(fio.read(path))
    assert isinstance(back, pl.DataFrame)
    assert back.to_dicts() == frame.to_dicts()
    assert back.schema["u"] == pl.UInt16 and back.schema["l"] == pl.List(pl.Int64)
    assert pl.read_parquet(path).to_dicts() == frame.to_dicts()


def test_files_of_other_writers_are_read(tmp_path: Path) -> None:
    table = typed_table(30_000).drop_columns(["view"])
    by_pyarrow = tmp_path / "pyarrow.parquet"
    pq.write_table(table, by_pyarrow, row_group_size=7_000, compression="snappy")
    assert fio.read(by_pyarrow).equals(pq.read_table(by_pyarrow))
    by_polars = tmp_path / "polars.parquet"
    pl.from_arrow(table.drop_columns(["category"])).write_parquet(by_polars, row_group_size=9_000)  # type: ignore[union-attr]
    assert fio.read(by_polars).equals(pq.read_table(by_polars))
    by_duckdb = tmp_path / "duckdb.parquet"
    duckdb.sql(
        "SELECT i AS id, 'k' || (i % 9) AS key, i * 0.5 AS half, "
        "DATE '2024-01-01' + CAST(i % 30 AS INTEGER) AS day FROM range(100000) t(i)"
    ).write_parquet(str(by_duckdb), compression="zstd")
    ours, theirs = fio.read(by_duckdb), pq.read_table(by_duckdb)
    assert ours.equals(theirs) and ours.num_rows == 100_000


def test_projection_reads_the_named_columns_in_their_order(tmp_path: Path) -> None:
    table = typed_table()
    path = tmp_path / "t.parquet"
    fio.write(table, path)
    got = fio.read(path, columns=["text", "i64", "point"])
    assert got.column_names == ["text", "i64", "point"]
    assert got.equals(table.select(["text", "i64", "point"]))
    assert fio.read(path, columns=[]).num_rows == table.num_rows
    with pytest.raises(ValueError, match='no column named "nope"'):
        fio.read(path, columns=["nope"])


def many_row_groups(path: Path, rows: int = 100_000, per_group: int = 10_000) -> pa.Table:
    table = pa.table(
        {
            "id": pa.array(range(rows)),
            "day": pa.array(
                [dt.date(2024, 1, 1) + dt.timedelta(days=i // 1000) for i in range(rows)]
            ),
            "name": pa.array([f"n{i // per_group:03d}" for i in range(rows)]),
            "value": pa.array([i * 0.5 for i in range(rows)]),
        }
    )
    fio.write(table, path, chunk_rows=per_group)
    assert pq.ParquetFile(path).metadata.num_row_groups == rows // per_group
    return table


@pytest.mark.parametrize(
    "filters",
    [
        [("id", ">=", 95_000)],
        [("id", "<", 5)],
        [("name", "==", "n004")],
        [("day", ">", dt.date(2024, 3, 1)), ("value", "<=", 45_000.0)],
        [("id", "!=", 3)],
    ],
)
def test_filters_choose_row_groups_and_rows_as_pyarrow_does(
    tmp_path: Path, filters: list[tuple[str, str, object]]
) -> None:
    path = tmp_path / "groups.parquet"
    many_row_groups(path)
    expected = pq.read_table(path, filters=filters)
    got = fio.read(path, filters=filters)
    assert got.equals(expected)
    batches = list(fio.read_batches(path, filters=filters))
    assert pa.Table.from_batches(batches, got.schema).equals(expected)


def test_row_groups_a_filter_rules_out_are_never_read(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    table = many_row_groups(path)
    # One batch per row group read: the statistics rule out nine of the ten.
    batches = list(fio.read_batches(path, filters=[("id", ">=", 95_000)]))
    assert len(batches) == 1
    # Damage a column chunk of the first row group: a read that skips it is unaffected.
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = bytearray(path.read_bytes())
    start = column.data_page_offset
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    kept = fio.read(path, filters=[("id", ">=", 95_000)])
    assert kept.equals(table.slice(95_000))
    with pytest.raises(CorruptFileError):
        fio.read(path)


def test_filters_with_bad_arguments_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    many_row_groups(path, rows=20_000)
    with pytest.raises(ValueError, match="no such column"):
        fio.read(path, filters=[("missing", "==", 1)])
    with pytest.raises(ValueError, match="unknown filter operator"):
        fio.read(path, filters=[("id", "~", 1)])
    with pytest.raises(TypeError, match="column, operator, value"):
        fio.read(path, filters=[("id", 1)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="cannot be compared"):
        fio.read(path, filters=[("day", ">", [1, 2])])


def test_filters_apply_to_ipc_files_too(tmp_path: Path) -> None:
    table = pa.table({"a": list(range(100)), "b": [str(i) for i in range(100)]})
    path = tmp_path / "t.arrow"
    fio.write(table, path)
    got = fio.read(path, columns=["b"], filters=[("a", ">=", 90)])
    assert got.column_names == ["b"] and got["b"].to_pylist() == [str(i) for i in range(90, 100)]


def test_a_streaming_writer_writes_row_groups_and_publishes_at_close(tmp_path: Path) -> None:
    path = tmp_path / "stream.parquet"
    schema = pa.schema([("i", pa.int64()), ("s", pa.string())])
    with fio.open_writer(path, schema, chunk_rows=1_000) as writer:
        for start in range(0, 5_000, 700):
            writer.write(pa.table({"i": range(start, start + 700), "s": ["x"] * 700}, schema))
            assert not path.exists()
    assert writer.info is not None and writer.info.rows == 5_600
    assert pq.ParquetFile(path).metadata.num_row_groups == 6
    assert fio.read(path)["i"].to_pylist() == list(range(5_600))
    with pytest.raises(RuntimeError), fio.open_writer(path, schema) as writer:
        writer.write(pa.table({"i": [1], "s": ["new"]}, schema))
        raise RuntimeError("the asset failed")
    assert fio.read(path).num_rows == 5_600
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failing_source_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "kept.parquet"
    fio.write(pa.table({"a": [1, 2]}), path)

    def batches():
        yield pa.record_batch({"a": list(range(100_000))})
        raise ValueError("the source broke")

    reader = pa.RecordBatchReader.from_batches(pa.schema([("a", pa.int64())]), batches())
    with pytest.raises(Exception, match="the source broke"):
        fio.write(reader, path)
    assert fio.read(path)["a"].to_pylist() == [1, 2]
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_footer_holds_rows_hash_and_caller_metadata(tmp_path: Path) -> None:
    table = typed_table(3000)
    path = tmp_path / "t.parquet"
    info = fio.write(table, path, content_hash=True, metadata={"dagster/run_id": "r1"})
    footer = api.read_footer(path)
    assert footer.rows == 3000 and footer.batches == 1
    assert footer.content_hash == info.content_hash == api.content_hash(table)
    assert footer.metadata["dagster/run_id"] == "r1"
    assert footer.schema.equals(table.schema)
    # The file's own entries are not part of the schema read back, so a table read and written
    # again does not carry the old row count or hash.
    assert not any(key.startswith(b"dagster") for key in (fio.read(path).schema.metadata or {}))
    # A file of another writer has a row count too.
    pq.write_table(table.drop_columns(["view"]), tmp_path / "other.parquet")
    assert api.read_footer(tmp_path / "other.parquet").rows == 3000


@pytest.mark.parametrize(
    "damage",
    ["truncate-tail", "truncate-half", "zero-footer", "not-parquet", "length-too-large"],
)
def test_damaged_files_raise_corrupt_file_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "d.parquet"
    fio.write(typed_table(3000), path)
    data = bytearray(path.read_bytes())
    if damage == "truncate-tail":
        data = data[:-3]
    elif damage == "truncate-half":
        data = data[: len(data) // 2]
    elif damage == "zero-footer":
        length = int.from_bytes(data[-8:-4], "little")
        data[-8 - length : -8] = bytes(length)
    elif damage == "not-parquet":
        data = bytearray(b"hello, this is not a table" * 10)
    else:
        data[-8:-4] = (len(data) * 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        fio.read(path)
    with pytest.raises(CorruptFileError):
        api.read_footer(path)


def test_flipped_bytes_never_crash_the_process(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    table = typed_table(2000)
    fio.write(table, path, compression="none")
    original = path.read_bytes()
    outcomes = set()
    for index, position in enumerate(range(4, len(original) - 8, max(1, len(original) // 150))):
        data = bytearray(original)
        data[position] ^= 0x5A + index % 7
        path.write_bytes(bytes(data))
        try:
            fio.read(path)
            outcomes.add("read")
        except CorruptFileError:
            outcomes.add("corrupt")
    assert "corrupt" in outcomes


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=300),
    texts=st.lists(st.one_of(st.none(), st.text(max_size=20)), min_size=300, max_size=300),
    per_group=st.integers(1, 120),
    codec=st.sampled_from(sorted(CODECS)),
)
def test_round_trips_whatever_the_row_groups(
    tmp_path: Path, values: list[int | None], texts: list[str | None], per_group: int, codec: str
) -> None:
    table = pa.table({"v": pa.array(values, pa.int64()), "t": pa.array(texts[: len(values)])})
    path = tmp_path / "h.parquet"
    fio.write(table, path, compression=codec, chunk_rows=per_group)  # type: ignore[arg-type]
    assert fio.read(path).equals(table)
    assert pq.read_table(path).equals(table)


def requested_bytes(proxy: FaultProxy, key: str) -> int:
    total = 0
    for request in proxy.requests:
        if request.method != "GET" or key not in request.target:
            continue
        match = re.match(r"bytes=(\d+)-(\d+)", request.headers.get("range", ""))
        assert match, f"a GET of the whole object: {request}"
        total += int(match.group(2)) - int(match.group(1)) + 1
    return total


def test_s3_round_trip_and_a_projected_read_fetches_only_its_column(
    s3s_server: S3Server, s3s_bucket: str, flights: pa.Table
) -> None:
    table = pa.concat_tables([flights] * 2)
    uri = f"s3://{s3s_bucket}/flights.parquet"
    options = s3s_server.options()
    fio.write(table, uri, storage_options=options, part_size=5 << 20)
    assert fio.read(uri, storage_options=options).equals(table)
    proxy = FaultProxy(s3s_server.port).start()
    try:
        through = s3s_server.options(endpoint=proxy.endpoint)
        one = fio.read(uri, columns=["dep_delay"], storage_options=through)
        assert one.equals(table.select(["dep_delay"]))
        fetched = requested_bytes(proxy, "flights.parquet")
    finally:
        proxy.stop()
    size = api.stored_size(uri, options)
    # One column of nineteen, plus the footer.
    assert fetched < 0.15 * size, (fetched, size)
    filtered = fio.read(uri, storage_options=options, filters=[("month", "==", 12)])
    assert filtered.equals(table.filter(pc.equal(table["month"], 12)))


def test_a_changed_object_is_never_read_as_a_mix(s3s_server: S3Server, s3s_bucket: str) -> None:
    uri = f"s3://{s3s_bucket}/versions.parquet"
    options = s3s_server.options()
    first = pa.table({"a": list(range(50_000))})
    fio.write(first, uri, storage_options=options, chunk_rows=5_000)
    reader = fio.read_batches(uri, storage_options=options)
    batch = reader.read_next_batch()
    assert batch.num_rows == 5_000
    fio.write(pa.table({"a": [-1] * 50_000}), uri, storage_options=options, chunk_rows=5_000)
    with pytest.raises(Exception, match="changed while it was being read"):
        for _ in reader:
            pass
    assert fio.read(uri, storage_options=options)["a"].to_pylist() == [-1] * 50_000


def test_the_parquet_file_is_written_without_a_temporary_left(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.parquet"
    fio.write(pa.table({"a": [1]}), path)
    assert sorted(os.listdir(path.parent)) == ["t.parquet"]


def test_the_command_inspects_and_shows_parquet_files(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from dagster_fastio.cli import main

    path = tmp_path / "t.parquet"
    fio.write(typed_table(100), path, content_hash=True, metadata={"dagster/run_id": "r9"})
    inspected = CliRunner().invoke(main, ["inspect", str(path), "--json"])
    assert inspected.exit_code == 0, inspected.output
    summary = json.loads(inspected.output)
    assert summary["format"] == "parquet" and summary["rows"] == 100
    assert summary["compression"] == "zstd" and summary["provenance"] == {"dagster/run_id": "r9"}
    assert [field["name"] for field in summary["schema"]] == typed_table(1).column_names
    shown = CliRunner().invoke(main, ["head", str(path), "-n", "2", "--columns", "i64,text"])
    assert shown.exit_code == 0, shown.output
    assert "row 1" in shown.output


def test_an_empty_table_and_filters_on_dictionary_and_zoned_columns(tmp_path: Path) -> None:
    empty = typed_table(0)
    path = tmp_path / "empty.parquet"
    fio.write(empty, path)
    assert fio.read(path).equals(empty) and pq.read_table(path).num_rows == 0
    table = typed_table(6000)
    path = tmp_path / "t.parquet"
    fio.write(table, path, chunk_rows=1000)
    for filters in (
        [("category", "==", "green")],
        [("at", ">=", dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.timezone.utc))],
        [("amount", "<", decimal.Decimal("3.5"))],
    ):
        # pyarrow cannot filter a string view column itself: it is left out of the comparison.
        columns = [name for name in table.column_names if name != "view"]
        ours = fio.read(path, columns=columns, filters=filters)
        assert ours.equals(pq.read_table(path, columns=columns, filters=filters)), filters
        assert 0 < ours.num_rows < table.num_rows


def test_an_aborted_parquet_upload_leaves_nothing(s3s_server: S3Server, s3s_bucket: str) -> None:
    uri = f"s3://{s3s_bucket}/aborted.parquet"
    options = s3s_server.options()
    schema = pa.schema([("i", pa.int64()), ("s", pa.string())])
    batch = pa.table({"i": range(400_000), "s": [f"s{i}" for i in range(400_000)]}, schema)
    with (
        pytest.raises(RuntimeError),
        fio.open_writer(
            uri,
            schema,
            storage_options=options,
            part_size=5 << 20,
            compression="none",
            chunk_rows=100_000,
        ) as writer,
    ):
        for _ in range(4):
            writer.write(batch)
        raise RuntimeError("the asset failed after several parts were uploaded")
    assert s3s_server.keys(s3s_bucket) == []
    assert s3s_server.pending_uploads(s3s_bucket) == []


@pytest.mark.parametrize(
    "filters",
    [
        [("x", "!=", 1.0)],
        [("x", ">", 0.5)],
        [("x", "==", 0.0)],
        [("x", "<=", 0.0)],
        [("i", "<", 2.5)],
        [("i", "==", 2.5)],
        [("small", "<", 300)],
    ],
)
def test_filters_compare_as_pyarrow_does_with_nan_zeros_and_wider_values(
    tmp_path: Path, filters: list[tuple[str, str, object]]
) -> None:
    table = pa.table(
        {
            "x": pa.array([1.0, float("nan"), -0.0, 0.0, 5.0, None, 1.0]),
            "i": pa.array([1, 2, 3, 2, 0, None, 5], pa.int32()),
            "small": pa.array([1, -5, 100, 7, 0, 3, 127], pa.int8()),
        }
    )
    # Row groups of one row each, and one of all: pruning must not change the answer.
    for per_group in (1, 7):
        path = tmp_path / f"nan-{per_group}.parquet"
        fio.write(table, path, chunk_rows=per_group)
        expected = pq.read_table(path, filters=filters)
        # repr, because NaN is not equal to itself.
        got = fio.read(path, filters=filters).to_pylist()
        assert repr(got) == repr(expected.to_pylist()), per_group


def test_a_damaged_row_group_read_in_batches_is_a_corrupt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    many_row_groups(path)
    column = pq.ParquetFile(path).metadata.row_group(5).column(3)
    data = bytearray(path.read_bytes())
    data[column.data_page_offset : column.data_page_offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    reader = fio.read_batches(path)
    with pytest.raises(CorruptFileError):
        for _ in reader:
            pass
