"""Moved to dagster_fastio.stored.filesystems.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.stored.filesystems import (
    arrow_filesystem,
)

__all__ = ["arrow_filesystem"]
