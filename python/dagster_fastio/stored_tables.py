"""Moved to dagster_fastio.stored (table, files); the finder is Storage.stored_table.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.options import FORMATS
from dagster_fastio.stored.files import StoredFile
from dagster_fastio.stored.table import StoredTable

__all__ = ["FORMATS", "StoredFile", "StoredTable"]
