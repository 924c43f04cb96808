"""Python objects to Arrow streams, and back.

Everything that reaches the Rust core is an object with ``__arrow_c_stream__`` or
``__arrow_c_array__`` (the Arrow PyCapsule interface); this module turns pandas and polars
objects into one, without importing either library unless the object comes from it.
"""

from __future__ import annotations

import sys
from typing import Any

import pyarrow as pa

__all__ = ["polars_to_arrow", "to_arrow_source"]


def _is_instance_of(obj: Any, module: str, name: str) -> bool:
    # Only look at libraries the caller already imported: checking never imports them.
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls is not None and isinstance(obj, cls)


def polars_to_arrow(frame: Any) -> pa.Table:
    """A polars DataFrame as Arrow, without converting its string columns.

    polars holds strings as views; asking for its newest Arrow types keeps them as
    ``string_view`` (no copy, as polars' own ``write_ipc`` does) instead of rewriting every
    string into ``large_string``, which costs more than encoding the table.
    """
    return frame.to_arrow(compat_level=sys.modules["polars"].CompatLevel.newest())


def _has_dictionaries(schema: pa.Schema) -> bool:
    return any(pa.types.is_dictionary(field.type) for field in schema)


def to_arrow_source(data: Any) -> Any:
    """Returns an Arrow PyCapsule exporter for ``data``.

    pandas goes through ``pyarrow.Table.from_pandas``, which records the index and dtypes in
    the schema's pandas metadata so ``to_pandas()`` restores them; polars frames through
    ``to_arrow()`` (a LazyFrame is collected first). Tables get one dictionary per column,
    because an Arrow IPC file cannot replace a dictionary between batches.
    """
    if _is_instance_of(data, "pandas", "DataFrame"):
        data = pa.Table.from_pandas(data)
    elif _is_instance_of(data, "polars", "LazyFrame"):
        data = polars_to_arrow(data.collect())
    elif _is_instance_of(data, "polars", "DataFrame"):
        data = polars_to_arrow(data)
    if isinstance(data, pa.Table):
        return data.unify_dictionaries() if _has_dictionaries(data.schema) else data
    kind = f"{type(data).__module__}.{type(data).__qualname__}"
    if _is_one_column(data):
        # These export the Arrow C interfaces too, but as a column: the core would refuse it
        # with a message about C structs and data types.
        raise TypeError(
            f"cannot store a {kind} as an Arrow table: it is one column, not a table; name it, "
            "as in pa.table({'value': array}), series.to_frame() or pl.DataFrame(series)"
        )
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return data
    raise TypeError(
        f"cannot store a {kind} as an Arrow table: expected a pyarrow Table, RecordBatch or "
        "RecordBatchReader, a pandas or polars DataFrame, a polars LazyFrame, or an object "
        "with __arrow_c_stream__"
    )


def _is_one_column(data: Any) -> bool:
    # A struct array is a table's rows (its fields the columns), which the core takes.
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        return not pa.types.is_struct(data.type)
    return _is_instance_of(data, "pandas", "Series") or _is_instance_of(data, "polars", "Series")
