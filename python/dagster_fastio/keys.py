"""The keys this package writes and reads by name: a file footer's entries, the schema entry
naming the stored Python type, and the Dagster metadata keys FastIOManager takes and reports.

One home for each, so that a writer and its readers cannot drift apart. No imports.
"""

from __future__ import annotations

__all__ = [
    "ALLOW_MISSING_PARTITIONS_KEY",
    "COLUMNS_KEY",
    "COLUMN_STATS_KEY",
    "COMPAT_KEY",
    "COMPRESSION_KEY",
    "COMPRESSION_METADATA_KEY",
    "CONTENT_HASH_KEY",
    "DATASET_METADATA_KEY",
    "DUCKDB_RESOURCE_METADATA_KEY",
    "FORMAT_METADATA_KEY",
    "PARTITION_COLUMNS_METADATA_KEY",
    "PARTITION_EXPR_KEY",
    "PARTITION_KEY_ENTRY",
    "PARTITION_ROW_COUNT_KEY",
    "PROVENANCE_PREFIX",
    "ROWS_KEY",
    "ROW_COUNT_KEY",
    "TYPE_METADATA_KEY",
    "WRITER_KEY",
]

# ---------------------------------------------------------------------------------------------
# A file's footer (Arrow IPC custom metadata, Parquet key-value metadata). The core writes the
# first four; the names are the core's (rust/fastio-core), read back here.

ROWS_KEY = "dagster_fastio.rows"
CONTENT_HASH_KEY = "dagster_fastio.content_hash"
COLUMN_STATS_KEY = "dagster_fastio.column_stats"
COMPRESSION_KEY = "dagster_fastio.compression"
WRITER_KEY = "dagster_fastio.writer"
"""The writer's name and version."""
COMPAT_KEY = "dagster_fastio.compat"
"""The compat level FastIOManager wrote a table at (see ``write``)."""
PROVENANCE_PREFIX = "dagster/"
"""Footer entries naming the run, asset (or step), partition and code version of a write."""
PARTITION_KEY_ENTRY = "dagster/partition_key"

# The schema's own metadata (bytes, as pyarrow keeps it): the Python type that was stored, so an
# unannotated input gets it back.
TYPE_METADATA_KEY = b"dagster_fastio.python_type"

# ---------------------------------------------------------------------------------------------
# Dagster definition and input metadata that FastIOManager reads.

COMPRESSION_METADATA_KEY = "fastio/compression"
FORMAT_METADATA_KEY = "fastio/format"
PARTITION_EXPR_KEY = "partition_expr"
"""Definition metadata naming the column(s) that hold each row's partition key."""
COLUMNS_KEY = "columns"
ALLOW_MISSING_PARTITIONS_KEY = "allow_missing_partitions"
DATASET_METADATA_KEY = "fastio/dataset"
"""Input metadata: ``True`` turns a ``pl.LazyFrame`` input into a dataset scan with key columns
(a ``pyarrow.dataset.Dataset`` annotation asks for a dataset by itself)."""
PARTITION_COLUMNS_METADATA_KEY = "fastio/partition_columns"
"""Input metadata naming the key columns: a string for a one-dimension partitioning, a
``{dimension: column}`` dict for multi-partitions (dimensions left out keep their own name)."""
DUCKDB_RESOURCE_METADATA_KEY = "fastio/duckdb_resource"
"""Input metadata naming the resource key of the ``DuckDBResource`` whose database a
relation input is opened on, when the asset requires several."""

# ---------------------------------------------------------------------------------------------
# Output metadata that Dagster's own checks read.

ROW_COUNT_KEY = "dagster/row_count"
PARTITION_ROW_COUNT_KEY = "dagster/partition_row_count"
