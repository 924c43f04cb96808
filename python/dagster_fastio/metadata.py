"""Moved to dagster_fastio.io_manager.metadata.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.io_manager.metadata import (
    pickle_metadata,
    range_metadata,
    schema_changes,
    storage_kind,
    table_metadata,
)

__all__ = ["pickle_metadata", "range_metadata", "schema_changes", "storage_kind", "table_metadata"]
