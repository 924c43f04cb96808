"""Moved to dagster_fastio.stored.duckdb_scan; an input's connection to
dagster_fastio.io_manager.dataset_inputs.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from typing import Any

from dagster_fastio.keys import DUCKDB_RESOURCE_METADATA_KEY
from dagster_fastio.stored.table import StoredTable

__all__ = ["DUCKDB_RESOURCE_METADATA_KEY", "relation"]


def relation(table: StoredTable, con: Any) -> Any:
    """A relation over ``table``'s files on ``con`` (now ``StoredTable.to_duckdb``)."""
    return table.to_duckdb(con)
