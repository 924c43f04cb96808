"""How a table is written: the option values (formats, codecs, compat levels) and
``WriteOptions``, the one value every write takes.

The public functions keep their keyword arguments and build a ``WriteOptions`` once; below them
(``Writer``, the I/O manager's outputs, the native door) the options travel as this one value,
so a new option is one field here plus the keyword where users should see it. Storage options
are not in it: they carry credentials, and a ``WriteOptions`` is shown in reprs and logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "COMPAT_LEVELS",
    "FORMATS",
    "PARQUET_COMPRESSIONS",
    "Compat",
    "Compression",
    "Format",
    "ParquetCompression",
    "TimeUnit",
    "WriteOptions",
    "check_compat",
    "check_format",
    "footer_entries",
]

Compression = Literal["zstd", "lz4", "none"]
ParquetCompression = Literal["zstd", "snappy", "lz4", "gzip", "brotli", "none"]
"""A Parquet file's codecs: ``lz4`` is LZ4_RAW; ``snappy``, ``gzip`` and ``brotli`` for Parquet
only."""
PARQUET_COMPRESSIONS: tuple[str, ...] = ("zstd", "snappy", "lz4", "gzip", "brotli", "none")
Format = Literal["ipc", "parquet"]
TimeUnit = Literal["s", "ms", "us", "ns"]
"""A timestamp unit, as pyarrow names it (``coerce_int96_timestamp_unit``)."""
FORMATS: tuple[str, ...] = ("ipc", "parquet")
"""The table formats: Arrow IPC (``.arrow``) and Parquet (``.parquet``)."""
Compat = Literal["standard", "wide", "none"]
"""Types rewritten for other readers; see the README's "Which readers open what"."""
COMPAT_LEVELS: tuple[str, ...] = ("standard", "wide", "none")


def check_format(format: Any) -> str:
    """``format`` in lower case; ``ValueError`` naming the two formats otherwise."""
    chosen = str(format).lower()
    if chosen not in FORMATS:
        raise ValueError(f"unknown format {format!r}: expected 'ipc' or 'parquet'")
    return chosen


def check_compat(compat: str) -> str:
    """``compat`` in lower case; ``ValueError`` naming the three levels otherwise."""
    if compat.lower() not in COMPAT_LEVELS:
        raise ValueError(f"unknown compat level {compat!r}: expected 'standard', 'wide' or 'none'")
    return compat.lower()


def footer_entries(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    """Footer entries as a new dict; ``TypeError`` unless every key and value is a str."""
    if metadata is None:
        return None
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata keys and values must be str, got {key!r}: {value!r}")
    return dict(metadata)


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """The options of one table write, with the defaults of ``write``."""

    compression: str = "zstd"
    """``zstd``, ``lz4`` or ``none`` (``snappy``, ``gzip``, ``brotli`` too for Parquet); the core
    checks it."""
    level: int | None = None
    """The codec's level: zstd (default 1), Parquet's gzip (0 to 9, default 6) and brotli (0 to
    11, default 1)."""
    chunk_rows: int | None = None
    """Rows per record batch (for Parquet: the cap on a row group's rows)."""
    chunk_bytes: int | None = None
    """Arrow bytes per record batch (default 8 MiB) or Parquet row group (default 64 MiB),
    when ``chunk_rows`` does not set the rows."""
    fsync: bool = False
    """Flush a local file to disk before it is renamed into place."""
    part_size: int | None = None
    """Upload part size in bytes (default 16 MiB, growing past 500 parts)."""
    max_concurrency: int | None = None
    """Upload parts in flight (default 8)."""
    metadata: Mapping[str, str] | None = None
    """Footer entries (str to str), stored beside the core's own."""
    content_hash: bool = False
    """Store the table's content hash in the footer."""
    statistics: bool = False
    """Store each column's null count and bounds in the footer."""
    format: str = "ipc"
    """``ipc`` or ``parquet``, already chosen (see ``uris.format_of``)."""
    compat: str = "standard"
    """Types rewritten for other readers (``standard``, ``wide``, ``none``)."""

    def __post_init__(self) -> None:
        # A copy, so a caller changing its dict later does not change this value.
        object.__setattr__(self, "metadata", footer_entries(self.metadata))

    def native(self) -> dict[str, Any]:
        """The options as the native bindings take them: one entry per field."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
