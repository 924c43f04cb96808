"""What is stored for an asset: its table files (Arrow IPC or Parquet, decided per partition),
their partition keys, and, read from the footers only when asked, the schema and row counts.
The scans over the files (``arrow_scan``, ``polars_scan``, ``duckdb_scan``) take this model;
``StoredTable`` (``stored.table``) adds them to it as methods.

The files stay where the layout puts them (Dagster's UPath layout): the key of each file comes
from the partition keys the caller passes, never from parsing paths. A model holds no secret:
its repr shows URIs, and pickling it carries the URIs, formats and keys but never the storage
options. No Dagster, DuckDB or polars import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dagster_fastio import api
from dagster_fastio.keys import PARTITION_COLUMNS_METADATA_KEY, TYPE_METADATA_KEY
from dagster_fastio.options import FORMATS
from dagster_fastio.stored.layout import Location
from dagster_fastio.tables.reads import TableReads
from dagster_fastio.uris import is_parquet_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_PARTITION_COLUMN",
    "OnMissing",
    "StoredFile",
    "StoredFiles",
    "file_format",
    "first_stored_schema",
    "key_column_names",
    "partition_keys",
    "projected",
]

DEFAULT_PARTITION_COLUMN = "partition_key"
"""The key column of a one-dimension partitioning; multi-partitions default to one column per
dimension, named after the dimension."""

# Schema metadata that describes an encoding rather than the table.
_ENCODING_METADATA = (TYPE_METADATA_KEY, b"ARROW:schema")

OnMissing = Callable[[str], None]
"""Told the URI of a partition file that is missing, when the input allows missing ones."""


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


def file_format(uri: str) -> str:
    """The format of a table file this package wrote, from its suffix."""
    return "parquet" if is_parquet_path(uri) else "ipc"


class StoredFiles:
    """The table files of an asset (all its partitions that the input maps, or its one file),
    each with its format and its value of every key column.

    Nothing is read when it is made. ``schema`` and ``row_counts`` read footers only (either
    format, through dagster-fastio's reader). ``StoredTable`` adds the scans over the files.
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

    def with_storage_options(self, storage_options: Mapping[str, str] | None) -> Self:
        """The same files, read with these object-store options (object_store's keys)."""
        return type(self)(self._files, self._key_columns, storage_options=storage_options)

    def subset(self, format: str) -> Self:
        """The files of one format."""
        files = [file for file in self._files if file.format == format]
        subset = type(self)(files, self._key_columns, storage_options=self._storage_options)
        if "schema" in self._cache:
            subset._cache["schema"] = self._cache["schema"]
        return subset

    # -- from the layout: where the partitions' files are --------------------------------------

    @classmethod
    def of(
        cls,
        stems: Mapping[str, Location],
        setting: Any = None,
        table_path: Callable[[Location], Location] = lambda stem: stem.table,
        *,
        storage_options: Mapping[str, str] | None = None,
    ) -> Self:
        """The partitions' table files under their stems (at ``table_path`` of each: the
        manager's format), keyed by Dagster partition key (a multi-partition key is a str with
        ``keys_by_dimension``); ``setting`` names the key columns (input metadata
        ``fastio/partition_columns``). Nothing is asked of the store."""
        columns, keys = partition_keys(stems, setting)
        files = []
        for (partition_key, stem), key in zip(stems.items(), keys, strict=True):
            uri = table_path(stem).text
            files.append(StoredFile(uri, file_format(uri), str(partition_key), key))
        return cls(files, columns, storage_options=storage_options)

    @classmethod
    def single(
        cls,
        stem: Location,
        table_path: Callable[[Location], Location] = lambda stem: stem.table,
        *,
        storage_options: Mapping[str, str] | None = None,
    ) -> Self:
        """The one table file of an unpartitioned asset: no key column."""
        uri = table_path(stem).text
        return cls([StoredFile(uri, file_format(uri))], storage_options=storage_options)

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

    # -- identity, repr, pickling: never the storage options --------------------------------

    def __repr__(self) -> str:
        counts = {format: 0 for format in FORMATS}
        for file in self._files:
            counts[file.format] += 1
        shown = ", ".join(repr(file.uri) for file in self._files[:3])
        more = f", ... {len(self._files) - 3} more" if len(self._files) > 3 else ""
        formats = ", ".join(f"{n} {format}" for format, n in counts.items() if n)
        return (
            f"{type(self).__name__}({len(self._files)} file(s): {formats or 'none'}; key columns "
            f"{list(self._key_columns)}; [{shown}{more}])"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredFiles):
            return NotImplemented
        return (self._files, self._key_columns) == (other._files, other._key_columns)

    def __hash__(self) -> int:
        return hash((self._files, self._key_columns))

    def __reduce__(self) -> tuple[Any, ...]:
        # The storage options stay behind: the unpickled copy reads with the environment's
        # credentials, or with options given to with_storage_options.
        return (type(self), (self._files, self._key_columns))


# ---------------------------------------------------------------------------------------------
# Key columns: their names, and each partition's values.


def partition_keys(
    stems: Mapping[str, Location], setting: Any
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The key columns of these partitions under the input's ``setting``, and each partition's
    value of every key column, in the stems' order."""
    partition_keys = list(stems)
    dimensions = _dimensions(partition_keys)
    columns = key_column_names(dimensions, setting)
    if dimensions is None:
        return columns, tuple((str(key),) for key in partition_keys)
    keys = tuple(
        tuple(key.keys_by_dimension[name] for name in dimensions)  # type: ignore[attr-defined]
        for key in partition_keys
    )
    return columns, keys


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


def first_stored_schema(
    parts: StoredFiles, reads: TableReads, allow_missing: bool, on_missing: OnMissing
) -> tuple[pa.Schema, int]:
    """The schema of the first partition stored (without this package's type mark), and the
    index of that partition; earlier missing ones are reported when ``allow_missing``."""
    for index, uri in enumerate(parts.uris):
        try:
            if is_parquet_path(uri):
                schema = api.read_footer(uri, reads.storage_options).schema
            else:
                schema = api.describe(uri, reads.storage_options).schema
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


def projected(schema: pa.Schema, columns: Sequence[str] | None, keys: Sequence[str]) -> pa.Schema:
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
