"""Property: any table, chunked any way, survives encode/decode with any codec and batch size."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dagster_fastio as fio

COMPRESSIONS = ("zstd", "lz4", "none")
MAX_ROWS = 120

# --- exact comparison, NaN included ---------------------------------------------------------
#
# pa.Table.equals follows IEEE comparison: a NaN never equals anything, not even the same
# table compared with itself. Floats are therefore compared by their bits, after viewing every
# floating-point child as an unsigned integer of the same width (a zero-copy relabelling that
# keeps offsets, validity and nesting). Null slots are ignored by equals, as they should be.

_BITS = {16: pa.uint16(), 32: pa.uint32(), 64: pa.uint64()}


def _bits_type(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_floating(data_type):
        return _BITS[data_type.bit_width]
    if pa.types.is_list(data_type):
        return pa.list_(data_type.value_field.with_type(_bits_type(data_type.value_type)))
    if pa.types.is_large_list(data_type):
        return pa.large_list(data_type.value_field.with_type(_bits_type(data_type.value_type)))
    if pa.types.is_struct(data_type):
        return pa.struct([field.with_type(_bits_type(field.type)) for field in data_type])
    return data_type


def bitwise(table: pa.Table) -> pa.Table:
    columns = []
    for column in table.columns:
        target = _bits_type(column.type)
        chunks = [chunk.view(target) for chunk in column.chunks]
        columns.append(pa.chunked_array(chunks, type=target))
    return pa.Table.from_arrays(columns, names=table.column_names)


def test_bitwise_comparison_sees_nan_payloads() -> None:
    # The comparison itself must tell NaN payloads apart and match identical NaNs.
    quiet = pa.array([float("nan"), 1.0])
    other = pa.array([1.0], type=pa.float64())
    assert not pa.table({"f": quiet}).equals(pa.table({"f": quiet}))
    assert bitwise(pa.table({"f": quiet})).equals(bitwise(pa.table({"f": quiet})))
    negative = pa.array([-float("nan"), 1.0])
    assert not bitwise(pa.table({"f": quiet})).equals(bitwise(pa.table({"f": negative})))
    nested = pa.table({"l": pa.array([[float("nan")], None], type=pa.list_(pa.float32()))})
    assert bitwise(nested).equals(bitwise(nested))
    assert not bitwise(pa.table({"f": other})).equals(bitwise(pa.table({"f": [2.0]})))


# --- strategies ----------------------------------------------------------------------------

Column = tuple[pa.DataType, st.SearchStrategy[Any]]


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


def _integer_column(data_type: pa.DataType) -> Column:
    bits = data_type.bit_width
    if pa.types.is_signed_integer(data_type):
        return data_type, st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return data_type, st.integers(0, 2**bits - 1)


_SCALAR_COLUMNS: list[Callable[[], Column]] = [
    *[
        (lambda t=t: _integer_column(t))
        for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint64())
    ],
    lambda: (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    lambda: (pa.float32(), st.floats(width=32, allow_nan=True, allow_infinity=True)),
    lambda: (pa.string(), st.text(max_size=12)),
    lambda: (pa.large_string(), st.text(max_size=12)),
    lambda: (pa.binary(), st.binary(max_size=12)),
    lambda: (pa.bool_(), st.booleans()),
]


@st.composite
def _timestamp_column(draw: st.DrawFn) -> Column:
    unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
    tz = draw(st.sampled_from([None, "UTC", "Europe/Berlin", "-03:00"]))
    return pa.timestamp(unit, tz=tz), st.integers(-(2**62), 2**62)


@st.composite
def _scalar_column(draw: st.DrawFn) -> Column:
    return draw(
        st.one_of(st.sampled_from(_SCALAR_COLUMNS).map(lambda make: make()), _timestamp_column())
    )


@st.composite
def _list_column(draw: st.DrawFn) -> Column:
    item_type, items = draw(_scalar_column())
    make_list = draw(st.sampled_from([pa.list_, pa.large_list]))
    return make_list(item_type), st.lists(_nullable(items), max_size=4)


@st.composite
def _struct_column(draw: st.DrawFn) -> Column:
    count = draw(st.integers(1, 3))
    members = [draw(st.one_of(_scalar_column(), _list_column())) for _ in range(count)]
    names = [f"m{i}" for i in range(count)]
    struct_type = pa.struct([pa.field(n, t) for n, (t, _) in zip(names, members, strict=True)])
    values = st.fixed_dictionaries(
        {n: _nullable(v) for n, (_, v) in zip(names, members, strict=True)}
    )
    return struct_type, values


@st.composite
def _dictionary_column(draw: st.DrawFn) -> Column:
    words = draw(st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True))
    return pa.dictionary(pa.int32(), pa.string()), st.sampled_from(words)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, MAX_ROWS))
    width = draw(st.integers(1, 5))
    arrays = {}
    for i in range(width):
        data_type, values = draw(
            st.one_of(_scalar_column(), _list_column(), _struct_column(), _dictionary_column())
        )
        null_values = draw(st.sampled_from(["none", "some", "all"]))
        if null_values == "all":
            items = st.none()
        elif null_values == "some":
            items = _nullable(values)
        else:
            items = values
        column = draw(st.lists(items, min_size=rows, max_size=rows))
        if pa.types.is_dictionary(data_type):
            arrays[f"c{i}"] = pa.array(column, type=pa.string()).dictionary_encode()
        else:
            arrays[f"c{i}"] = pa.array(column, type=data_type)
    table = pa.table(arrays)
    # Random chunk layout: slices of the table (non-zero offsets), empty chunks allowed.
    cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=6)))
    bounds = [0, *cuts, rows]
    pieces = [table.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    return pa.concat_tables(pieces)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    table=tables(),
    compression=st.sampled_from(COMPRESSIONS),
    chunk_rows=st.integers(1, 500),
)
def test_decode_encode_is_identity(table: pa.Table, compression: str, chunk_rows: int) -> None:
    result = fio.decode(fio.encode(table, compression=compression, chunk_rows=chunk_rows))
    assert result.schema.equals(table.schema, check_metadata=True)
    assert result.num_rows == table.num_rows
    assert bitwise(result).equals(bitwise(table))
    for batch in result.to_batches():
        assert batch.num_rows <= chunk_rows + chunk_rows // 2


def test_generated_tables_really_vary() -> None:
    # Guards the strategy: it must produce NaNs, nesting, nulls and multi-chunk layouts.
    seen: set[str] = set()

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(table=tables())
    def collect(table: pa.Table) -> None:
        for column in table.columns:
            if column.null_count:
                seen.add("nulls")
            if pa.types.is_nested(column.type):
                seen.add("nested")
            if column.num_chunks > 1:
                seen.add("chunks")
        result = fio.decode(fio.encode(table))
        assert bitwise(result).equals(bitwise(table))

    collect()
    assert {"nulls", "nested", "chunks"} <= seen
