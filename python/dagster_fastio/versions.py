"""Moved to dagster_fastio.io_manager.versions.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.io_manager.versions import (
    data_version,
    stored_data_version,
)

__all__ = ["data_version", "stored_data_version"]
