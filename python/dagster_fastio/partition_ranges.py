"""Moved to dagster_fastio.io_manager.partition_ranges.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.io_manager.partition_ranges import (
    PARTITION_EXPR_KEY,
    SplitPlan,
    plan_split,
)

__all__ = ["PARTITION_EXPR_KEY", "SplitPlan", "plan_split"]
