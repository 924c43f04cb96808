"""Moved to dagster_fastio.stored.replaced_pickles.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.stored.replaced_pickles import (
    is_pickle,
    multi_partition_stem,
    op_output_stems,
    read_replaced_pickle,
)

__all__ = ["is_pickle", "multi_partition_stem", "op_output_stems", "read_replaced_pickle"]
