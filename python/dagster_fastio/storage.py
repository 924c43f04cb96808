"""Moved to dagster_fastio.stored.storage.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.stored.storage import Storage
from dagster_fastio.stored.target import TableTarget

# Renamed: it is where one table output goes, not a sink.
TableSink = TableTarget

__all__ = ["Storage", "TableSink", "TableTarget"]
