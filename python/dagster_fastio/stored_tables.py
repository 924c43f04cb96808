"""A reference to what FastIOManager stored for an asset: the table files (Arrow IPC or
Parquet, decided per partition), their partition keys, and, read from the footers only when
asked, the schema and row counts. Handed to an input annotated ``StoredTable`` instead of the
data, so a warehouse (DuckDB here), polars or pyarrow reads the files itself.

A StoredTable holds no secret: its repr shows URIs, and pickling it carries the URIs, formats
and keys but never the storage options. It is built with the I/O manager's options for use in
the step; one unpickled elsewhere reads with the environment's credentials (``AWS_*``, ...,
which the Rust core and pyarrow read by default), or with options given again through
``with_storage_options``. No Dagster, DuckDB or polars import until a method needs one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.arrow_filesystems import arrow_filesystem
from dagster_fastio.table_types import TYPE_METADATA_KEY

TYPE_CHECKING = False
if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    from dagster_fastio.layout import Location
    from dagster_fastio.storage import Storage

__all__ = ["FORMATS", "StoredFile", "StoredTable", "open_reference", "stored_table"]

FORMATS = ("ipc", "parquet")
"""The table formats FastIOManager stores: Arrow IPC (``.arrow``) and Parquet (``.parquet``)."""

# Schema metadata that describes an encoding rather than the table.
_ENCODING_METADATA = (TYPE_METADATA_KEY, b"ARROW:schema")

OnMissing = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One stored table file: where, in which format, and for which partition."""

    uri: str
    format: str
    """``"ipc"`` or ``"parquet"``."""
    partition_key: str | None = None
    """The Dagster partition key (``str()`` of a multi-partition key); None when unpartitioned."""
    key: tuple[str, ...] = ()
    """The file's value of each key column."""


class StoredTable:
    """The table files of an asset (all its partitions that the input maps, or its one file).

    Nothing is read when it is made. ``schema`` and ``row_counts`` read footers only (either
    format, through dagster-fastio's reader); ``dataset()``,
    ``to_duckdb()`` and ``scan_polars()`` return lazy scans that read what a query needs.
    Each partition's key is a string column (``partition_key`` for one dimension, one per
    dimension otherwise), so filtering on it chooses files before any is opened.
    """

    __slots__ = ("_cache", "_files", "_key_columns", "_storage_options")

    def __init__(
        self,
        files: Iterable[StoredFile],
        key_columns: Sequence[str] = (),
        *,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self._files = tuple(files)
        self._key_columns = tuple(key_columns)
        for file in self._files:
            if file.format not in FORMATS:
                raise ValueError(f"unknown format {file.format!r}: expected one of {FORMATS}")
            if len(file.key) != len(self._key_columns):
                raise ValueError(
                    f"{file.uri} has {len(file.key)} key value(s) for the key columns "
                    f"{list(self._key_columns)}"
                )
        self._storage_options = dict(storage_options) if storage_options else None
        self._cache: dict[str, Any] = {}

    # -- what is stored (no reads) --------------------------------------------------------

    @property
    def files(self) -> tuple[StoredFile, ...]:
        return self._files

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self._key_columns

    @property
    def uris(self) -> list[str]:
        return [file.uri for file in self._files]

    @property
    def formats(self) -> dict[str, str]:
        """Each file's format, by URI."""
        return {file.uri: file.format for file in self._files}

    @property
    def partitions(self) -> dict[str, str]:
        """The URI of each stored partition, by Dagster partition key ({} unpartitioned)."""
        return {f.partition_key: f.uri for f in self._files if f.partition_key is not None}

    def with_storage_options(self, storage_options: Mapping[str, str] | None) -> StoredTable:
        """The same files, read with these object-store options (object_store's keys)."""
        return StoredTable(self._files, self._key_columns, storage_options=storage_options)

    # -- footers --------------------------------------------------------------------------

    @property
    def stored_schema(self) -> pa.Schema:
        """The stored columns, from the first file's footer (the dataset's schema, as for
        the other dataset inputs: a later partition missing a column reads it as null)."""
        if "schema" not in self._cache:
            if not self._files:
                raise FileNotFoundError("no table file is stored")
            schema, _ = self._footer(self._files[0])
            self._cache["schema"] = schema
        return self._cache["schema"]

    @property
    def schema(self) -> pa.Schema:
        """The stored columns then the key columns (strings): the schema of ``dataset()``."""
        stored = self.stored_schema
        clash = [name for name in self._key_columns if name in stored.names]
        if clash:
            raise ValueError(
                f"the stored table has a column named {clash[0]!r}, which is also the name of "
                "a partition key column: name the key columns with input metadata "
                "{'fastio/partition_columns': ...}"
            )
        keys = [pa.field(name, pa.string()) for name in self._key_columns]
        return pa.schema([*stored, *keys], metadata=stored.metadata)

    @property
    def row_counts(self) -> dict[str, int]:
        """Each file's row count, by URI, from the footers (read concurrently, once)."""
        if "rows" not in self._cache:
            workers = max(1, min(len(self._files), 8))
            with ThreadPoolExecutor(workers, thread_name_prefix="fastio-footers") as pool:
                rows = list(pool.map(lambda file: self._footer(file)[1], self._files))
            self._cache["rows"] = {f.uri: n for f, n in zip(self._files, rows, strict=True)}
        return dict(self._cache["rows"])

    @property
    def num_rows(self) -> int:
        return sum(self.row_counts.values())

    def _footer(self, file: StoredFile) -> tuple[pa.Schema, int]:
        # Either format's footer, in one ranged read on any store this package reaches.
        footer = api.read_footer(file.uri, self._storage_options)
        schema = footer.schema
        rows = footer.rows
        if rows is None:  # another writer's IPC file: the batches' lengths
            rows = api.describe(file.uri, self._storage_options).rows
        kept = {k: v for k, v in (schema.metadata or {}).items() if k not in _ENCODING_METADATA}
        return schema.with_metadata(kept or None), rows

    def _filesystem(self, uris: Sequence[str]) -> Any:
        return arrow_filesystem(
            uris,
            self._storage_options,
            instead="read the files with dagster_fastio.read, or store them on a local disk or S3",
        )

    # -- scans ----------------------------------------------------------------------------

    def subset(self, format: str) -> StoredTable:
        """The files of one format."""
        files = [file for file in self._files if file.format == format]
        subset = StoredTable(files, self._key_columns, storage_options=self._storage_options)
        if "schema" in self._cache:
            subset._cache["schema"] = self._cache["schema"]
        return subset

    def dataset(self, columns: Sequence[str] | None = None) -> ds.Dataset:
        """A pyarrow Dataset over the files (local or ``s3://``), each file's partition
        expression being its key values: ``dataset.to_table(filter=ds.field("partition_key")
        == "2024-01-05")`` opens only that file. Arrow IPC and Parquet files together make a
        union of one dataset per format, with the same schema."""
        import pyarrow.dataset as ds

        schema = self.schema
        if columns is not None:
            missing = [name for name in columns if name not in self.stored_schema.names]
            if missing:
                raise ValueError(f"no column named {missing}; the columns are {schema.names}")
            keep = [*columns, *self._key_columns]
            schema = pa.schema([schema.field(name) for name in keep], metadata=schema.metadata)
        children = []
        for format in FORMATS:
            files = [file for file in self._files if file.format == format]
            if not files:
                continue
            filesystem, paths = self._filesystem([file.uri for file in files])
            expressions = []
            for file in files:
                expression = ds.scalar(True)
                for name, value in zip(self._key_columns, file.key, strict=True):
                    expression = expression & (ds.field(name) == value)
                expressions.append(expression)
            file_format = ds.ParquetFileFormat() if format == "parquet" else ds.IpcFileFormat()
            children.append(
                ds.FileSystemDataset.from_paths(
                    paths,
                    schema=schema,
                    format=file_format,
                    filesystem=filesystem,
                    partitions=expressions,
                )
            )
        if not children:
            raise FileNotFoundError("no table file is stored")
        return children[0] if len(children) == 1 else ds.dataset(children)

    def to_duckdb(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over the files on ``con`` (default: a new in-memory connection),
        nothing loaded into Python: local Parquet through DuckDB's ``read_parquet``, the rest
        through a pyarrow dataset that DuckDB pushes projections and filters into."""
        from dagster_fastio.duckdb_relations import relation

        if con is None:
            import duckdb

            con = duckdb.connect()
        return relation(self, con)

    def scan_polars(self) -> pl.LazyFrame:
        """A polars LazyFrame over the files, with the key columns: Arrow IPC files through
        dagster-fastio's reader (every store), Parquet through a pyarrow dataset scan (local
        or S3); either way a filter on a key column chooses the files."""
        import polars as pl

        from dagster_fastio.datasets import StoredPartitions, scan_partitions
        from dagster_fastio.layout import Location
        from dagster_fastio.storage import Storage

        frames = []
        ipc = [file for file in self._files if file.format == "ipc"]
        if ipc:
            storage = Storage(
                Location.base(os.getcwd()), None, None, None, self._storage_options, False, None
            )
            parts = StoredPartitions(
                self._key_columns, tuple(f.uri for f in ipc), tuple(f.key for f in ipc)
            )
            frames.append(scan_partitions(parts, storage))
        if len(ipc) < len(self._files):
            frames.append(pl.scan_pyarrow_dataset(self.subset("parquet").dataset()))
        if not frames:
            raise FileNotFoundError("no table file is stored")
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")

    # -- identity, repr, pickling: never the storage options --------------------------------

    def __repr__(self) -> str:
        counts = {format: 0 for format in FORMATS}
        for file in self._files:
            counts[file.format] += 1
        shown = ", ".join(repr(file.uri) for file in self._files[:3])
        more = f", ... {len(self._files) - 3} more" if len(self._files) > 3 else ""
        formats = ", ".join(f"{n} {format}" for format, n in counts.items() if n)
        return (
            f"StoredTable({len(self._files)} file(s): {formats or 'none'}; key columns "
            f"{list(self._key_columns)}; [{shown}{more}])"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredTable):
            return NotImplemented
        return (self._files, self._key_columns) == (other._files, other._key_columns)

    def __hash__(self) -> int:
        return hash((self._files, self._key_columns))

    def __reduce__(self) -> tuple[Any, ...]:
        # The storage options stay behind: the unpickled copy reads with the environment's
        # credentials, or with options given to with_storage_options.
        return (StoredTable, (self._files, self._key_columns))


# ---------------------------------------------------------------------------------------------
# Building one from the layout: which format each partition is stored in.


def _stored_format(stem: Location, storage: Storage) -> str | None:
    """``"parquet"`` or ``"ipc"``, whichever table file the stem has, else None. When both
    are there (a write that died before removing the other format's file), the storage's
    format wins, as it does for every other load (``Storage.table_paths``)."""
    first, second = storage.table_paths(stem)
    candidates = tuple(
        ("parquet" if path.text.endswith(".parquet") else "ipc", path) for path in (first, second)
    )
    for format, location in candidates:
        if location.remote:
            if storage.exists(location.text):
                return format
        elif os.path.isfile(location.text):
            return format
    return None


def stored_table(
    storage: Storage,
    stem: Location,
    partition_stems: Mapping[str, Location] | None,
    metadata: Mapping[str, Any],
    *,
    on_missing: OnMissing = lambda uri: None,
) -> StoredTable | None:
    """What is stored under the partitions' stems (None: the unpartitioned ``stem``); None
    when nothing is. A missing partition raises ``FileNotFoundError`` unless the input allows
    missing partitions (input metadata ``allow_missing_partitions``): then it is reported."""
    from dagster_fastio.datasets import PARTITION_COLUMNS_METADATA_KEY, StoredPartitions

    if partition_stems is None:
        stems: dict[str | None, Location] = {None: stem}
        key_columns: tuple[str, ...] = ()
        keys: tuple[tuple[str, ...], ...] = ((),)
    else:
        parts = StoredPartitions.of(partition_stems, metadata.get(PARTITION_COLUMNS_METADATA_KEY))
        stems = dict(partition_stems)
        key_columns, keys = parts.key_columns, parts.keys
    remote = any(location.remote for location in stems.values())
    workers = storage.workers(len(stems)) if remote else 1
    with ThreadPoolExecutor(workers, thread_name_prefix="fastio-formats") as pool:
        formats = list(pool.map(lambda s: _stored_format(s, storage), stems.values()))
    allow_missing = bool(metadata.get("allow_missing_partitions")) and partition_stems is not None
    files = []
    for (partition_key, location), key, format in zip(stems.items(), keys, formats, strict=True):
        if format is None:
            if not allow_missing and partition_stems is not None:
                raise FileNotFoundError(
                    f"no table stored at {location.table} (nor {location.parquet}): has the "
                    f"partition {partition_key} been materialized?"
                )
            on_missing(location.table.text)
            continue
        uri = (location.parquet if format == "parquet" else location.table).text
        files.append(
            StoredFile(uri, format, None if partition_key is None else str(partition_key), key)
        )
    if not files:
        return None
    return StoredTable(files, key_columns, storage_options=storage.storage_options)


def open_reference(
    kind: str,
    storage: Storage,
    stem: Location,
    partition_stems: Mapping[str, Location] | None,
    metadata: Mapping[str, Any],
    *,
    optional: bool = False,
    on_missing: OnMissing = lambda uri: None,
) -> Any:
    """The input of a ``StoredTable`` (``kind="stored_table"``) or ``DuckDBPyRelation``
    (``kind="duckdb"``) annotation; None when nothing is stored and the input is optional."""
    table = stored_table(storage, stem, partition_stems, metadata, on_missing=on_missing)
    if table is None:
        if optional or partition_stems == {}:
            return None
        where = stem if partition_stems is None else f"{len(partition_stems)} partitions of {stem}"
        raise FileNotFoundError(
            f"no table stored at {where} (.arrow or .parquet): has the upstream output been "
            "materialized?"
        )
    if kind == "stored_table":
        return table
    from dagster_fastio.duckdb_relations import input_relation

    return input_relation(table, metadata)
