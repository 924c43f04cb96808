"""``StoredTable``: a reference to what FastIOManager stored for an asset, handed to an input
annotated ``StoredTable`` instead of the data, so a warehouse (DuckDB here), polars or pyarrow
reads the files itself.

It is the stored files' model (``stored.files``) with the scans over them. A StoredTable holds
no secret: its repr shows URIs, and pickling it carries the URIs, formats and keys but never
the storage options. It is built with the I/O manager's options for use in the step; one
unpickled elsewhere reads with the environment's credentials (``AWS_*``, ..., which the Rust
core and pyarrow read by default), or with options given again through
``with_storage_options``. No Dagster, DuckDB or polars import until a method needs one.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster_fastio.stored.arrow_scan import stored_dataset
from dagster_fastio.stored.duckdb_scan import relation
from dagster_fastio.stored.files import StoredFiles
from dagster_fastio.stored.polars_scan import scan_stored

TYPE_CHECKING = False
if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

__all__ = ["StoredTable"]


class StoredTable(StoredFiles):
    """The table files of an asset (all its partitions that the input maps, or its one file).

    Nothing is read when it is made. ``schema`` and ``row_counts`` read footers only (either
    format, through dagster-fastio's reader); ``dataset()``,
    ``to_duckdb()`` and ``scan_polars()`` return lazy scans that read what a query needs.
    Each partition's key is a string column (``partition_key`` for one dimension, one per
    dimension otherwise), so filtering on it chooses files before any is opened.
    """

    __slots__ = ()

    def dataset(self, columns: Sequence[str] | None = None) -> ds.Dataset:
        """A pyarrow Dataset over the files (local or ``s3://``), each file's partition
        expression being its key values: ``dataset.to_table(filter=ds.field("partition_key")
        == "2024-01-05")`` opens only that file. Arrow IPC and Parquet files together make a
        union of one dataset per format, with the same schema."""
        return stored_dataset(self, self._storage_options, columns)

    def to_duckdb(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over the files on ``con`` (default: a new in-memory connection),
        nothing loaded into Python: local Parquet through DuckDB's ``read_parquet``, the rest
        through a pyarrow dataset that DuckDB pushes projections and filters into."""
        if con is None:
            import duckdb

            con = duckdb.connect()
        return relation(self, self._storage_options, con)

    def scan_polars(self) -> pl.LazyFrame:
        """A polars LazyFrame over the files, with the key columns: Arrow IPC files through
        dagster-fastio's reader (every store), Parquet through a pyarrow dataset scan (local
        or S3); either way a filter on a key column chooses the files."""
        return scan_stored(self, self._storage_options)
