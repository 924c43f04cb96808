"""Moved to dagster_fastio.io_manager.asset_checks.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.io_manager.asset_checks import (
    PARTITION_ROW_COUNT_KEY,
    ROW_COUNT_KEY,
    checks,
)

__all__ = ["PARTITION_ROW_COUNT_KEY", "ROW_COUNT_KEY", "checks"]
