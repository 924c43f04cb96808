"""Moved to dagster_fastio.stored (files, polars_scan, arrow_scan); its input hooks to
dagster_fastio.io_manager.dataset_inputs.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster_fastio.keys import DATASET_METADATA_KEY, PARTITION_COLUMNS_METADATA_KEY
from dagster_fastio.stored import arrow_scan, polars_scan
from dagster_fastio.stored.files import DEFAULT_PARTITION_COLUMN, key_column_names
from dagster_fastio.stored.files import StoredFiles as StoredPartitions
from dagster_fastio.stored.polars_scan import chosen_files
from dagster_fastio.stored.storage import Storage

__all__ = [
    "DATASET_METADATA_KEY",
    "DEFAULT_PARTITION_COLUMN",
    "PARTITION_COLUMNS_METADATA_KEY",
    "StoredPartitions",
    "arrow_dataset",
    "chosen_files",
    "key_column_names",
    "scan_partitions",
]


# The scans now take the storage's reads rather than the storage.
def scan_partitions(
    parts: StoredPartitions, storage: Storage, columns: Sequence[str] | None = None, **kw: Any
) -> Any:
    return polars_scan.scan_partitions(parts, storage.reads, columns, **kw)


def arrow_dataset(
    parts: StoredPartitions, storage: Storage, columns: Sequence[str] | None = None, **kw: Any
) -> Any:
    return arrow_scan.input_dataset(parts, storage.reads, columns, **kw)
