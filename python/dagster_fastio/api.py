"""The standalone API: ``encode`` / ``decode`` / ``write`` / ``read`` / ``read_batches`` /
``open_writer``, plus pickles, ``describe`` and the location operations. No Dagster needed.

This is the only module that calls the native ``_core``: everything else goes through here.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from dagster_fastio import _core
from dagster_fastio.convert import to_arrow_source
from dagster_fastio.errors import (
    CorruptFileError,
    FastIOError,
    NotPicklableError,
    ObjectChangedError,
    StoreError,
)

__all__ = [
    "COMPAT_LEVELS",
    "COMPRESSIONS",
    "FORMATS",
    "PARQUET_COMPRESSIONS",
    "BatchSummary",
    "ColumnStats",
    "Footer",
    "IpcSummary",
    "StoredObject",
    "WriteInfo",
    "Writer",
    "__version__",
    "column_stats_of",
    "content_hash",
    "decode",
    "delete",
    "delete_all",
    "describe",
    "encode",
    "exists",
    "list_objects",
    "open_writer",
    "read",
    "read_batches",
    "read_footer",
    "read_object",
    "read_pickle",
    "read_pickle_payload",
    "stored_size",
    "write",
    "write_partitions",
    "write_pickle",
]

__version__ = _core.__version__

Compression = Literal["zstd", "lz4", "none"]
ParquetCompression = Literal["zstd", "snappy", "lz4", "none"]
"""A Parquet file's codecs: ``lz4`` is LZ4_RAW, ``snappy`` for Parquet only."""
PARQUET_COMPRESSIONS: tuple[str, ...] = ("zstd", "snappy", "lz4", "none")
Format = Literal["ipc", "parquet"]
FORMATS: tuple[str, ...] = ("ipc", "parquet")
Compat = Literal["standard", "wide", "none"]
"""Types rewritten for other readers; see the README's "Which readers open what"."""
COMPAT_LEVELS: tuple[str, ...] = ("standard", "wide", "none")
Filter = tuple[str, str, Any]
"""``(column, operator, value)``, the operator one of ``== != < <= > >=``."""
# The core's names, the one list the API, FastIOManager's config and the CLI check against
# (tests/test_writer.py checks the Literal above says the same).
COMPRESSIONS: tuple[str, ...] = tuple(_core.COMPRESSIONS)
PathOrUri = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """One column's statistics as the encoder gathered them."""

    name: str
    null_count: int
    min: str | None
    """The smallest value as Arrow displays it (ISO dates and times, UTC instants); None for
    types without an order (lists, structs, dictionaries, intervals) or an all-null column."""
    max: str | None


@dataclass(frozen=True, slots=True)
class WriteInfo:
    """What one ``write`` (or ``open_writer`` session) stored."""

    uri: str
    rows: int
    batches: int
    raw_bytes: int
    """Size of the Arrow data in memory, before compression."""
    stored_bytes: int
    """Size of the stored file."""
    parts: int
    """Upload parts (1 for a local file)."""
    seconds: float
    compression: str
    content_hash: str | None = None
    """``xxh3-128:<hex>`` of the table's schema and values, whatever its batches and codec."""
    column_stats: tuple[ColumnStats, ...] = ()
    """Null count, smallest and largest value of each column."""
    written: bool = True
    """False when the stored file already held this content and was left as it was."""
    format: str = "ipc"
    """``"ipc"`` or ``"parquet"``; ``"pickle"`` for a zstd pickle."""

    @property
    def compression_ratio(self) -> float:
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else 0.0

    @property
    def throughput_mb_s(self) -> float:
        return self.raw_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def column_stats_of(text: str | None) -> tuple[ColumnStats, ...]:
    if not text:
        return ()
    return tuple(
        ColumnStats(c["name"], c["null_count"], c["min"], c["max"]) for c in json.loads(text)
    )


def is_remote(uri: PathOrUri) -> bool:
    """Whether ``uri`` names an object in a store rather than a local file."""
    text = os.fspath(uri)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() != "file"


def _column_list(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        return [columns]
    names = list(columns)
    for name in names:
        # str(1) or str(None) would silently ask for a column named "1" or "None".
        if not isinstance(name, str):
            raise TypeError(
                f"columns must be column names (str), got {name!r} ({type(name).__name__})"
            )
    return names


# Start of every message of the core's CorruptFileError and StoreError, also when they reach
# Python as the error of an Arrow stream that pyarrow is reading.
_CORRUPT_MESSAGE = "corrupt or unsupported Arrow IPC data"
_CORRUPT_PARQUET_MESSAGE = "corrupt or unsupported Parquet data"
_STORE_MESSAGE = "object store error at "
_CHANGED_MESSAGE = "the object changed while it was being read"


def format_of(uri: PathOrUri, format: str | None) -> str:
    """The format asked for, else the one a ``.parquet`` suffix names, else Arrow IPC."""
    if format is not None:
        chosen = str(format).lower()
        if chosen not in FORMATS:
            raise ValueError(f"unknown format {format!r}: expected 'ipc' or 'parquet'")
        return chosen
    return "parquet" if os.fspath(uri).lower().endswith(".parquet") else "ipc"


def _native_filters(filters: Sequence[Filter] | None) -> list[tuple[str, str, pa.Array]] | None:
    """Filters with each value as a one-element Arrow array (the core casts it to the
    column's type)."""
    if not filters:
        return None
    native = []
    for item in filters:
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise TypeError(
                f"a filter is a (column, operator, value) tuple, not {item!r}; a list of them "
                "is AND-ed"
            )
        column, operator, value = item
        if not isinstance(column, str) or not isinstance(operator, str):
            raise TypeError(f"a filter's column and operator are strings, not {item!r}")
        array = value if isinstance(value, pa.Array) else pa.array([value])
        native.append((column, operator, array))
    return native


def _read_arguments(
    uri: PathOrUri,
    columns: Sequence[str] | None,
    storage_options: dict[str, str] | None,
    memory_map: bool,
    format: str | None,
    filters: Sequence[Filter] | None,
) -> tuple[Any, ...]:
    """The native read functions' arguments, in their order."""
    return (
        os.fspath(uri),
        _column_list(columns),
        storage_options,
        memory_map,
        format_of(uri, format),
        _native_filters(filters),
    )


def _stream_error(error: pa.ArrowException) -> FastIOError:
    for corrupt in (_CORRUPT_MESSAGE, _CORRUPT_PARQUET_MESSAGE):
        if corrupt in str(error):
            return CorruptFileError(str(error).split(corrupt, 1)[-1].lstrip(": "))
    if _STORE_MESSAGE in str(error):
        message = _STORE_MESSAGE + str(error).split(_STORE_MESSAGE, 1)[-1]
        if _CHANGED_MESSAGE in message:
            return ObjectChangedError(message)
        return StoreError(message)
    return FastIOError(str(error))


def _read_all(native: object) -> pa.Table:
    """Imports a fully decoded native reader as a table."""
    try:
        return pa.RecordBatchReader.from_stream(native).read_all()
    except pa.ArrowInvalid as error:
        # The core decoded the data; pyarrow refusing its schema means the file describes
        # something no Arrow reader can hold (a NUL in a field name, for one).
        raise CorruptFileError(str(error)) from error


def _lazy_reader(native: object) -> pa.RecordBatchReader:
    """Imports a lazily decoding native reader, raising our errors from its batches."""
    try:
        source = pa.RecordBatchReader.from_stream(native)
    except pa.ArrowInvalid as error:
        raise CorruptFileError(str(error)) from error

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = source.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowException as error:
                raise _stream_error(error) from error
            yield batch

    return pa.RecordBatchReader.from_batches(source.schema, batches())


def _write_info(
    uri: PathOrUri,
    stats: _core.WriteStats,
    seconds: float,
    compression: str,
    format: str = "ipc",
) -> WriteInfo:
    return WriteInfo(
        uri=os.fspath(uri),
        rows=stats.rows,
        batches=stats.batches,
        raw_bytes=stats.raw_bytes,
        stored_bytes=stats.stored_bytes,
        parts=stats.parts,
        seconds=seconds,
        compression=compression.lower(),
        content_hash=stats.content_hash,
        column_stats=column_stats_of(stats.column_stats),
        format=format,
    )


def encode(
    data: Any,
    *,
    compression: Compression = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    metadata: Mapping[str, str] | None = None,
    content_hash: bool = False,
    statistics: bool = False,
    compat: Compat = "standard",
) -> pa.Buffer:
    """Encodes ``data`` as an Arrow IPC file (Feather v2) in memory.

    Returns a ``pyarrow.Buffer`` over the encoder's own memory (no copy); it supports the
    buffer protocol, so ``bytes(buf)``, ``memoryview(buf)`` and file writes accept it. The
    footer options are :func:`write`'s.
    """
    array, _ = _core.encode(
        to_arrow_source(data),
        {
            "compression": compression,
            "level": level,
            "chunk_rows": chunk_rows,
            "metadata": _footer_metadata(metadata),
            "content_hash": content_hash,
            "statistics": statistics,
            "compat": compat,
        },
    )
    return pa.array(array).buffers()[1]


def decode(data: Any, columns: Sequence[str] | None = None) -> pa.Table:
    """Decodes an Arrow IPC file or stream held in any bytes-like object.

    Uncompressed data is not copied: the table's columns point into ``data``.
    """
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    array = pa.Array.from_buffers(pa.uint8(), buffer.size, [None, buffer])
    return _read_all(_core.decode(array, _column_list(columns)))


def write(
    data: Any,
    uri: PathOrUri,
    *,
    compression: Compression | ParquetCompression = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    fsync: bool = False,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    metadata: Mapping[str, str] | None = None,
    content_hash: bool = False,
    statistics: bool = False,
    format: Format | None = None,
    compat: Compat = "standard",
) -> WriteInfo:
    """Writes ``data`` to ``uri`` as an Arrow IPC file (or Parquet), replacing any previous
    version atomically.

    ``uri`` is a local path, ``file://``, ``s3://``, ``gs://``, ``az://`` or ``memory://``. A
    store object is uploaded while it is encoded, in parts of ``part_size`` bytes (default
    16 MiB, growing past 500 parts) with ``max_concurrency`` (default 8) in flight, or in one
    PUT when it fits in one part; a failure aborts the upload and keeps the previous version.
    ``storage_options`` take object_store's keys (``aws_endpoint``, ``aws_region``, ...) on top
    of the environment; ``max_retries`` and ``retry_timeout`` (seconds) tune retries.

    The footer records the row count, the codec and ``metadata`` (str keys and values), and
    when asked the content hash (``content_hash=True``, see :func:`content_hash`) and
    per-column null counts and bounds (``statistics=True``); :func:`read_footer` reads them
    back without the data. Each of the two reads every value once more on the encoding
    workers, which costs a lz4 write a fifth of its time (benches/RESULTS.md), so both are
    off unless asked for; FastIOManager asks for both.

    ``format="parquet"`` (the default for a ``.parquet`` ``uri``) writes a Parquet file whose
    row groups' columns are encoded in parallel, with dictionary encoding and page statistics;
    ``compression`` is then ``zstd`` (default, level 1), ``snappy``, ``lz4`` (LZ4_RAW) or
    ``none``, ``chunk_rows`` caps the rows of a row group (row groups are otherwise cut at
    64 MiB of Arrow data), and ``statistics`` is moot: Parquet keeps its own.

    ``compat`` rewrites types other readers cannot open (README, "Which readers open what"):
    ``"standard"`` (default) stores list views as lists, run-end encoded columns as their
    values and 256-bit decimals of precision up to 38 as 128-bit ones, which is lossless and
    costs nothing for tables without them; ``"wide"`` also stores string and binary views as
    large strings and binaries and half floats as floats, for pyarrow before 16, pandas and
    DuckDB; ``"none"`` stores every type as it arrived.
    """
    chosen = format_of(uri, format)
    source = to_arrow_source(data)
    start = time.perf_counter()
    stats = _core.write_file(
        source,
        os.fspath(uri),
        {
            "format": chosen,
            "compression": compression,
            "level": level,
            "chunk_rows": chunk_rows,
            "metadata": _footer_metadata(metadata),
            "content_hash": content_hash,
            "statistics": statistics,
            "compat": compat,
            "fsync": fsync,
            "part_size": part_size,
            "max_concurrency": max_concurrency,
        },
        storage_options,
    )
    return _write_info(uri, stats, time.perf_counter() - start, compression, chosen)


def read(
    uri: PathOrUri,
    columns: Sequence[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    *,
    format: Format | None = None,
    filters: Sequence[Filter] | None = None,
) -> pa.Table:
    """Reads a whole Arrow IPC file or stream, or a Parquet file.

    A local file is read into memory (in parallel), so nothing another program does to it
    meanwhile can harm the process: a file cut short is a ``CorruptFileError``. With
    ``memory_map=True`` it is mapped instead and the columns of an uncompressed file point into
    the mapping (zero-copy); as with pyarrow's ``memory_map=True``, another program truncating
    the file while such a table is alive then kills the process with SIGBUS (dagster-fastio
    itself always replaces files by rename, which is safe). A store object's footer is fetched
    first, then its batches in concurrent ranged requests, decoded as they arrive.

    ``format`` is inferred from a ``.parquet`` suffix. A Parquet file's footer is read first,
    then only the column chunks of ``columns`` in the row groups ``filters`` may match (by
    their statistics), decoded in parallel. ``filters`` (``[("col", ">=", value), ...]``,
    AND-ed, as pyarrow's) keep only the rows that pass, in either format.
    """
    native = _core.read_file(
        *_read_arguments(uri, columns, storage_options, memory_map, format, filters)
    )
    return _read_all(native)


def read_batches(
    uri: PathOrUri,
    columns: Sequence[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    *,
    format: Format | None = None,
    filters: Sequence[Filter] | None = None,
) -> pa.RecordBatchReader:
    """Opens an Arrow IPC file or stream (or a Parquet file) for reading batch by batch.

    Batches are decoded one at a time as they are read; from a store, the next ranges are
    already downloading. A stream that replaces a dictionary part-way is the exception: it is
    decoded when opened. A Parquet file is fetched and decoded one row group at a time, in
    batches of up to 65,536 rows. ``memory_map``, ``format`` and ``filters`` are as for
    :func:`read`.
    """
    native = _core.read_file_batches(
        *_read_arguments(uri, columns, storage_options, memory_map, format, filters)
    )
    return _lazy_reader(native)


class Writer:
    """Writes batches one at a time; the file appears only when the writer closes cleanly.

    Used as a context manager, an exception inside the block (KeyboardInterrupt included)
    aborts the write and leaves any previous file or object untouched. Uploads stream their
    parts as batches arrive, so the output may be larger than memory.
    """

    def __init__(
        self,
        uri: PathOrUri,
        schema: Any,
        *,
        compression: Compression | ParquetCompression = "zstd",
        level: int | None = None,
        chunk_rows: int | None = None,
        fsync: bool = False,
        storage_options: dict[str, str] | None = None,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        metadata: Mapping[str, str] | None = None,
        content_hash: bool = False,
        statistics: bool = False,
        format: Format | None = None,
        compat: Compat = "standard",
    ) -> None:
        self._uri = uri
        self._compression = compression
        self._format = format_of(uri, format)
        self._start = time.perf_counter()
        self._native = _core.TableFileWriter(
            os.fspath(uri),
            schema,
            {
                "format": self._format,
                "compression": compression,
                "level": level,
                "chunk_rows": chunk_rows,
                "metadata": _footer_metadata(metadata),
                "content_hash": content_hash,
                "statistics": statistics,
                "compat": compat,
                "fsync": fsync,
                "part_size": part_size,
                "max_concurrency": max_concurrency,
            },
            storage_options,
        )
        self.info: WriteInfo | None = None
        """Set once the writer has closed cleanly."""

    def write(self, data: Any) -> None:
        """Appends a RecordBatch, Table, DataFrame or Arrow stream with the writer's schema."""
        self._native.write(to_arrow_source(data))

    def close(self) -> WriteInfo:
        """Finishes the file and publishes it (rename, or upload completion)."""
        if self.info is None:
            stats = self._native.finish()
            self.info = _write_info(
                self._uri,
                stats,
                time.perf_counter() - self._start,
                self._compression,
                self._format,
            )
        return self.info

    def abort(self) -> None:
        """Discards everything written (aborting an upload); any previous version stays."""
        self._native.abort()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_writer(
    uri: PathOrUri,
    schema: Any,
    *,
    compression: Compression | ParquetCompression = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    fsync: bool = False,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    metadata: Mapping[str, str] | None = None,
    content_hash: bool = False,
    statistics: bool = False,
    format: Format | None = None,
    compat: Compat = "standard",
) -> Writer:
    """Opens a streaming writer for output larger than memory.

    ``schema`` is a ``pyarrow.Schema`` or any object with ``__arrow_c_schema__``. The store,
    footer and format options are ``write``'s; a Parquet writer holds one row group's batches
    (64 MiB by default) before encoding them.
    """
    return Writer(
        uri,
        schema,
        compression=compression,
        level=level,
        chunk_rows=chunk_rows,
        fsync=fsync,
        storage_options=storage_options,
        part_size=part_size,
        max_concurrency=max_concurrency,
        metadata=metadata,
        content_hash=content_hash,
        statistics=statistics,
        format=format,
        compat=compat,
    )


def write_partitions(
    data: Any,
    keys: Sequence[tuple[str, list[str]] | tuple[str, list[int], list[int]]],
    targets: Sequence[tuple[str, list[int], Mapping[str, str] | None]],
    *,
    compression: Compression | ParquetCompression = "zstd",
    level: int | None = None,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    metadata: Mapping[str, str] | None = None,
    content_hash: bool = False,
    statistics: bool = False,
    format: Format = "ipc",
    compat: Compat = "standard",
) -> list[WriteInfo]:
    """Splits ``data`` by its key columns into one file per target, in one streaming pass.

    ``keys`` has one entry per key column: ``(column, partition keys)`` when the column's
    value (as text) is the key, or ``(column, starts, ends)`` for time windows in microseconds
    since the epoch (UTC for zoned timestamps, wall-clock time for dates, zone-less timestamps
    and ISO text). ``targets`` are ``(uri, index in each key's list, footer entries)``. A row
    of no target fails the write before any file is published; a target without rows gets an
    empty file. Each file then appears atomically, in the targets' order. ``format`` is that
    of every file (``"parquet"``: ``compression`` is then a Parquet codec).
    """
    chosen = format_of("", format)
    source = to_arrow_source(data)
    start = time.perf_counter()
    written = _core.write_partitions(
        source,
        [tuple(key) for key in keys],  # type: ignore[misc]
        [(uri, list(indices), _footer_metadata(entries)) for uri, indices, entries in targets],
        {
            "format": chosen,
            "compression": compression,
            "level": level,
            "metadata": _footer_metadata(metadata),
            "content_hash": content_hash,
            "statistics": statistics,
            "compat": compat,
            "part_size": part_size,
            "max_concurrency": max_concurrency,
        },
        storage_options,
    )
    seconds = time.perf_counter() - start
    return [
        _write_info(uri, stats, seconds, compression, chosen)
        for (uri, _, _), stats in zip(targets, written, strict=True)
    ]


def _footer_metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata keys and values must be str, got {key!r}: {value!r}")
    return dict(metadata)


def content_hash(data: Any) -> str | None:
    """The content hash ``write`` stores for ``data``: xxh3-128 over the schema (names, types,
    schema metadata) and the values, independent of batch boundaries, codec and level;
    ``None`` when a column's type cannot be hashed. Columns are hashed in parallel."""
    return _core.content_hash(to_arrow_source(data))


# ---------------------------------------------------------------------------------------------
# Pickles: objects that are not tables, as zstd-compressed pickle bytes.

# zstd level for pickled objects: as fast as the table default.
PICKLE_ZSTD_LEVEL = 1


def write_pickle(
    obj: Any,
    uri: PathOrUri,
    *,
    storage_options: dict[str, str] | None = None,
    part_size: int | None = None,
    max_concurrency: int | None = None,
) -> WriteInfo:
    """Pickles ``obj`` (protocol 5) and stores it zstd-compressed at ``uri``, atomically."""
    start = time.perf_counter()
    try:
        data = pickle.dumps(obj, protocol=5)
    # What pickling raises for a lambda, a lock, a local class or a cycle too deep to walk.
    except (pickle.PicklingError, AttributeError, TypeError, ImportError, RecursionError) as e:
        if isinstance(e, RecursionError):
            # str() of an object too deep to pickle can exceed the recursion limit too.
            described = f"a {type(obj).__qualname__} nested too deeply"
        else:
            described = f"{type(obj).__qualname__} ({e})"
        raise NotPicklableError(f"cannot pickle {described}") from e
    stored_bytes, parts = _core.write_zstd_file(
        os.fspath(uri),
        data,
        PICKLE_ZSTD_LEVEL,
        storage_options=storage_options,
        part_size=part_size,
        max_concurrency=max_concurrency,
    )
    return WriteInfo(
        uri=os.fspath(uri),
        rows=0,
        batches=0,
        raw_bytes=len(data),
        stored_bytes=stored_bytes,
        parts=parts,
        seconds=time.perf_counter() - start,
        compression="zstd",
        format="pickle",
    )


def read_pickle_payload(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> pa.Buffer:
    """The decompressed pickle bytes stored at ``uri``, not unpickled."""
    # The bytes arrive as a uint8 Arrow array over Rust's buffer; its data buffer hands them on
    # through the buffer protocol without another copy.
    return pa.array(_core.read_zstd_file(os.fspath(uri), storage_options)).buffers()[1]


def read_pickle(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> Any:
    """The object stored in a ``.pickle.zst`` file or object."""
    return pickle.loads(read_pickle_payload(uri, storage_options))


# ---------------------------------------------------------------------------------------------
# Locations.


def exists(
    uri: PathOrUri,
    storage_options: dict[str, str] | None = None,
    *,
    tell_missing_bucket: bool = True,
) -> bool:
    """Whether a file or object is stored at ``uri``. A missing bucket is a ``StoreError``;
    ``tell_missing_bucket=False`` answers False instead, in one request less."""
    return _core.object_exists(os.fspath(uri), storage_options, tell_missing_bucket)


def delete_all(uris: Sequence[PathOrUri], storage_options: dict[str, str] | None = None) -> None:
    """Deletes every one of ``uris``; absent ones are not an error. Objects of one store go in
    one batched request where the store has one (S3's DeleteObjects)."""
    _core.delete_objects([os.fspath(uri) for uri in uris], storage_options)


def read_object(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> pa.Buffer:
    """The bytes of the file or object at ``uri`` as they are stored (one version of an
    object); ``FileNotFoundError`` when absent."""
    return pa.array(_core.read_object(os.fspath(uri), storage_options)).buffers()[1] or (
        pa.py_buffer(b"")
    )


@dataclass(frozen=True, slots=True, order=True)
class StoredObject:
    """A file or object found by ``list_objects``."""

    uri: str
    size: int
    modified: float
    """When it was last written, in seconds since the epoch."""


def list_objects(
    uri: PathOrUri, storage_options: dict[str, str] | None = None
) -> list[StoredObject]:
    """Every file below the folder ``uri`` (a local folder, walked, or a store prefix, listed),
    sorted by URI."""
    text = os.fspath(uri)
    if is_remote(text):
        listed = _core.list_objects(text, storage_options)
        return sorted(StoredObject(*entry) for entry in listed)
    found = []
    for folder, _, names in os.walk(text):
        for name in names:
            path = os.path.join(folder, name)
            try:
                status = os.stat(path)
            except FileNotFoundError:  # removed while the folder was walked
                continue
            found.append(StoredObject(path, status.st_size, status.st_mtime))
    return sorted(found)


def stored_size(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> int:
    """Size in bytes of the file or object at ``uri``; ``FileNotFoundError`` when absent."""
    return _core.object_size(os.fspath(uri), storage_options)


def delete(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> None:
    """Deletes the file or object at ``uri``; an absent one is not an error."""
    _core.delete_object(os.fspath(uri), storage_options)


# ---------------------------------------------------------------------------------------------
# describe: what a stored Arrow IPC file or stream holds, from its headers alone.


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """One record batch as stored."""

    rows: int
    stored_bytes: int
    raw_bytes: int
    """Size of its buffers once decompressed."""
    codec: str | None
    """The batch's compression codec; None when uncompressed."""


@dataclass(frozen=True, slots=True)
class IpcSummary:
    """What ``describe`` found: nothing is decoded to learn it."""

    uri: str
    format: str
    """``"file"`` or ``"stream"``."""
    schema: pa.Schema
    stored_bytes: int
    dictionary_batches: int
    batches: tuple[BatchSummary, ...]
    footer_metadata: Mapping[str, str]

    @property
    def rows(self) -> int:
        return sum(batch.rows for batch in self.batches)

    @property
    def raw_bytes(self) -> int:
        return sum(batch.raw_bytes for batch in self.batches)

    @property
    def codecs(self) -> list[str]:
        """The batches' codecs, sorted, ``"none"`` for uncompressed ones (or no batches)."""
        return sorted({batch.codec or "none" for batch in self.batches}) or ["none"]


def _imported_schema(native: object) -> pa.Schema:
    try:
        return pa.schema(native)
    except Exception as error:  # pyarrow raises a bare Exception for what C cannot hold
        # Valid to the core, but no Arrow reader in Python can hold it (a NUL in a field
        # name, for one): the read path says the same.
        raise CorruptFileError(str(error)) from error


def describe(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> IpcSummary:
    """Schema, batches, codecs and sizes of an Arrow IPC file or stream, read from its message
    headers and footer (any writer's)."""
    described = _core.describe(os.fspath(uri), storage_options)
    schema = _imported_schema(described["schema"])
    return IpcSummary(
        uri=os.fspath(uri),
        format=described["format"],
        schema=schema,
        stored_bytes=described["stored_bytes"],
        dictionary_batches=described["dictionary_batches"],
        batches=tuple(
            BatchSummary(rows=rows, stored_bytes=stored, raw_bytes=raw, codec=codec)
            for rows, stored, raw, codec in described["batches"]
        ),
        footer_metadata=dict(described["footer_metadata"]),
    )


# ---------------------------------------------------------------------------------------------
# Footers: what a file records about itself, read without its batches.

ROWS_KEY = "dagster_fastio.rows"
CONTENT_HASH_KEY = "dagster_fastio.content_hash"
COLUMN_STATS_KEY = "dagster_fastio.column_stats"
COMPRESSION_KEY = "dagster_fastio.compression"
COMPAT_KEY = "dagster_fastio.compat"
"""The compat level FastIOManager wrote a table at (see ``write``)."""


@dataclass(frozen=True, slots=True)
class Footer:
    """An Arrow IPC file's footer, or a Parquet file's metadata: its schema and key-value
    pairs."""

    uri: str
    schema: pa.Schema
    metadata: Mapping[str, str]
    batches: int
    """Record batches of an IPC file, row groups of a Parquet file."""
    stored_bytes: int
    format: str = "ipc"
    counted_rows: int | None = None
    """The row count a Parquet file's metadata holds, whoever wrote it."""

    @property
    def rows(self) -> int | None:
        """The row count; None for an IPC file of another writer (its footer has none)."""
        if self.counted_rows is not None:
            return self.counted_rows
        text = self.metadata.get(ROWS_KEY)
        return int(text) if text is not None else None

    @property
    def content_hash(self) -> str | None:
        return self.metadata.get(CONTENT_HASH_KEY)

    @property
    def column_stats(self) -> tuple[ColumnStats, ...]:
        return column_stats_of(self.metadata.get(COLUMN_STATS_KEY))

    @property
    def compression(self) -> str | None:
        return self.metadata.get(COMPRESSION_KEY)


def read_footer(uri: PathOrUri, storage_options: dict[str, str] | None = None) -> Footer:
    """The footer of the Arrow IPC or Parquet file at ``uri`` (told apart by its last bytes),
    in one ranged read on a store (two for a footer over 64 KiB); ``FileNotFoundError`` when
    absent, ``CorruptFileError`` for a stream or a damaged file."""
    found = _core.read_footer(os.fspath(uri), storage_options)
    return Footer(
        uri=os.fspath(uri),
        schema=_imported_schema(found["schema"]),
        metadata=dict(found["metadata"]),
        batches=found["batches"],
        stored_bytes=found["stored_bytes"],
        format=found["format"],
        counted_rows=found["rows"],
    )
