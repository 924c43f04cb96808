"""Types some readers cannot open (README, "Which readers open what"): what each `compat`
level stores, that other readers then open the files, and that view columns written in
batches store each batch's own strings only."""

from __future__ import annotations

import decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import dagster_fastio as fio
from dagster_fastio import api


def stored_schema(path: Path) -> pa.Schema:
    with ipc.open_file(path) as reader:
        return reader.schema


def awkward_table(rows: int = 1000) -> pa.Table:
    values = pa.array([None if i % 10 == 0 else list(range(i % 4)) for i in range(rows)])
    list_view = pa.ListViewArray.from_arrays(
        values.offsets.slice(0, rows),
        pa.array([len(v or []) for v in values.to_pylist()], pa.int32()),
        values.values,
        mask=values.is_null(),
    )
    return pa.table(
        {
            "items": list_view,
            "runs": pa.RunEndEncodedArray.from_arrays(
                pa.array([rows // 2, rows], pa.int32()), pa.array(["left", "right"])
            ),
            "money": pa.array(
                [decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal256(20, 2)
            ),
            "text": pa.array([f"value number {i}" for i in range(rows)], pa.string_view()),
            "half": pa.array([i / 8 for i in range(rows)], pa.float16()),
        }
    )


def test_standard_stores_what_every_reader_opens_and_keeps_the_values(tmp_path: Path) -> None:
    table = awkward_table()
    path = tmp_path / "standard.arrow"
    info = fio.write(table, path, compression="lz4", content_hash=True)
    schema = stored_schema(path)
    assert schema.field("items").type == pa.list_(pa.int64())
    assert schema.field("runs").type == pa.string()
    assert schema.field("money").type == pa.decimal128(20, 2)
    # Views and half floats are kept at this level.
    assert schema.field("text").type == pa.string_view()
    assert schema.field("half").type == pa.float16()
    back = fio.read(path)
    for name in ("items", "runs", "money", "text", "half"):
        assert back[name].to_pylist() == table[name].to_pylist(), name
    # polars panics on list views, run-end encoding and 256-bit decimals; here it reads.
    frame = pl.read_ipc(path)
    assert frame["money"].to_list() == table["money"].to_pylist()
    # The hash is the data's as it arrived: data_version(obj) matches the stored file.
    assert info.content_hash == api.content_hash(table)


def test_wide_also_widens_views_and_half_floats(tmp_path: Path) -> None:
    table = awkward_table()
    path = tmp_path / "wide.arrow"
    fio.write(table, path, compat="wide")
    schema = stored_schema(path)
    assert schema.field("text").type == pa.large_string()
    assert schema.field("half").type == pa.float32()
    # DuckDB refuses a half-float column, and with it the whole table, unless widened.
    rows = duckdb.from_arrow(feather.read_table(path)).aggregate("count(*), sum(half)").fetchall()
    assert rows == [(1000, sum(i / 8 for i in range(1000)))]
    fio.write(table, tmp_path / "standard.arrow")
    with pytest.raises(duckdb.Error, match="Unsupported"):
        duckdb.from_arrow(feather.read_table(tmp_path / "standard.arrow")).fetchall()


def test_none_stores_every_type_as_it_arrived(tmp_path: Path) -> None:
    table = awkward_table()
    path = tmp_path / "none.arrow"
    fio.write(table, path, compat="none")
    assert stored_schema(path).equals(table.schema)
    with pytest.raises(ValueError, match="unknown compat level"):
        fio.write(table, path, compat="loose")  # type: ignore[arg-type]


def test_parquet_takes_the_same_levels(tmp_path: Path) -> None:
    table = awkward_table()
    path = tmp_path / "t.parquet"
    fio.write(table, path, compat="wide")
    schema = pq.read_schema(path)
    assert schema.field("text").type == pa.large_string()
    assert schema.field("money").type == pa.decimal128(20, 2)
    assert fio.read(path)["items"].to_pylist() == table["items"].to_pylist()


def test_a_view_column_written_in_batches_stores_each_batch_strings_once(tmp_path: Path) -> None:
    rows = 200_000
    text = [f"a string longer than twelve bytes, number {i}" for i in range(rows)]
    views = pa.table({"s": pa.array(text, pa.string_view())})
    strings = pa.table({"s": pa.array(text, pa.large_string())})
    fio.write(views, tmp_path / "views.arrow", compression="none", chunk_rows=20_000, compat="none")
    fio.write(strings, tmp_path / "strings.arrow", compression="none", chunk_rows=20_000)
    view_size = (tmp_path / "views.arrow").stat().st_size
    string_size = (tmp_path / "strings.arrow").stat().st_size
    # Views add 16 bytes a row; without compaction each of the ten batches held every string.
    assert view_size < string_size + 20 * rows, (view_size, string_size)
    assert fio.read(tmp_path / "views.arrow")["s"].to_pylist() == text


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_inline_only_views_from_pyarrow_are_read_by_polars(
    tmp_path: Path, compression: str
) -> None:
    # pyarrow gives a view array of short strings one empty data buffer, on which polars 2.1
    # panics when the file is compressed; the writer drops it.
    table = pa.table({"s": pa.array([f"k{i % 50}" for i in range(5000)], pa.string_view())})
    path = tmp_path / f"short-{compression}.arrow"
    fio.write(table, path, compression=compression, compat="none")  # type: ignore[arg-type]
    assert pl.read_ipc(path)["s"].to_list() == table["s"].to_pylist()
