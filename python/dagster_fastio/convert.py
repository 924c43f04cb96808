"""Moved to dagster_fastio.api.convert.

This module keeps the old import path for one release.
"""

from __future__ import annotations

from dagster_fastio.api.convert import (
    polars_to_arrow,
    to_arrow_source,
)

__all__ = ["polars_to_arrow", "to_arrow_source"]
