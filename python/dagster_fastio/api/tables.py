"""Tables in and out: ``encode`` / ``decode`` in memory, ``write`` / ``read`` /
``read_batches`` at a path or store URI."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from dagster_fastio import _native
from dagster_fastio.api.convert import to_arrow_source
from dagster_fastio.api.write_info import WriteInfo, write_info
from dagster_fastio.options import (
    Compat,
    Compression,
    Format,
    ParquetCompression,
    TimeUnit,
    WriteOptions,
)
from dagster_fastio.uris import PathOrUri, format_of

__all__ = [
    "Filter",
    "decode",
    "encode",
    "fill_columns",
    "read",
    "read_batches",
    "write",
    "write_with",
]

Filter = tuple[str, str, Any]
"""``(column, operator, value)``, the operator one of ``== != < <= > >=``."""


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
    coerce_int96_timestamp_unit: str | None,
) -> tuple[Any, ...]:
    """The native read functions' arguments, in their order."""
    return (
        os.fspath(uri),
        _column_list(columns),
        storage_options,
        memory_map,
        format_of(uri, format),
        _native_filters(filters),
        coerce_int96_timestamp_unit,
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
    source = to_arrow_source(data)
    options = WriteOptions(
        compression=compression,
        level=level,
        chunk_rows=chunk_rows,
        metadata=metadata,
        content_hash=content_hash,
        statistics=statistics,
        compat=compat,
    )
    array, _ = _native.encode(source, options)
    return pa.array(array).buffers()[1]


def decode(data: Any, columns: Sequence[str] | None = None) -> pa.Table:
    """Decodes an Arrow IPC file or stream held in any bytes-like object.

    Uncompressed data is not copied: the table's columns point into ``data``.
    """
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    array = pa.Array.from_buffers(pa.uint8(), buffer.size, [None, buffer])
    return _native.decode(array, _column_list(columns))


def write(
    data: Any,
    uri: PathOrUri,
    *,
    compression: Compression | ParquetCompression = "zstd",
    level: int | None = None,
    chunk_rows: int | None = None,
    chunk_bytes: int | None = None,
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
    ``compression`` is then ``zstd`` (default, level 1), ``snappy``, ``lz4`` (LZ4_RAW), ``gzip``
    (level 0 to 9, default 6; for readers that know no newer codec), ``brotli`` (level 0 to 11,
    default 1) or ``none``, ``chunk_rows`` caps the rows of a row group (row groups are
    otherwise cut at 64 MiB of Arrow data), and ``statistics`` is moot: Parquet keeps its own.
    ``chunk_bytes`` sets the Arrow bytes of a batch (default 8 MiB) or of a row group
    (default 64 MiB) when ``chunk_rows`` is not given.

    ``compat`` rewrites types other readers cannot open (README, "Which readers open what"):
    ``"standard"`` (default) stores list views as lists, run-end encoded columns as their
    values and 256-bit decimals of precision up to 38 as 128-bit ones, which is lossless and
    costs nothing for tables without them; ``"wide"`` also stores string and binary views as
    large strings and binaries and half floats as floats, for pyarrow before 16, pandas and
    DuckDB; ``"none"`` stores every type as it arrived.
    """
    chosen = format_of(uri, format)
    source = to_arrow_source(data)
    options = WriteOptions(
        compression=compression,
        level=level,
        chunk_rows=chunk_rows,
        chunk_bytes=chunk_bytes,
        fsync=fsync,
        part_size=part_size,
        max_concurrency=max_concurrency,
        metadata=metadata,
        content_hash=content_hash,
        statistics=statistics,
        format=chosen,
        compat=compat,
    )
    return _write_source(source, uri, options, storage_options)


def write_with(
    data: Any,
    uri: PathOrUri,
    options: WriteOptions,
    storage_options: dict[str, str] | None = None,
) -> WriteInfo:
    """:func:`write` with its options as one value (``options.format`` already chosen)."""
    return _write_source(to_arrow_source(data), uri, options, storage_options)


def _write_source(
    source: Any, uri: PathOrUri, options: WriteOptions, storage_options: dict[str, str] | None
) -> WriteInfo:
    start = time.perf_counter()
    stats = _native.write_file(source, os.fspath(uri), options, storage_options)
    seconds = time.perf_counter() - start
    return write_info(uri, stats, seconds, options.compression, options.format)


def read(
    uri: PathOrUri,
    columns: Sequence[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    *,
    format: Format | None = None,
    filters: Sequence[Filter] | None = None,
    coerce_int96_timestamp_unit: TimeUnit | None = None,
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

    ``coerce_int96_timestamp_unit`` (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``, as pyarrow's
    setting) reads a Parquet file's INT96 timestamps (Spark's, Hive's, Impala's) at that unit;
    by default they are read at the unit the file's Arrow schema gives, else at nanoseconds. A
    value the unit cannot hold (nanoseconds hold the years 1677 to 2262) raises
    ``UnsupportedFileError`` naming the setting, never a different date.
    """
    return _native.read_file(
        *_read_arguments(
            uri, columns, storage_options, memory_map, format, filters, coerce_int96_timestamp_unit
        )
    )


def fill_columns(
    uri: str, columns: list[str], widths: list[int], rows: int
) -> tuple[list[bytearray], list[tuple[int, int, int, bytes]]]:
    """Fixed-width number columns (``widths`` bytes each) of the local Arrow IPC file at
    ``uri``, which holds ``rows``, decoded straight into one new bytearray per column (views of
    them are NumPy arrays a frame can keep, writable); and for each batch holding nulls
    ``(column, first row, rows, validity bitmap)``, the bitmap's bit clear for a null."""
    return _native.fill_columns(uri, columns, widths, rows)


def read_batches(
    uri: PathOrUri,
    columns: Sequence[str] | None = None,
    storage_options: dict[str, str] | None = None,
    memory_map: bool = False,
    *,
    format: Format | None = None,
    filters: Sequence[Filter] | None = None,
    coerce_int96_timestamp_unit: TimeUnit | None = None,
) -> pa.RecordBatchReader:
    """Opens an Arrow IPC file or stream (or a Parquet file) for reading batch by batch.

    Batches are decoded one at a time as they are read; from a store, the next ranges are
    already downloading. A stream that replaces a dictionary part-way is the exception: it is
    decoded when opened. A Parquet file is fetched and decoded one row group at a time, in
    batches of up to 65,536 rows. ``memory_map``, ``format``, ``filters`` and
    ``coerce_int96_timestamp_unit`` are as for :func:`read` (an INT96 value out of range is
    raised by the batch holding it).
    """
    return _native.read_file_batches(
        *_read_arguments(
            uri, columns, storage_options, memory_map, format, filters, coerce_int96_timestamp_unit
        )
    )
