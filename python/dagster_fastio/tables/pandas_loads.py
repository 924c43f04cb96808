"""A stored table loaded as a pandas DataFrame without an Arrow copy held beside the frame.

``Table.to_pandas`` needs the whole Arrow table in memory while it fills the frame, so a load
peaks at both (about 1.9x the frame, where pickle needs 1.0-1.3x). Here the numeric columns,
most of a typical frame, go straight into the NumPy arrays the frame keeps: from a local file
the core decodes them into those arrays' memory, from a store they are copied there batch by
batch, each batch released once copied. Only the other columns (strings, timestamps,
categoricals, the index) go through ``to_pandas``, which builds the index, the dtypes and the
labels from the pandas metadata exactly as a whole-table conversion would. The result equals
``to_pandas()`` of the whole table, and every column is writable.

Reading two sets of columns costs nothing twice: a projected read decodes only its columns
(see the core's ``inflate``), so those columns are all it holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np

__all__ = ["DIRECT_ABOVE_BYTES", "load_frame"]

# Below this much numeric data the Arrow copy is small, and one read converted whole is
# quicker than two reads and a thread.
DIRECT_ABOVE_BYTES = 4 << 20


Fill = Callable[[list[str], list[int], int], "tuple[list[bytearray], list[Any]] | None"]
"""Decodes columns (names, widths, rows) straight into new bytearrays, with the validity of
each batch holding nulls; None where it cannot (a store object)."""


def load_frame(
    schema: pa.Schema,
    rows: int | None,
    read_batches: Callable[[list[str]], pa.RecordBatchReader],
    read_table: Callable[[list[str]], pa.Table],
    fill: Fill | None = None,
) -> Any | None:
    """The frame of a stored table with ``schema`` and ``rows``: its numeric columns decoded
    by ``fill`` straight into the frame's arrays where it can (a local file), else copied
    there batch by batch from ``read_batches``; the rest read by ``read_table`` and converted
    by ``to_pandas`` (each given the columns to read). None when this way does not apply
    (the row count unknown, little numeric data, labels the metadata rebuilds), and the caller
    converts the whole table instead."""
    if rows is None:
        return None
    plan = _plan(schema)
    if plan is None:
        return None
    direct, rest = plan
    if rows * sum(dtype.itemsize for dtype in direct.values()) < DIRECT_ABOVE_BYTES:
        return None
    import pandas as pd

    filled = (
        fill(list(direct), [dtype.itemsize for dtype in direct.values()], rows) if fill else None
    )
    if filled is not None:
        arrays = _arrays_of(schema, direct, *filled)
        others = read_table(rest)
    else:
        # The other columns decode meanwhile, on the core's threads: the copies below run on
        # this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(read_table, rest)
            arrays = _read_numeric(direct, rows, read_batches)
            others = pending.result()
    frame = others.to_pandas()
    del others
    numeric = pd.DataFrame(arrays, index=frame.index, copy=False)
    del arrays
    joined = pd.concat([frame, numeric], axis=1)
    result = joined[[name for name in schema.names if name not in _index_columns(schema)]]
    result.attrs = frame.attrs
    return result


def _arrays_of(
    schema: pa.Schema,
    direct: dict[str, np.dtype],
    buffers: list[bytearray],
    nulls: list[tuple[int, int, int, bytes]],
) -> dict[str, np.ndarray]:
    """The filled columns as arrays over their bytearrays (writable, owned by the frame), with
    nulls as NaN, as ``to_pandas`` makes them (an integer column holding any becomes float)."""
    import numpy as np  # with pandas, never without it

    names = list(direct)
    arrays = {
        name: np.frombuffer(buffer, dtype=direct[name])
        for name, buffer in zip(names, buffers, strict=True)
    }
    for column, start, count, validity in nulls:
        name = names[column]
        if arrays[name].dtype.kind in "iu":
            arrays[name] = arrays[name].astype(_with_nulls(schema.field(name).type))
        valid = np.unpackbits(np.frombuffer(validity, np.uint8), count=count, bitorder="little")
        arrays[name][start : start + count][valid == 0] = np.nan
    return arrays


def _read_numeric(
    direct: dict[str, np.dtype],
    rows: int,
    read_batches: Callable[[list[str]], pa.RecordBatchReader],
) -> dict[str, np.ndarray]:
    """The ``direct`` columns, batch by batch into arrays of ``rows``."""
    import numpy as np  # with pandas, never without it

    arrays = {name: np.empty(rows, dtype=dtype) for name, dtype in direct.items()}
    start = 0
    for batch in read_batches(list(direct)):
        stop = start + batch.num_rows
        if stop > rows:
            raise ValueError(f"the table holds more rows than its footer's {rows}")
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            arrays[name] = _fill(arrays[name], column, start, stop)
        start = stop
        del batch
    if start != rows:
        raise ValueError(f"the table holds {start} rows where its footer says {rows}")
    return arrays


def _pandas_metadata(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(b"pandas")
    return json.loads(raw) if raw else {}


def _index_columns(schema: pa.Schema) -> set[str]:
    """The columns holding the index (a range index is described, not stored)."""
    stored = _pandas_metadata(schema).get("index_columns", [])
    return {name for name in stored if isinstance(name, str)}


def _plan(schema: pa.Schema) -> tuple[dict[str, np.dtype], list[str]] | None:
    """The numeric columns read straight into arrays (with their dtype without nulls) and the
    other columns; None when the labels or the columns are not plain names."""

    metadata = _pandas_metadata(schema)
    if len(set(schema.names)) != len(schema.names):
        return None
    levels = metadata.get("column_indexes", [])
    # Labels other than plain strings are rebuilt from the metadata by to_pandas.
    if len(levels) > 1 or any(
        level.get("name") is not None or level.get("pandas_type") != "unicode" for level in levels
    ):
        return None
    described = {
        column.get("field_name"): column
        for column in metadata.get("columns", [])
        if column.get("field_name") is not None
    }
    index_columns = _index_columns(schema)
    direct: dict[str, np.dtype] = {}
    rest: list[str] = []
    for field in schema:
        dtype = _numeric_dtype(field.type)
        column = described.get(field.name)
        # The metadata may ask for another dtype (a nullable Int64, say) or another label.
        plain = column is None or (
            column.get("name") == field.name and column.get("numpy_type") == str(dtype)
        )
        if dtype is None or field.name in index_columns or not plain:
            rest.append(field.name)
        else:
            direct[field.name] = dtype
    if not rest and direct:
        # to_pandas builds the index, whose length it takes from the table it is given: that
        # table must have a column.
        rest.append(direct.popitem()[0])
    if not direct:
        return None
    return direct, rest


def _numeric_dtype(arrow_type: pa.DataType) -> np.dtype | None:
    import numpy as np  # with pandas, never without it

    if pa.types.is_integer(arrow_type) or (
        pa.types.is_floating(arrow_type) and not pa.types.is_float16(arrow_type)
    ):
        return np.dtype(arrow_type.to_pandas_dtype())
    return None


def _fill(target: np.ndarray, column: pa.Array, start: int, stop: int) -> np.ndarray:
    """Copies ``column`` into ``target[start:stop]``; nulls become NaN, as ``to_pandas`` makes
    them, which turns an integer array into a float one (returned in its place)."""
    import numpy as np  # with pandas, never without it

    if column.null_count and target.dtype.kind in "iu":
        target = target.astype(_with_nulls(column.type))
    raw = np.dtype(column.type.to_pandas_dtype())
    values = np.frombuffer(column.buffers()[1], dtype=raw)[
        column.offset : column.offset + len(column)
    ]
    place = target[start:stop]
    place[:] = values
    if column.null_count:
        place[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return target


def _with_nulls(arrow_type: pa.DataType) -> np.dtype:
    """The dtype ``to_pandas`` gives a column of ``arrow_type`` holding nulls."""
    return pa.array([None], type=arrow_type).to_pandas().dtype
