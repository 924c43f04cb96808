"""Moved to dagster_fastio.stored.layout (suffixes: dagster_fastio.uris).

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.stored.layout import Location, _safe_segments
from dagster_fastio.stored.replaced_pickles import make_room_for_partitions
from dagster_fastio.uris import PARQUET_SUFFIX, PICKLE_SUFFIX, TABLE_SUFFIX

__all__ = [
    "PARQUET_SUFFIX",
    "PICKLE_SUFFIX",
    "TABLE_SUFFIX",
    "Location",
    "_safe_segments",
    "make_room_for_partitions",
]
