"""The standalone API: ``encode`` / ``decode`` / ``write`` / ``read`` / ``read_batches`` /
``open_writer``, plus partitions, pickles, ``describe``, footers and the object operations. No
Dagster needed.

One module per job; this package hands on their names (and the vocabulary's that this module
exported before it became a package), so ``from dagster_fastio import api`` and ``api.read``
keep working.
"""

from __future__ import annotations

from dagster_fastio._native import __version__
from dagster_fastio.api.codecs import COMPRESSIONS, check_compression
from dagster_fastio.api.describe import BatchSummary, IpcSummary, describe
from dagster_fastio.api.footers import Footer, read_footer
from dagster_fastio.api.objects import (
    StoredObject,
    delete,
    delete_all,
    exists,
    list_objects,
    read_object,
    stored_size,
)
from dagster_fastio.api.partitions import content_hash, write_partitions, write_partitions_with
from dagster_fastio.api.pickles import (
    PICKLE_ZSTD_LEVEL,
    read_pickle,
    read_pickle_payload,
    write_pickle,
    write_pickle_payload,
)
from dagster_fastio.api.tables import (
    Filter,
    decode,
    encode,
    read,
    read_batches,
    write,
    write_with,
)
from dagster_fastio.api.write_info import ColumnStats, WriteInfo, column_stats_of
from dagster_fastio.api.writer import Writer, open_writer
from dagster_fastio.keys import (
    COLUMN_STATS_KEY,
    COMPAT_KEY,
    COMPRESSION_KEY,
    CONTENT_HASH_KEY,
    ROWS_KEY,
)
from dagster_fastio.options import (
    COMPAT_LEVELS,
    FORMATS,
    PARQUET_COMPRESSIONS,
    Compat,
    Compression,
    Format,
    ParquetCompression,
    WriteOptions,
)
from dagster_fastio.uris import PathOrUri, format_of, is_remote

__all__ = [
    "COLUMN_STATS_KEY",
    "COMPAT_KEY",
    "COMPAT_LEVELS",
    "COMPRESSIONS",
    "COMPRESSION_KEY",
    "CONTENT_HASH_KEY",
    "FORMATS",
    "PARQUET_COMPRESSIONS",
    "PICKLE_ZSTD_LEVEL",
    "ROWS_KEY",
    "BatchSummary",
    "ColumnStats",
    "Compat",
    "Compression",
    "Filter",
    "Footer",
    "Format",
    "IpcSummary",
    "ParquetCompression",
    "PathOrUri",
    "StoredObject",
    "WriteInfo",
    "WriteOptions",
    "Writer",
    "__version__",
    "check_compression",
    "column_stats_of",
    "content_hash",
    "decode",
    "delete",
    "delete_all",
    "describe",
    "encode",
    "exists",
    "format_of",
    "is_remote",
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
    "write_partitions_with",
    "write_pickle",
    "write_pickle_payload",
    "write_with",
]
