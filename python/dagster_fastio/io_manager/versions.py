"""Content versions for Dagster: the hash the encoder stores, as a ``dg.DataVersion``.

Dagster takes a data version only from the asset's own ``Output`` / ``MaterializeResult`` (or
an observation), never from an I/O manager, so these helpers give the asset the same hash the
manager will store: ``data_version(obj)`` before returning an output, and
``stored_data_version`` for observable source assets, from a footer alone.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.tables.handlers import table_type_of

__all__ = ["data_version", "stored_data_version"]


def data_version(obj: Any) -> dg.DataVersion:
    """The data version FastIOManager records for ``obj`` (its stored content hash):

    ``return dg.MaterializeResult(value=frame, data_version=data_version(frame))``.

    ``obj`` is a table the manager stores in memory (pyarrow, pandas, polars DataFrame): a
    stream (RecordBatchReader, LazyFrame) would be consumed by hashing it, and is refused, as
    are objects the manager pickles.
    """
    table_type = table_type_of(obj)
    if table_type is None or table_type.name in ("pyarrow.RecordBatchReader", "polars.LazyFrame"):
        raise TypeError(
            f"data_version needs a table held in memory (pyarrow, pandas or polars DataFrame), "
            f"not {type(obj).__qualname__}: a stream is hashed as it is written, so read "
            "`content_hash` from the output metadata instead"
        )
    # Converted as the manager converts it (with the Python type it records), so the hash
    # is the one the stored file's footer will carry.
    data = table_type.to_arrow(obj)
    if isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    digest = api.content_hash(data)
    if digest is None:
        raise TypeError(f"{type(obj).__qualname__} has a column type the content hash cannot cover")
    return dg.DataVersion(digest)


def stored_data_version(
    uri: str, storage_options: dict[str, str] | None = None
) -> dg.DataVersion | None:
    """The data version of the table stored at ``uri``, from its footer (one ranged read on a
    store); None when nothing is stored there or its writer recorded no hash."""
    try:
        digest = api.read_footer(uri, storage_options).content_hash
    except FileNotFoundError:
        return None
    return None if digest is None else dg.DataVersion(digest)
