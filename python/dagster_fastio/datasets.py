"""A partitioned asset read as one dataset: a polars LazyFrame or a pyarrow Dataset over the
stored partition files, with each partition's key as a string column, so that a filter on the
key chooses the files before any is opened and a projection decodes only the columns asked for.

The files stay where the layout puts them (Dagster's UPath layout): the key of each file comes
from the partition keys the caller passes, never from parsing paths. No Dagster import.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.arrow_filesystems import arrow_filesystem
from dagster_fastio.table_types import TYPE_METADATA_KEY, InputSpec, is_pandas_index_column

TYPE_CHECKING = False
if TYPE_CHECKING:
    import polars as pl
    import pyarrow.dataset as ds

    from dagster_fastio.layout import Location
    from dagster_fastio.storage import Storage

__all__ = [
    "DATASET_METADATA_KEY",
    "DEFAULT_PARTITION_COLUMN",
    "PARTITION_COLUMNS_METADATA_KEY",
    "StoredPartitions",
    "arrow_dataset",
    "dataset_kind",
    "open_dataset",
    "scan_partitions",
]

DATASET_METADATA_KEY = "fastio/dataset"
"""Input metadata: ``True`` turns a ``pl.LazyFrame`` input into a dataset scan with key columns
(a ``pyarrow.dataset.Dataset`` annotation asks for a dataset by itself)."""
PARTITION_COLUMNS_METADATA_KEY = "fastio/partition_columns"
"""Input metadata naming the key columns: a string for a one-dimension partitioning, a
``{dimension: column}`` dict for multi-partitions (dimensions left out keep their own name)."""
DEFAULT_PARTITION_COLUMN = "partition_key"
"""The key column of a one-dimension partitioning; multi-partitions default to one column per
dimension, named after the dimension."""

OnMissing = Callable[[str], None]


# ---------------------------------------------------------------------------------------------
# What is read: one file per partition, and its key values.


@dataclass(frozen=True, slots=True)
class StoredPartitions:
    """The table files of an asset's partitions, in partition order, with each file's value of
    every key column (none for an unpartitioned asset: one file, no key column)."""

    key_columns: tuple[str, ...]
    uris: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]

    @staticmethod
    def of(
        stems: Mapping[str, Location],
        setting: Any = None,
        table_path: Callable[[Location], Location] = lambda stem: stem.table,
    ) -> StoredPartitions:
        """The partitions' table files under their stems (at ``table_path`` of each: the
        manager's format), keyed by Dagster partition key (a multi-partition key is a str with
        ``keys_by_dimension``)."""
        partition_keys = list(stems)
        dimensions = _dimensions(partition_keys)
        columns = key_column_names(dimensions, setting)
        if dimensions is None:
            keys = tuple((str(key),) for key in partition_keys)
        else:
            keys = tuple(
                tuple(key.keys_by_dimension[name] for name in dimensions)  # type: ignore[attr-defined]
                for key in partition_keys
            )
        uris = tuple(table_path(stem).text for stem in stems.values())
        return StoredPartitions(columns, uris, keys)

    @staticmethod
    def single(
        stem: Location, table_path: Callable[[Location], Location] = lambda stem: stem.table
    ) -> StoredPartitions:
        return StoredPartitions((), (table_path(stem).text,), ((),))

    def key_frame(self) -> pl.DataFrame:
        """One row per file, one string column per key column."""
        import polars as pl

        return pl.DataFrame(
            {name: [key[i] for key in self.keys] for i, name in enumerate(self.key_columns)},
            schema={name: pl.String for name in self.key_columns},
        )


def _dimensions(partition_keys: Sequence[str]) -> tuple[str, ...] | None:
    """The dimension names (sorted, as the layout orders folders), or None for one dimension."""
    found = {
        None if by_dimension is None else tuple(sorted(by_dimension))
        for by_dimension in (getattr(key, "keys_by_dimension", None) for key in partition_keys)
    }
    if len(found) > 1:
        raise ValueError("the partition keys do not all have the same dimensions")
    return found.pop() if found else None


def key_column_names(dimensions: tuple[str, ...] | None, setting: Any) -> tuple[str, ...]:
    """The key columns for these dimensions (None: one dimension) under the input's setting."""
    if dimensions is None:
        if setting is None:
            return (DEFAULT_PARTITION_COLUMN,)
        if isinstance(setting, str) and setting:
            return (setting,)
        raise ValueError(
            f"{PARTITION_COLUMNS_METADATA_KEY} of a one-dimension partitioning is one column "
            f"name (a non-empty str), got {type(setting).__name__}"
        )
    if setting is None:
        return dimensions
    if not isinstance(setting, Mapping):
        raise ValueError(
            f"{PARTITION_COLUMNS_METADATA_KEY} of a multi-partitioning maps dimensions to "
            f"columns, {{dimension: column}}, for the dimensions {list(dimensions)}"
        )
    unknown = sorted(set(setting) - set(dimensions))
    if unknown:
        raise ValueError(
            f"{PARTITION_COLUMNS_METADATA_KEY} names dimensions {unknown} that the partitions "
            f"do not have: expected some of {list(dimensions)}"
        )
    names = tuple(setting.get(name, name) for name in dimensions)
    if not all(isinstance(name, str) and name for name in names) or len(set(names)) < len(names):
        raise ValueError(
            f"{PARTITION_COLUMNS_METADATA_KEY} must give each dimension its own non-empty "
            f"column name, got {list(names)}"
        )
    return names


# ---------------------------------------------------------------------------------------------
# The dataset's schema: the first stored partition's, read from its footer.


def _stored_schema(
    parts: StoredPartitions, storage: Storage, allow_missing: bool, on_missing: OnMissing
) -> tuple[pa.Schema, int]:
    """The schema of the first partition stored (without this package's type mark), and the
    index of that partition; earlier missing ones are reported when ``allow_missing``."""
    for index, uri in enumerate(parts.uris):
        try:
            if uri.endswith(".parquet"):
                schema = api.read_footer(uri, storage.storage_options).schema
            else:
                schema = api.describe(uri, storage.storage_options).schema
        except FileNotFoundError:
            if not allow_missing:
                raise FileNotFoundError(f"no table stored at {uri}") from None
            on_missing(uri)
            continue
        metadata = dict(schema.metadata or {})
        metadata.pop(TYPE_METADATA_KEY, None)
        return schema.with_metadata(metadata), index
    raise FileNotFoundError(
        f"none of the {len(parts.uris)} partitions is stored (the first would be "
        f"{parts.uris[0] if parts.uris else 'nowhere'})"
    )


def _projected(schema: pa.Schema, columns: Sequence[str] | None, keys: Sequence[str]) -> pa.Schema:
    """The stored columns a dataset exposes; a stored column named like a key column is an
    error rather than a guess at which of the two the caller means."""
    if columns is not None:
        missing = [name for name in columns if name not in schema.names]
        if missing:
            raise ValueError(f"no column named {missing}; the columns are {schema.names}")
        schema = pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)
    clash = [name for name in keys if name in schema.names]
    if clash:
        raise ValueError(
            f"the stored table has a column named {clash[0]!r}, which is also the name of a "
            f"partition key column: name the key columns with input metadata "
            f"{{{PARTITION_COLUMNS_METADATA_KEY!r}: ...}}, or leave the column out with "
            f"{{'columns': [...]}}"
        )
    return schema


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


def chosen_files(parts: StoredPartitions, predicate: pl.Expr | None) -> list[int]:
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
        keep = parts.key_frame().select(pl.all_horizontal(terms).fill_null(False)).to_series()
    except pl.exceptions.PolarsError:
        # A term polars cannot evaluate on the keys alone: every file is read and filtered.
        return everything
    return [index for index, kept in enumerate(keep.to_list()) if kept]


# ---------------------------------------------------------------------------------------------
# polars: an IO-plugin scan.


def scan_partitions(
    parts: StoredPartitions,
    storage: Storage,
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
    ``storage.workers`` files at a time; a missing one raises ``FileNotFoundError``, or is
    reported and skipped when ``allow_missing``.
    """
    import polars as pl
    from polars.io.plugins import register_io_source

    stored, first = _stored_schema(parts, storage, allow_missing, on_missing)
    if columns is None:
        stored = pa.schema([f for f in stored if not is_pandas_index_column(f.name)])
    stored = _projected(stored, columns, parts.key_columns)
    dtypes = dict(pl.DataFrame(pl.from_arrow(stored.empty_table())).schema)
    dtypes.update({name: pl.String() for name in parts.key_columns})
    key_index = {name: i for i, name in enumerate(parts.key_columns)}

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
                return _read_conformed(parts.uris[index], storage, read_columns, stored)
            except FileNotFoundError:
                if not allow_missing:
                    raise FileNotFoundError(f"no table stored at {parts.uris[index]}") from None
                return None

        left = n_rows
        # With a row limit the files are read one at a time: the first may be enough.
        window = 1 if n_rows is not None else storage.workers(len(files))
        for index, table in _read_ahead(load, files, window):
            if table is None:
                on_missing(parts.uris[index])
                continue
            frame = _with_keys(table, {name: parts.keys[index][key_index[name]] for name in keys})
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
        explain_detail=f"{len(parts.uris)} partition file(s)",
    )


def _read_conformed(uri: str, storage: Storage, columns: list[str], schema: pa.Schema) -> pa.Table:
    """``columns`` of one file with the dataset's types; a column the file lacks is all null,
    as concatenating partitions fills it."""
    try:
        table = storage.read(uri, columns)
        if not columns:
            return table  # no columns, but its number of rows
    except ValueError:
        present = set(api.describe(uri, storage.storage_options).schema.names)
        if all(name in present for name in columns):
            raise
        table = storage.read(uri, [name for name in columns if name in present])
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
# pyarrow: a FileSystemDataset with one partition expression per file.


def arrow_dataset(
    parts: StoredPartitions,
    storage: Storage,
    columns: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> ds.Dataset:
    """A pyarrow Dataset over the partitions' files, each file's partition expression being
    its key values, so ``dataset.to_table(filter=ds.field("partition_key") == "a")`` (or a
    scanner, ``get_fragments(filter=...)``) opens only the files that can match.

    Local files and ``s3://`` objects (through pyarrow's S3FileSystem, built from the storage
    options) are supported; other stores raise ``ValueError`` naming what to use instead. The
    schema is the first stored partition's, plus the key columns; a partition missing a column
    reads it as null, as pyarrow's datasets do.
    """
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    filesystem, paths = arrow_filesystem(
        parts.uris,
        storage.storage_options,
        storage.memory_map,
        instead=(
            f"annotate the input pl.LazyFrame with input metadata "
            f"{{{DATASET_METADATA_KEY!r}: True}} (read through dagster-fastio's own reader, "
            "with the same key columns and pruning), or pa.Table"
        ),
    )
    stored, first = _stored_schema(parts, storage, allow_missing, on_missing)
    stored = _projected(stored, columns, parts.key_columns)
    schema = pa.schema(
        [*stored, *(pa.field(name, pa.string()) for name in parts.key_columns)],
        metadata=stored.metadata,
    )
    chosen = list(range(first, len(paths)))
    if allow_missing:
        # pyarrow cannot skip a file once it is in the dataset: absence is asked first, in one
        # call for all files (a stat each, or a HEAD each on a store).
        infos = filesystem.get_file_info([paths[index] for index in chosen])
        absent = pafs.FileType.NotFound
        missing = {i for i, info in zip(chosen, infos, strict=True) if info.type == absent}
        for index in missing:
            on_missing(parts.uris[index])
        chosen = [index for index in chosen if index not in missing]
    expressions = []
    for index in chosen:
        expression = ds.scalar(True)
        for name, value in zip(parts.key_columns, parts.keys[index], strict=True):
            expression = expression & (ds.field(name) == value)
        expressions.append(expression)
    return ds.FileSystemDataset.from_paths(
        [paths[index] for index in chosen],
        schema=schema,
        format=(
            ds.ParquetFileFormat()
            if all(uri.endswith(".parquet") for uri in parts.uris)
            else ds.IpcFileFormat()
        ),
        filesystem=filesystem,
        partitions=expressions,
    )


# ---------------------------------------------------------------------------------------------
# The I/O manager's hook.


def dataset_kind(spec: InputSpec, metadata: Mapping[str, Any]) -> str | None:
    """``"pyarrow"`` or ``"polars"`` when the input asks for a dataset, ``"duckdb"`` or
    ``"stored_table"`` for a reference to the stored files (``stored_tables``), else None (the
    input loads as it always did)."""
    if spec.reference is not None:
        return spec.reference
    if spec.dataset:
        return "pyarrow"
    asked = bool(metadata.get(DATASET_METADATA_KEY)) or (
        metadata.get(PARTITION_COLUMNS_METADATA_KEY) is not None
    )
    if not asked:
        return None
    if spec.table_type is None or spec.table_type.name != "polars.LazyFrame":
        raise ValueError(
            f"input metadata {DATASET_METADATA_KEY!r} / {PARTITION_COLUMNS_METADATA_KEY!r} "
            "applies to inputs annotated pl.LazyFrame (or pyarrow.dataset.Dataset)"
        )
    return "polars"


def open_dataset(
    kind: str,
    storage: Storage,
    stem: Location,
    partition_stems: Mapping[str, Location] | None,
    metadata: Mapping[str, Any],
    *,
    optional: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> Any:
    """The dataset of ``kind`` over the partitions' stems (None: the unpartitioned ``stem``)."""
    if kind in ("duckdb", "stored_table"):
        from dagster_fastio.stored_tables import open_reference

        return open_reference(
            kind,
            storage,
            stem,
            partition_stems,
            metadata,
            optional=optional,
            on_missing=on_missing,
        )
    columns = metadata.get("columns")
    allow_missing = bool(metadata.get("allow_missing_partitions"))
    if partition_stems is None:
        if optional and not storage.exists(storage.table_path(stem).text):
            return None
        parts = StoredPartitions.single(stem, storage.table_path)
    elif not partition_stems:
        return None
    else:
        parts = StoredPartitions.of(
            partition_stems, metadata.get(PARTITION_COLUMNS_METADATA_KEY), storage.table_path
        )
    build = arrow_dataset if kind == "pyarrow" else scan_partitions
    return build(parts, storage, columns, allow_missing=allow_missing, on_missing=on_missing)
