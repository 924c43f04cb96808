"""One table split by key columns into one file per partition, and the content hash a write
stores."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from dagster_fastio import _native
from dagster_fastio.api.convert import to_arrow_source
from dagster_fastio.api.write_info import WriteInfo, write_info
from dagster_fastio.options import (
    Compat,
    Compression,
    Format,
    ParquetCompression,
    WriteOptions,
    footer_entries,
)
from dagster_fastio.uris import format_of

__all__ = ["content_hash", "write_partitions", "write_partitions_with"]


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
    options = WriteOptions(
        compression=compression,
        level=level,
        part_size=part_size,
        max_concurrency=max_concurrency,
        metadata=metadata,
        content_hash=content_hash,
        statistics=statistics,
        format=chosen,
        compat=compat,
    )
    return _write_partitions(source, keys, targets, options, storage_options)


def write_partitions_with(
    data: Any,
    keys: Sequence[tuple[str, list[str]] | tuple[str, list[int], list[int]]],
    targets: Sequence[tuple[str, list[int], Mapping[str, str] | None]],
    options: WriteOptions,
    storage_options: dict[str, str] | None = None,
) -> list[WriteInfo]:
    """:func:`write_partitions` with its options as one value."""
    return _write_partitions(to_arrow_source(data), keys, targets, options, storage_options)


def _write_partitions(
    source: Any,
    keys: Sequence[tuple[str, list[str]] | tuple[str, list[int], list[int]]],
    targets: Sequence[tuple[str, list[int], Mapping[str, str] | None]],
    options: WriteOptions,
    storage_options: dict[str, str] | None,
) -> list[WriteInfo]:
    native_targets = [
        (uri, list(indices), footer_entries(entries)) for uri, indices, entries in targets
    ]
    start = time.perf_counter()
    written = _native.write_partitions(
        source,
        [tuple(key) for key in keys],
        native_targets,
        options,
        storage_options,
    )
    seconds = time.perf_counter() - start
    return [
        write_info(uri, stats, seconds, options.compression, options.format)
        for (uri, _, _), stats in zip(targets, written, strict=True)
    ]


def content_hash(data: Any) -> str | None:
    """The content hash ``write`` stores for ``data``: xxh3-128 over the schema (names, types,
    schema metadata) and the values, independent of batch boundaries, codec and level;
    ``None`` when a column's type cannot be hashed. Columns are hashed in parallel."""
    return _native.content_hash(to_arrow_source(data))
