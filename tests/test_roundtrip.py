"""Round trips through memory (encode/decode) and local files (write/read) for every type family."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import polars as pl
import polars.testing as plt
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import dagster_fastio as fio

RoundTrip = Callable[..., pa.Table]


@pytest.fixture(params=["memory", "file"])
def roundtrip(request: pytest.FixtureRequest, tmp_path: Path, compression: str) -> RoundTrip:
    """``fio.decode(fio.encode(...))`` or ``fio.read(fio.write(...).uri)`` with one codec."""

    def through_memory(table: pa.Table, **options: object) -> pa.Table:
        return fio.decode(fio.encode(table, compression=compression, **options))

    def through_file(table: pa.Table, **options: object) -> pa.Table:
        info = fio.write(table, tmp_path / "table.arrow", compression=compression, **options)
        return fio.read(info.uri)

    return through_memory if request.param == "memory" else through_file


def assert_same_table(result: pa.Table, expected: pa.Table) -> None:
    assert result.schema.equals(expected.schema, check_metadata=True), (
        f"schema changed:\n{result.schema}\n!=\n{expected.schema}"
    )
    assert result.num_rows == expected.num_rows
    assert result.equals(expected), f"data changed:\n{result}\n!=\n{expected}"


# --- type families -------------------------------------------------------------------------


def _integers() -> pa.Table:
    columns = {}
    for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
        info = np.iinfo(np.dtype(name))
        values = [int(info.min), int(info.max), 0, None, 1, int(info.max) - 1]
        columns[name] = pa.array(values, type=getattr(pa, name)())
    return pa.table(columns)


def _floats() -> pa.Table:
    half = np.array([0.0, -0.0, 1.5, np.inf, -np.inf, 65504.0, 6e-8], dtype=np.float16)
    half_mask = np.array([False, False, True, False, False, False, False])
    values = [0.0, -0.0, 1.5, None, float("inf"), float("-inf"), 1e-300]
    return pa.table(
        {
            "float16": pa.array(half, type=pa.float16(), mask=half_mask),
            "float32": pa.array([*values[:-1], 3.4e38], type=pa.float32()),
            "float64": pa.array(values, type=pa.float64()),
        }
    )


def _decimals() -> pa.Table:
    return pa.table(
        {
            "decimal128": pa.array(
                [
                    Decimal("1234567890123456789012345678.0123456789"),
                    Decimal("-0.0000000001"),
                    None,
                    Decimal(0),
                ],
                type=pa.decimal128(38, 10),
            ),
            "decimal256": pa.array(
                [Decimal("9" * 56 + "." + "9" * 20), Decimal("-1.5"), None, Decimal(0)],
                type=pa.decimal256(76, 20),
            ),
            "decimal128_negative_scale": pa.array(
                [Decimal("1.2E+5"), None, Decimal("-3E+3"), Decimal(0)],
                type=pa.decimal128(5, -3),
            ),
        }
    )


def _booleans() -> pa.Table:
    # 77 values: the validity and value bitmaps end mid-byte.
    values = [None if i % 7 == 0 else i % 3 == 0 for i in range(77)]
    return pa.table({"bool": pa.array(values, type=pa.bool_()), "all_true": [True] * 77})


def _dates_and_times() -> pa.Table:
    dates = [
        dt.date(1970, 1, 1),
        dt.date(2024, 2, 29),
        None,
        dt.date(1, 1, 1),
        dt.date(9999, 12, 31),
    ]
    times = [dt.time(0, 0), dt.time(23, 59, 59), None, dt.time(12, 30, 15), dt.time(1, 2, 3)]
    micro = [dt.time(0, 0), dt.time(23, 59, 59, 999_999), None, dt.time(12, 0, 0, 1), dt.time(1)]
    return pa.table(
        {
            "date32": pa.array(dates, type=pa.date32()),
            "date64": pa.array(dates, type=pa.date64()),
            "time32_s": pa.array(times, type=pa.time32("s")),
            "time32_ms": pa.array(times, type=pa.time32("ms")),
            "time64_us": pa.array(micro, type=pa.time64("us")),
            "time64_ns": pa.array([0, 86_399_999_999_999, None, 1, 42], type=pa.time64("ns")),
        }
    )


def _timestamps() -> pa.Table:
    columns = {}
    for unit in ["s", "ms", "us", "ns"]:
        for tz in [None, "UTC", "America/New_York", "+05:30"]:
            values = [0, -1, None, 1_700_000_000, 2**40]
            columns[f"ts_{unit}_{tz}"] = pa.array(values, type=pa.timestamp(unit, tz=tz))
    return pa.table(columns)


def _durations() -> pa.Table:
    return pa.table(
        {
            f"duration_{unit}": pa.array([0, -5, None, 2**62], type=pa.duration(unit))
            for unit in ["s", "ms", "us", "ns"]
        }
    )


def _strings() -> pa.Table:
    values = ["", "plain", None, "ünïcødé ✓ 漢字", "x" * 300, "emoji 🦆"]
    columns = {
        "string": pa.array(values, type=pa.string()),
        "large_string": pa.array(values, type=pa.large_string()),
    }
    if hasattr(pa, "string_view"):
        columns["string_view"] = pa.array(values, type=pa.string_view())
    return pa.table(columns)


def _binaries() -> pa.Table:
    values = [b"", b"\x00\xff\x10", None, bytes(range(256)), b"abc", b"x" * 20]
    fixed = [b"abc", b"\x00\x00\x00", None, b"\xff\xfe\xfd", b"xyz", b"123"]
    columns = {
        "binary": pa.array(values, type=pa.binary()),
        "large_binary": pa.array(values, type=pa.large_binary()),
        "fixed_size_binary": pa.array(fixed, type=pa.binary(3)),
    }
    if hasattr(pa, "binary_view"):
        columns["binary_view"] = pa.array(values, type=pa.binary_view())
    return pa.table(columns)


def _nested() -> pa.Table:
    struct_type = pa.struct(
        [
            pa.field("a", pa.int32()),
            pa.field("b", pa.list_(pa.string())),
            pa.field("c", pa.struct([pa.field("d", pa.float64(), nullable=False)])),
        ]
    )
    return pa.table(
        {
            "list": pa.array([[1, 2], [], None, [None, 4]], type=pa.list_(pa.int64())),
            "large_list": pa.array(
                [["a"], None, [], ["b", None, "c"]], type=pa.large_list(pa.string())
            ),
            "fixed_size_list": pa.array(
                [[1.0, 2.0], None, [3.0, None], [5.0, 6.0]], type=pa.list_(pa.float32(), 2)
            ),
            "list_of_lists": pa.array(
                [[[1], [2, 3]], [[]], None, [None, [4]]], type=pa.list_(pa.list_(pa.int16()))
            ),
            "struct": pa.array(
                [
                    {"a": 1, "b": ["x"], "c": {"d": 0.5}},
                    None,
                    {"a": None, "b": None, "c": None},
                    {"a": 4, "b": [], "c": {"d": -1.0}},
                ],
                type=struct_type,
            ),
            "list_of_structs": pa.array(
                [[{"k": "a", "v": 1}], None, [], [{"k": None, "v": None}, {"k": "b", "v": 2}]],
                type=pa.list_(pa.struct([("k", pa.string()), ("v", pa.int8())])),
            ),
            "map": pa.array(
                [[("a", 1), ("b", None)], None, [], [("c", 3)]],
                type=pa.map_(pa.string(), pa.int32()),
            ),
            "map_int_keys": pa.array(
                [[(1, "x")], [], None, [(2, "y"), (3, "z")]], type=pa.map_(pa.int64(), pa.string())
            ),
        }
    )


def _dictionaries() -> pa.Table:
    return pa.table(
        {
            "dict_string": pa.array(["b", "a", None, "b", "c"]).dictionary_encode(),
            "dict_int": pa.DictionaryArray.from_arrays(
                pa.array([0, 1, 1, None, 2], type=pa.int8()), pa.array([100, -7, 2**40])
            ),
            "dict_ordered": pa.DictionaryArray.from_arrays(
                pa.array([2, 0, 1, 0, None], type=pa.uint16()),
                pa.array(["low", "mid", "high"]),
                ordered=True,
            ),
            "dict_large_string": pa.DictionaryArray.from_arrays(
                pa.array([0, 0, 1, 1, 0], type=pa.int64()),
                pa.array(["p", "q"], type=pa.large_string()),
            ),
            "list_of_dict": pa.ListArray.from_arrays(
                [0, 2, 2, 3, 5, 5], pa.array(["x", "y", "x", None, "y"]).dictionary_encode()
            ),
        }
    )


def _other_types() -> pa.Table:
    columns = {
        "month_day_nano": pa.array(
            [
                pa.MonthDayNano([1, 2, 3]),
                None,
                pa.MonthDayNano([-1, 0, 10**12]),
                pa.MonthDayNano([0, 0, 0]),
            ],
            type=pa.month_day_nano_interval(),
        ),
        "sparse_union": pa.UnionArray.from_sparse(
            pa.array([0, 1, 0, 1], type=pa.int8()),
            [pa.array([1, None, 3, 4]), pa.array(["a", "b", None, "d"])],
        ),
        "dense_union": pa.UnionArray.from_dense(
            pa.array([1, 0, 1, 0], type=pa.int8()),
            pa.array([0, 0, 1, 1], type=pa.int32()),
            [pa.array([10, None]), pa.array([b"x", b"y"])],
        ),
        "run_end_encoded": pa.RunEndEncodedArray.from_arrays([1, 3, 4], ["a", None, "b"]),
    }
    if hasattr(pa, "list_view"):
        columns["list_view"] = pa.array([[1], None, [], [2, 3]], type=pa.list_view(pa.int32()))
    return pa.table(columns)


TYPE_FAMILIES: dict[str, Callable[[], pa.Table]] = {
    "integers": _integers,
    "floats": _floats,
    "decimals": _decimals,
    "booleans": _booleans,
    "dates_and_times": _dates_and_times,
    "timestamps": _timestamps,
    "durations": _durations,
    "strings": _strings,
    "binaries": _binaries,
    "nested": _nested,
    "dictionaries": _dictionaries,
    "other_types": _other_types,
}


@pytest.mark.parametrize("family", list(TYPE_FAMILIES))
def test_type_family_round_trips(roundtrip: RoundTrip, family: str) -> None:
    table = TYPE_FAMILIES[family]()
    # Every type exactly as it was: the compat levels' rewrites are tests/test_compat.py's.
    assert_same_table(roundtrip(table, compat="none"), table)


def test_the_standard_level_keeps_the_values_of_the_types_it_rewrites(
    roundtrip: RoundTrip,
) -> None:
    table = _other_types()
    back = roundtrip(table)
    assert back.schema.field("run_end_encoded").type == pa.string()
    for name in table.column_names:
        assert back[name].to_pylist() == table[name].to_pylist(), name


def test_string_view_is_exercised() -> None:
    # pyarrow 26 writes string_view; the strings family must not silently lose that column.
    assert "string_view" in _strings().column_names


def test_nan_payloads_and_signed_zero_survive(roundtrip: RoundTrip) -> None:
    # Table.equals treats NaN as unequal to itself, so compare the raw bits instead.
    # Quiet NaN, negative NaN, signalling NaN with a payload, signed zeros, one, infinity.
    doubles = np.array(
        [
            0x7FF8_0000_0000_0000,
            0xFFF8_0000_0000_0000,
            0x7FF0_0000_0000_0001,
            0x0000_0000_0000_0000,
            0x8000_0000_0000_0000,
            0x3FF0_0000_0000_0000,
            0x7FF0_0000_0000_0000,
        ],
        dtype=np.uint64,
    ).view(np.float64)
    singles = np.array(
        [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x0000_0000, 0x8000_0000, 0x3F80_0000, 0x7F80_0000],
        dtype=np.uint32,
    ).view(np.float32)
    table = pa.table({"f64": doubles, "f32": singles})
    result = roundtrip(table)
    assert result.schema == table.schema
    np.testing.assert_array_equal(
        result.column("f64").to_numpy().view(np.uint64), doubles.view(np.uint64)
    )
    np.testing.assert_array_equal(
        result.column("f32").to_numpy().view(np.uint32), singles.view(np.uint32)
    )


def test_dictionary_chunks_with_different_dictionaries(roundtrip: RoundTrip) -> None:
    first = pa.record_batch(
        {"s": pa.array(["x", "y", "x"]).dictionary_encode(), "n": pa.array([1, 2, 3])}
    )
    second = pa.record_batch(
        {"s": pa.array(["z", None, "x"]).dictionary_encode(), "n": pa.array([4, 5, 6])}
    )
    third = pa.record_batch({"s": pa.array(["w", "w"]).dictionary_encode(), "n": pa.array([7, 8])})
    table = pa.Table.from_batches([first, second, third])
    assert not table.column("s").chunk(0).dictionary.equals(table.column("s").chunk(1).dictionary)

    result = roundtrip(table)

    assert result.schema.equals(table.schema, check_metadata=True)
    assert result.column("s").to_pylist() == ["x", "y", "x", "z", None, "x", "w", "w"]
    assert result.column("n").equals(table.column("n"))
    # Same values and one dictionary per column, as unify_dictionaries would give.
    assert result.equals(table.unify_dictionaries())
    dictionaries = [chunk.dictionary for chunk in result.column("s").chunks]
    assert all(d.equals(dictionaries[0]) for d in dictionaries)


def test_integer_dictionary_chunks_with_different_dictionaries(roundtrip: RoundTrip) -> None:
    chunks = [
        pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int16()), pa.array([10, 20])),
        pa.DictionaryArray.from_arrays(pa.array([1, 0, None], pa.int16()), pa.array([30, 10])),
    ]
    table = pa.table({"d": pa.chunked_array(chunks)})
    result = roundtrip(table, chunk_rows=2)
    assert result.column("d").to_pylist() == [10, 20, 10, 30, None]
    assert result.schema == table.schema


def test_map_keys_sorted_flag_is_written(roundtrip: RoundTrip) -> None:
    map_type = pa.map_(pa.int64(), pa.string(), keys_sorted=True)
    table = pa.table({"m": pa.array([[(1, "x"), (2, None)], [], None], type=map_type)})
    result = roundtrip(table)
    assert result.column("m").to_pylist() == table.column("m").to_pylist()
    # The file keeps the flag. Reading it back through the Arrow C interface loses it: arrow-rs
    # 59 drops it when exporting a field, and pyo3-arrow pins arrow 59 for now.
    assert pa.ipc.open_file(fio.encode(table)).schema.field("m").type.keys_sorted


# --- nulls -----------------------------------------------------------------------------------

ALL_NULL_TYPES = [
    pa.int8(),
    pa.uint64(),
    pa.float16(),
    pa.float64(),
    pa.bool_(),
    pa.decimal128(10, 2),
    pa.decimal256(40, 5),
    pa.date32(),
    pa.date64(),
    pa.time32("ms"),
    pa.time64("ns"),
    pa.timestamp("us", tz="UTC"),
    pa.duration("s"),
    pa.string(),
    pa.large_string(),
    pa.binary(),
    pa.large_binary(),
    pa.binary(4),
    pa.list_(pa.int32()),
    pa.large_list(pa.string()),
    pa.list_(pa.int8(), 3),
    pa.struct([("a", pa.int32())]),
    pa.map_(pa.string(), pa.int64()),
    pa.dictionary(pa.int32(), pa.string()),
]


def test_every_column_all_null(roundtrip: RoundTrip) -> None:
    rows = 11
    table = pa.table(
        {f"c{i}_{t}": pa.nulls(rows, type=t) for i, t in enumerate(ALL_NULL_TYPES)}
        | {"null_type": pa.nulls(rows)}
    )
    assert table.schema.field("null_type").type == pa.null()
    result = roundtrip(table)
    assert_same_table(result, table)
    assert all(column.null_count == rows for column in result.columns)


def test_null_type_column_alone(roundtrip: RoundTrip) -> None:
    table = pa.table({"nothing": pa.nulls(1000)})
    result = roundtrip(table)
    assert_same_table(result, table)
    assert result.column("nothing").type == pa.null()


# --- shapes: zero rows, zero columns, sliced input, chunk layouts ---------------------------


def test_zero_rows_keep_schema(roundtrip: RoundTrip) -> None:
    schema = pa.schema(
        [
            pa.field("i", pa.int32(), nullable=False, metadata={"unit": "m"}),
            pa.field("s", pa.string()),
            pa.field("l", pa.list_(pa.float64())),
            pa.field("d", pa.dictionary(pa.int8(), pa.string())),
            pa.field("t", pa.timestamp("ns", tz="Europe/Paris")),
        ],
        metadata={"source": "nowhere"},
    )
    table = schema.empty_table()
    result = roundtrip(table)
    assert result.num_rows == 0
    assert_same_table(result, table)


def test_zero_columns_with_rows(roundtrip: RoundTrip) -> None:
    # What pa.Table.from_pandas(pd.DataFrame(index=range(3))) looks like, minus the metadata.
    table = pa.table({"a": [1, 2, 3]}).drop_columns(["a"])
    assert (table.num_rows, table.num_columns) == (3, 0)
    result = roundtrip(table)
    assert (result.num_rows, result.num_columns) == (3, 0)


def test_sliced_table_and_empty_chunks(roundtrip: RoundTrip) -> None:
    base = pa.table(
        {
            "n": np.arange(200),
            "s": [f"v{i}" if i % 4 else None for i in range(200)],
            "b": [i % 3 == 0 for i in range(200)],
            "l": [[i] * (i % 3) for i in range(200)],
        }
    )
    empty = base.slice(0, 0)
    table = pa.concat_tables([empty, base.slice(13, 50), empty, base.slice(101, 7), empty])
    result = roundtrip(table)
    assert_same_table(result, table)


def test_schema_metadata_kept(roundtrip: RoundTrip) -> None:
    schema = pa.schema(
        [
            pa.field("a", pa.int64(), metadata={"description": "an id", "empty": ""}),
            pa.field("b", pa.struct([pa.field("x", pa.string(), metadata={"inner": "yes"})])),
        ],
        metadata={"owner": "team ✓", b"binary\x00key": b"\x01\x02", "json": '{"k": [1, 2]}'},
    )
    table = pa.table({"a": [1, 2], "b": [{"x": "p"}, None]}, schema=schema)
    result = roundtrip(table)
    assert result.schema.metadata == table.schema.metadata
    assert result.schema.field("a").metadata == {b"description": b"an id", b"empty": b""}
    assert result.schema.field("b").type.field("x").metadata == {b"inner": b"yes"}
    assert_same_table(result, table)


def test_non_nullable_fields_kept(roundtrip: RoundTrip) -> None:
    schema = pa.schema([pa.field("req", pa.int32(), nullable=False), pa.field("opt", pa.int32())])
    table = pa.table({"req": [1, 2], "opt": [None, 3]}, schema=schema)
    result = roundtrip(table)
    assert not result.schema.field("req").nullable
    assert result.schema.field("opt").nullable
    assert_same_table(result, table)


def test_huge_batch_is_rechunked(tmp_path: Path, compression: str) -> None:
    rows, chunk_rows = 100_000, 1000
    table = pa.table({"n": np.arange(rows), "s": [str(i % 977) for i in range(rows)]})
    assert table.column("n").num_chunks == 1

    buffer = fio.encode(table, compression=compression, chunk_rows=chunk_rows)
    info = fio.write(table, tmp_path / "big.arrow", compression=compression, chunk_rows=chunk_rows)

    for source in (buffer, str(tmp_path / "big.arrow")):
        reader = ipc.open_file(source)
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        assert reader.num_record_batches >= rows // (chunk_rows * 3 // 2)
        assert max(sizes) <= chunk_rows * 3 // 2
        assert sum(sizes) == rows
    assert info.batches == ipc.open_file(tmp_path / "big.arrow").num_record_batches
    assert fio.decode(buffer).equals(table)
    assert fio.read(info.uri).equals(table)


def test_many_tiny_batches_are_merged(tmp_path: Path, compression: str) -> None:
    batches = [pa.record_batch({"n": [i], "s": [f"row {i}"]}) for i in range(5000)]
    table = pa.Table.from_batches(batches)
    assert table.column("n").num_chunks == 5000

    buffer = fio.encode(table, compression=compression)
    info = fio.write(table, tmp_path / "tiny.arrow", compression=compression)

    assert ipc.open_file(buffer).num_record_batches <= 50
    assert ipc.open_file(tmp_path / "tiny.arrow").num_record_batches <= 50
    assert info.batches <= 50
    assert info.rows == 5000
    assert_same_table(fio.decode(buffer), table)
    assert_same_table(fio.read(info.uri), table)


# --- projection ----------------------------------------------------------------------------


def _projection_table() -> pa.Table:
    return pa.table(
        {
            "a": [1, 2, 3],
            "b": ["x", "y", None],
            "c": pa.array(["p", "q", "p"]).dictionary_encode(),
            "d": [[1.0], [], None],
        }
    ).replace_schema_metadata({"kept": "yes"})


@pytest.mark.parametrize("columns", [["c", "a"], ["d"], ["b", "d", "a", "c"], []])
def test_projection_follows_requested_order(
    tmp_path: Path, compression: str, columns: list[str]
) -> None:
    table = _projection_table()
    expected = table.select(columns)
    path = tmp_path / "p.arrow"
    fio.write(table, path, compression=compression)
    for result in (
        fio.decode(fio.encode(table, compression=compression), columns=columns),
        fio.read(path, columns=columns),
        fio.read_batches(path, columns=columns).read_all(),
    ):
        assert result.column_names == columns
        assert result.equals(expected)
        if columns:
            assert result.num_rows == table.num_rows


def test_projection_accepts_a_single_name(tmp_path: Path) -> None:
    table = _projection_table()
    fio.write(table, tmp_path / "p.arrow")
    assert fio.read(tmp_path / "p.arrow", columns="b").equals(table.select(["b"]))


def test_projection_unknown_column_names_it(tmp_path: Path, compression: str) -> None:
    table = _projection_table()
    path = tmp_path / "p.arrow"
    fio.write(table, path, compression=compression)
    buffer = fio.encode(table, compression=compression)
    with pytest.raises(ValueError, match="no_such_column"):
        fio.decode(buffer, columns=["a", "no_such_column"])
    with pytest.raises(ValueError, match="no_such_column"):
        fio.read(path, columns=["no_such_column"])
    with pytest.raises(ValueError, match="no_such_column"):
        fio.read_batches(path, columns=["b", "no_such_column"])


# --- pandas ----------------------------------------------------------------------------------


def _pandas_frames() -> dict[str, pd.DataFrame]:
    return {
        "named_index": pd.DataFrame(
            {"value": [1.5, 2.5, None], "label": ["a", "b", "c"]},
            index=pd.Index(["x", "y", "z"], name="key"),
        ),
        "integer_index": pd.DataFrame(
            {"value": [1, 2, 3]}, index=pd.Index([30, 10, 20], name="id", dtype="int32")
        ),
        "multi_index": pd.DataFrame(
            {"v": [1, 2, 3, 4]},
            index=pd.MultiIndex.from_product([["p", "q"], [1, 2]], names=["letter", "num"]),
        ),
        "categoricals": pd.DataFrame(
            {
                "plain": pd.Categorical(["a", "b", None, "a"]),
                "ordered": pd.Categorical(
                    ["lo", "hi", "lo", "mid"], categories=["lo", "mid", "hi"], ordered=True
                ),
                "int_categories": pd.Categorical([3, 1, 3, None]),
            }
        ),
        "tz_aware": pd.DataFrame(
            {
                "paris": pd.date_range("2024-03-30", periods=4, freq="12h", tz="Europe/Paris"),
                "utc_ns": pd.to_datetime(
                    ["2024-01-01 00:00:00.000000001", None, "1969-12-31 23:59:59", "2262-04-01"],
                    format="ISO8601",
                ).tz_localize("UTC"),
            }
        ),
        "nullable_dtypes": pd.DataFrame(
            {
                "Int64": pd.array([1, None, -3, 2**62], dtype="Int64"),
                "UInt8": pd.array([0, 255, None, 7], dtype="UInt8"),
                "boolean": pd.array([True, None, False, True], dtype="boolean"),
                "string": pd.array(["x", None, "", "ü"], dtype="string"),
                "Float32": pd.array([0.5, None, 1.0, -2.0], dtype="Float32"),
            }
        ),
    }


@pytest.mark.parametrize("name", list(_pandas_frames()))
def test_pandas_round_trip(tmp_path: Path, compression: str, name: str) -> None:
    frame = _pandas_frames()[name]
    info = fio.write(frame, tmp_path / f"{name}.arrow", compression=compression)
    assert info.rows == len(frame)
    pdt.assert_frame_equal(fio.read(tmp_path / f"{name}.arrow").to_pandas(), frame)
    pdt.assert_frame_equal(
        fio.decode(fio.encode(frame, compression=compression)).to_pandas(), frame
    )


def test_pandas_categories_with_different_chunks_survive(tmp_path: Path) -> None:
    # Two frames with different category sets concatenated: one column, one dictionary.
    frame = pd.concat(
        [
            pd.DataFrame({"c": pd.Categorical(["a", "b"])}),
            pd.DataFrame({"c": pd.Categorical(["c", "a"])}),
        ],
        ignore_index=True,
    )
    fio.write(frame, tmp_path / "c.arrow")
    pdt.assert_frame_equal(fio.read(tmp_path / "c.arrow").to_pandas(), frame)


# --- polars ----------------------------------------------------------------------------------


def _polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "i": [1, None, 3, 4],
            "u8": pl.Series([1, 2, None, 255], dtype=pl.UInt8),
            "f": [1.0, None, -0.5, 1e300],
            "s": ["a", None, "ccc", ""],
            "b": [True, None, False, True],
            "cat": pl.Series(["x", "y", None, "x"], dtype=pl.Categorical),
            "enum": pl.Series(["lo", "hi", "lo", None], dtype=pl.Enum(["lo", "hi"])),
            "list": [[1, 2], None, [], [None]],
            "struct": [{"a": 1, "b": "x"}, None, {"a": None, "b": None}, {"a": 4, "b": "y"}],
            "dt": [
                dt.datetime(2024, 1, 1, 12),
                None,
                dt.datetime(1900, 1, 1),
                dt.datetime(2100, 1, 1),
            ],
            "d": [dt.date(2024, 1, 1), None, dt.date(1970, 1, 1), dt.date(2000, 2, 29)],
            "bin": [b"a", None, b"", b"\x00"],
        }
    ).with_columns(
        pl.col("dt").dt.replace_time_zone("Asia/Tokyo").alias("dtz"),
        pl.col("dt").dt.cast_time_unit("ns").alias("dt_ns"),
        pl.Series("dec", ["1.25", None, "-3.50", "0.00"]).str.to_decimal(scale=2),
        pl.duration(hours=pl.col("i")).alias("dur"),
    )


def test_polars_round_trip(tmp_path: Path, compression: str) -> None:
    frame = _polars_frame()
    categorical_exports = [
        name
        for name, field in zip(frame.columns, frame.to_arrow().schema, strict=True)
        if pa.types.is_dictionary(field.type)
    ]
    assert set(categorical_exports) == {"cat", "enum"}

    info = fio.write(frame, tmp_path / "pl.arrow", compression=compression)
    assert info.rows == frame.height
    back = pl.from_arrow(fio.read(info.uri))
    assert isinstance(back, pl.DataFrame)
    plt.assert_frame_equal(back, frame)
    assert back.schema["enum"] == pl.Enum(["lo", "hi"])
    assert back.schema["cat"] == pl.Categorical

    from_memory = pl.from_arrow(fio.decode(fio.encode(frame, compression=compression)))
    assert isinstance(from_memory, pl.DataFrame)
    plt.assert_frame_equal(from_memory, frame)


def test_polars_lazy_frame_is_collected(tmp_path: Path) -> None:
    lazy = pl.LazyFrame({"a": [1, 2, 3]}).with_columns((pl.col("a") * 2).alias("b"))
    fio.write(lazy, tmp_path / "lazy.arrow")
    back = pl.from_arrow(fio.read(tmp_path / "lazy.arrow"))
    assert isinstance(back, pl.DataFrame)
    plt.assert_frame_equal(back, lazy.collect())
