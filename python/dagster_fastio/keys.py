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
    "HOLDS_KEY",
    "LOAD_BYTES_KEY",
    "LOAD_FILES_KEY",
    "LOAD_FORMAT_KEY",
    "LOAD_LAZY_KEY",
    "LOAD_MB_PER_S_KEY",
    "LOAD_PEAK_MEMORY_MB_KEY",
    "LOAD_ROWS_KEY",
    "LOAD_SECONDS_KEY",
    "LOAD_URI_KEY",
    "MEMORY_METHOD_KEY",
    "NEWEST_PART_KEY",
    "PARTITION_COLUMNS_METADATA_KEY",
    "PARTITION_EXPR_KEY",
    "PARTITION_KEY_ENTRY",
    "PARTITION_ROW_COUNT_KEY",
    "PARTS_HASH_KEY",
    "PROVENANCE_PREFIX",
    "RAW_BYTES_KEY",
    "ROWS_KEY",
    "ROW_COUNT_KEY",
    "SUPERSEDES_KEY",
    "TYPE_METADATA_KEY",
    "WRITER_KEY",
    "WRITE_MB_PER_S_KEY",
    "WRITE_MODE_METADATA_KEY",
    "WRITE_PEAK_MEMORY_MB_KEY",
    "WRITE_RAW_BYTES_KEY",
    "WRITE_SECONDS_KEY",
    "WRITE_STORED_BYTES_KEY",
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
RAW_BYTES_KEY = "dagster_fastio.raw_bytes"
"""The Arrow bytes in memory of a table FastIOManager wrote from memory, which a load's memory
check reads back."""
SUPERSEDES_KEY = "dagster_fastio.supersedes"
"""A compacted part's record: the JSON list of the part names (in its key's parts folder) whose
rows it holds, hidden from every load once it is stored (see ``stored.parts``)."""
HOLDS_KEY = "dagster_fastio.holds"
"""A compacted part's record of the appended part names whose rows it holds (including those
the compacted parts it rewrote held): two compactions that ran at once are told apart by it."""
PARTS_HASH_KEY = "dagster_fastio.parts_hash"
"""A compacted part's record of the key hash of the parts it holds, so that compacting a key
leaves its hash as it was (``stored.parts.key_hash``)."""
NEWEST_PART_KEY = "dagster_fastio.newest_part"
"""A compacted part's newest appended part time (nanoseconds since the epoch), for retention."""
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
WRITE_MODE_METADATA_KEY = "fastio/write_mode"
"""``overwrite`` or ``append``: definition metadata, or output metadata at run time (which wins)."""
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

# ---------------------------------------------------------------------------------------------
# The figures FastIOManager reports on every write (output metadata) and load (input metadata,
# which Dagster also records as an observation of the loaded asset). Numbers, under one prefix,
# so that the UI and Insights plot them per asset; MB are 10^6 bytes. Their names are a
# contract: the ``io_slowdown`` check and ``fastio report`` read them back from the event log.

WRITE_SECONDS_KEY = "dagster_fastio/write_seconds"
"""Seconds the write took (an unchanged output: the seconds its content hash took)."""
WRITE_RAW_BYTES_KEY = "dagster_fastio/write_raw_bytes"
"""Bytes of the table as Arrow data in memory (a pickle: its uncompressed bytes)."""
WRITE_STORED_BYTES_KEY = "dagster_fastio/write_stored_bytes"
WRITE_MB_PER_S_KEY = "dagster_fastio/write_mb_per_s"
"""Raw MB written per second; left out for an unchanged output, which is only hashed."""
WRITE_PEAK_MEMORY_MB_KEY = "dagster_fastio/write_peak_memory_mb"
"""The process's peak resident memory during the output's handling minus before it."""
LOAD_SECONDS_KEY = "dagster_fastio/load_seconds"
LOAD_BYTES_KEY = "dagster_fastio/load_bytes"
"""Stored bytes of the files the load opened (whole files: a column projection reads less)."""
LOAD_ROWS_KEY = "dagster_fastio/load_rows"
"""Rows of the loaded value, when it is an eager table (lazy inputs read nothing yet)."""
LOAD_MB_PER_S_KEY = "dagster_fastio/load_mb_per_s"
"""Stored MB loaded per second."""
LOAD_PEAK_MEMORY_MB_KEY = "dagster_fastio/load_peak_memory_mb"
"""The process's peak resident memory during the load minus before it: the loaded value
included, since it is what the load left the step holding."""
LOAD_FILES_KEY = "dagster_fastio/load_files"
LOAD_FORMAT_KEY = "dagster_fastio/load_format"
"""``ipc``, ``parquet``, ``pickle`` or ``replaced_pickle`` (several: comma-separated)."""
LOAD_LAZY_KEY = "dagster_fastio/load_lazy"
"""True for a lazy input (``pl.LazyFrame``, a reader, a dataset, a reference): nothing is read
until it is consumed, so no bytes, rows or speed are reported."""
LOAD_URI_KEY = "dagster_fastio/load_uri"
"""The file the load read; for several, the folder holding them."""
MEMORY_METHOD_KEY = "dagster_fastio/memory_method"
"""How the peak memory figures were measured: ``vmhwm`` or ``ru_maxrss_rise`` (a lower bound);
see ``dagster_fastio.api.peak_memory``."""
