"""A polars LazyFrame over stored partition files (an IO-plugin scan), with each partition's
key as a string column, so that a filter on the key chooses the files before any is opened and
a projection decodes only the columns asked for. No Dagster import.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.stored.arrow_scan import stored_dataset
from dagster_fastio.stored.files import OnMissing, StoredFiles, first_stored_schema, projected
from dagster_fastio.tables.handlers import is_pandas_index_column
from dagster_fastio.tables.reads import TableReads

TYPE_CHECKING = False
if TYPE_CHECKING:
    import polars as pl

__all__ = ["chosen_files", "scan_partitions", "scan_stored"]


def _key_frame(parts: StoredFiles) -> pl.DataFrame:
    """One row per file, one string column per key column."""
    import polars as pl

    return pl.DataFrame(
        {name: [file.key[i] for file in parts.files] for i, name in enumerate(parts.key_columns)},
        schema={name: pl.String for name in parts.key_columns},
    )


# ---------------------------------------------------------------------------------------------
# Which files a predicate needs.


def _conjuncts(predicate: pl.Expr) -> list[pl.Expr]:
    """The terms of a top-level ``a & b & ...`` (the predicate itself otherwise)."""
    inputs = predicate.meta.pop()
    if len(inputs) == 2:
        # pop() lists a binary node's inputs right first; rebuilding the node and comparing
        # tells an "and" apart from every other binary node without parsing the plan.
        right, left = inputs
        if (left & right).meta.eq(predicate):
            return _conjuncts(left) + _conjuncts(right)
    return [predicate]


def chosen_files(parts: StoredFiles, predicate: pl.Expr | None) -> list[int]:
    """Indexes of the files whose rows the predicate can keep: the terms of the predicate that
    read key columns only are evaluated on the key values, one row per file. polars hands a
    scan only predicates it may apply row by row, so a term's value on a file's key row is its
    value on every row of that file."""
    import polars as pl

    everything = list(range(len(parts.uris)))
    if predicate is None or not parts.key_columns:
        return everything
    key_columns = set(parts.key_columns)
    terms = [
        term
        for term in _conjuncts(predicate)
        if (names := term.meta.root_names()) and set(names) <= key_columns
    ]
    if not terms:
        return everything
    try:
        keep = _key_frame(parts).select(pl.all_horizontal(terms).fill_null(False)).to_series()
    except pl.exceptions.PolarsError:
        # A term polars cannot evaluate on the keys alone: every file is read and filtered.
        return everything
    return [index for index, kept in enumerate(keep.to_list()) if kept]


# ---------------------------------------------------------------------------------------------
# The scans.


def scan_partitions(
    parts: StoredFiles,
    reads: TableReads,
    columns: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> pl.LazyFrame:
    """A LazyFrame over the partitions' files: the stored columns (``columns`` only, when
    given; pandas index columns dropped, as a polars input drops them) then the key columns.

    Only the first stored partition's footer is read now, for the schema. When collected, the
    files the predicate can keep are read through this package's reader (local, memory:// or a
    store with the storage options), only the columns the query uses, up to
    ``reads.workers`` files at a time; a missing one raises ``FileNotFoundError``, or is
    reported and skipped when ``allow_missing``.
    """
    import polars as pl
    from polars.io.plugins import register_io_source

    stored, first = first_stored_schema(parts, reads, allow_missing, on_missing)
    if columns is None:
        stored = pa.schema([f for f in stored if not is_pandas_index_column(f.name)])
    stored = projected(stored, columns, parts.key_columns)
    dtypes = dict(pl.DataFrame(pl.from_arrow(stored.empty_table())).schema)
    dtypes.update({name: pl.String() for name in parts.key_columns})
    key_index = {name: i for i, name in enumerate(parts.key_columns)}
    uris = parts.uris

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(with_columns) if with_columns is not None else list(dtypes)
        used = set(wanted) | set(predicate.meta.root_names() if predicate is not None else ())
        read_columns = [name for name in stored.names if name in used]
        keys = [name for name in parts.key_columns if name in used]
        files = [index for index in chosen_files(parts, predicate) if index >= first]

        def load(index: int) -> pa.Table | None:
            try:
                return _read_conformed(uris[index], reads, read_columns, stored)
            except FileNotFoundError:
                if not allow_missing:
                    raise FileNotFoundError(f"no table stored at {uris[index]}") from None
                return None

        left = n_rows
        # With a row limit the files are read one at a time: the first may be enough.
        window = 1 if n_rows is not None else reads.workers(len(files))
        for index, table in _read_ahead(load, files, window):
            if table is None:
                on_missing(uris[index])
                continue
            key = parts.files[index].key
            frame = _with_keys(table, {name: key[key_index[name]] for name in keys})
            if predicate is not None:
                frame = frame.filter(predicate)
            frame = frame.select(wanted)
            if left is not None:
                frame = frame.head(left)
                left -= frame.height
            yield frame
            if left == 0:
                return

    return register_io_source(
        source,
        schema=dtypes,
        is_pure=True,
        explain_name="fastio",
        explain_detail=f"{len(uris)} partition file(s)",
    )


def _read_conformed(uri: str, reads: TableReads, columns: list[str], schema: pa.Schema) -> pa.Table:
    """``columns`` of one file with the dataset's types; a column the file lacks is all null,
    as concatenating partitions fills it."""
    try:
        table = reads.read(uri, columns)
        if not columns:
            return table  # no columns, but its number of rows
    except ValueError:
        present = set(api.describe(uri, reads.storage_options).schema.names)
        if all(name in present for name in columns):
            raise
        table = reads.read(uri, [name for name in columns if name in present])
    arrays = []
    for name in columns:
        field = schema.field(name)
        if name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, field.type))
        else:
            column = table.column(name)
            arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema([schema.field(n) for n in columns]))


def _with_keys(table: pa.Table, keys: Mapping[str, str]) -> pl.DataFrame:
    import polars as pl

    if table.num_columns:
        frame = pl.DataFrame(pl.from_arrow(table))
        return frame.with_columns(pl.lit(value, pl.String).alias(n) for n, value in keys.items())
    # No stored column is used: the keys alone, one row per stored row.
    return pl.DataFrame(
        [
            pl.repeat(value, table.num_rows, dtype=pl.String, eager=True).alias(name)
            for name, value in keys.items()
        ]
    )


def _read_ahead(
    load: Callable[[int], Any], indexes: Iterable[int], window: int
) -> Iterator[tuple[int, Any]]:
    """``(index, load(index))`` in order, with up to ``window`` loads running (counting the
    one waited for): with a window of 1, nothing is loaded before it is asked for."""
    pending: deque[tuple[int, Future[Any]]] = deque()
    todo = iter(indexes)
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="fastio-dataset") as pool:
        try:
            while True:
                for index in todo:
                    pending.append((index, pool.submit(load, index)))
                    if len(pending) >= window:
                        break
                if not pending:
                    return
                index, future = pending.popleft()
                yield index, future.result()
        finally:
            for _, future in pending:
                future.cancel()


# ---------------------------------------------------------------------------------------------
# Every file of a reference.


def scan_stored(table: StoredFiles, storage_options: Mapping[str, str] | None) -> pl.LazyFrame:
    """A LazyFrame over every file of ``table``, with the key columns: Arrow IPC files through
    dagster-fastio's reader (every store), Parquet through a pyarrow dataset scan (local or S3);
    either way a filter on a key column chooses the files."""
    import polars as pl

    frames = []
    ipc = table.subset("ipc")
    if ipc.files:
        reads = TableReads(dict(storage_options) if storage_options else None)
        frames.append(scan_partitions(ipc, reads))
    if len(ipc.files) < len(table.files):
        frames.append(
            pl.scan_pyarrow_dataset(stored_dataset(table.subset("parquet"), storage_options))
        )
    if not frames:
        raise FileNotFoundError("no table file is stored")
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
