"""Moved to dagster_fastio.io_manager.components.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.io_manager.components import (
    FastIOManagerComponent,
)

__all__ = ["FastIOManagerComponent"]
